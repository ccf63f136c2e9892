#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "kubemetrics/labels.h"
#include "kubemetrics/result.h"
#include "kubemetrics/sample.h"
#include "kubemetrics/symbol.h"

namespace kubemetrics::scrape {

/// Which exposition grammar a body is in.
enum class ExpositionFormat : std::uint8_t {
  kText,         // Prometheus text format 0.0.4 (text/plain; version=0.0.4)
  kOpenMetrics,  // OpenMetrics 1.0 text (application/openmetrics-text), strict rules
  // Not known while the body streams in (the HTTP client hands chunks
  // before the caller sees the Content-Type): parsed with the text grammar,
  // accepting float timestamps; finish(format) then applies the format's
  // timestamp unit and `# EOF` rule. OpenMetrics-only semantic checks are
  // skipped in this mode.
  kAuto,
};

/// The format a Content-Type header names: OpenMetrics for
/// application/openmetrics-text, text otherwise (as Prometheus does).
ExpositionFormat formatFromContentType(std::string_view content_type);

struct ParserOptions {
  std::size_t max_line_bytes = 1 << 20;  // one line, bytes; longer: error
  std::size_t max_labels = 512;          // labels per series; more: error
  std::size_t max_samples = 0;           // per scrape; 0 = unlimited; more: error
  bool metadata = true;                  // fill SampleBatch::metadata from HELP/TYPE/UNIT
};

/// Statistics of one body's parse.
struct TextParseStats {
  std::size_t samples = 0;  // samples appended
  std::size_t lines = 0;    // lines read
};

/// What the grammar reads from a series text (`name{labels}` as exposed)
/// and needs again at each of its samples: its name, the facts of its
/// labels that the histogram and summary rules check, its histogram group,
/// and the labels its samples carry. Worked out once, the first time a
/// SeriesResolver does not know the text, so a series seen before costs no
/// label parsing. Immutable once the resolver stores it.
struct SeriesInfo {
  Symbol name;  // as exposed
  bool has_le : 1 = false;
  bool le_valid : 1 = false;  // le parses as a float (OpenMetrics: canonical +Inf)
  bool has_quantile : 1 = false;
  bool quantile_valid : 1 = false;  // a float in [0, 1]
  // OpenMetrics: has a label named like the series (a stateset's state label).
  bool labelled_by_name : 1 = false;
  Labels labels;  // of its samples: set by the resolver (e.g. after adding job and instance)
  Labels group;   // OpenMetrics: as scraped without `le` (histogram grouping)
  double le = 0;
};

/// Maps the series text of each sample line to its SeriesInfo: the memory
/// a TextParser keeps none of. SeriesCache keeps them between scrapes and
/// tracks staleness. Called by the parser on its thread, between begin()
/// and the end of finish(); the SeriesInfo it returns must stay valid (and
/// at the same address: the parser tells series apart by it) until then.
class SeriesResolver {
 public:
  virtual ~SeriesResolver() = default;
  /// The series of a sample line, by its text `name{labels}` (exactly as
  /// written, up to the value); null when not known. Then the parser reads
  /// the labels and calls add(), or fails the line.
  virtual const SeriesInfo* find(std::string_view series_text) = 0;
  /// Stores the series the last find() did not know: `info` as the grammar
  /// read it (all but `labels`), `scraped` its labels as exposed (the
  /// resolver may change the builder while making `labels` from it).
  virtual const SeriesInfo* add(SeriesInfo&& info, LabelsBuilder& scraped) = 0;
  /// A sample of `series` passed every check and is being appended;
  /// `own_timestamp`: it has a timestamp of its own.
  virtual void accepted(const SeriesInfo& series, bool own_timestamp) = 0;
};

/// A streaming parser for the Prometheus text format 0.0.4 and OpenMetrics
/// 1.0 text: grammar only. Bytes go in as they arrive (feed()), complete
/// lines are parsed in place, and only a partial last line is carried over
/// between chunks; the body is never copied whole. Samples are appended to
/// the batch given to begin(), named and labelled by the SeriesResolver
/// given there; HELP, TYPE and UNIT become the batch's metadata.
/// Histograms and summaries come out as the series they are written as
/// (x_bucket{le=..}, x_sum, x_count, x{quantile=..}); exemplars are parsed
/// and dropped.
///
/// Nothing outlives a body: begin() starts afresh (the buffers are kept
/// only to save their allocations). What a target keeps between scrapes,
/// the series cache and staleness, belongs to the resolver; TargetParser
/// puts the two together.
///
/// Errors name the line number ("line 12: ..."); the first error ends the
/// parse (Prometheus fails a scrape on any malformed line).
///
/// Not thread-safe: used by one scrape thread at a time.
class TextParser {
 public:
  explicit TextParser(ParserOptions options = {});
  ~TextParser();
  TextParser(const TextParser&) = delete;
  TextParser& operator=(const TextParser&) = delete;

  /// Starts a body: samples go to `out` (which must outlive finish()),
  /// stamped `default_timestamp_ms` unless the line has its own, with the
  /// names and labels `series` gives (which must outlive finish()).
  void begin(ExpositionFormat format, SampleBatch* out, std::int64_t default_timestamp_ms,
             SeriesResolver& series);
  /// Parses every complete line in `chunk`, carrying the rest over.
  Result<void> feed(std::string_view chunk);
  /// Parses the last line and checks end-of-body rules. `format` resolves
  /// kAuto (pass the Content-Type's format); ignored otherwise.
  Result<void> finish(ExpositionFormat format = ExpositionFormat::kAuto);

  const TextParseStats& stats() const { return stats_; }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  TextParseStats stats_;
};

/// Parses a Prometheus/OpenMetrics float: decimal with optional sign and
/// exponent, or Inf/Infinity/NaN in any case (with a sign for Inf). No hex,
/// no underscores: both grammars reject them.
bool parseFloat(std::string_view text, double* out);

}  // namespace kubemetrics::scrape
