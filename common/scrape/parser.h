#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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

/// Turns a scraped series (its name and labels as exposed) into the labels
/// the sample carries (adding job/instance, honoring labels). Called only
/// when a series text is seen for the first time: its result is cached.
using SeriesLabeler = std::function<Labels(const Symbol& name, LabelsBuilder& scraped)>;

struct ParserOptions {
  std::size_t max_line_bytes = 1 << 20;  // one line, bytes; longer: error
  std::size_t max_labels = 512;          // labels per series; more: error
  std::size_t max_samples = 0;           // per scrape; 0 = unlimited; more: error
  bool metadata = true;                  // fill SampleBatch::metadata from HELP/TYPE/UNIT
  bool stale_markers = true;             // append staleness markers (see TextParser)
};

/// Statistics of one parse.
struct ParseStats {
  std::size_t samples = 0;        // samples appended
  std::size_t lines = 0;          // lines read
  std::size_t new_series = 0;     // series texts not in the cache (first seen this scrape)
  std::size_t stale_markers = 0;  // staleness markers appended (finish() or abandon())
};

/// A streaming parser for the Prometheus text format 0.0.4 and OpenMetrics
/// 1.0 text. Bytes go in as they arrive (feed()), complete lines are parsed
/// in place, and only a partial last line is carried over between chunks;
/// the body is never copied whole. Samples are appended to the batch given
/// to begin(). Histograms and summaries come out as the series they are
/// written as (x_bucket{le=..}, x_sum, x_count, x{quantile=..}); exemplars
/// are parsed and dropped.
///
/// The parser keeps, across scrapes, a cache from each series' raw text
/// (`name{labels}`, stored as a 128-bit hash of it) to its interned name and
/// final labels, so a steady target costs no allocation per sample: each
/// line is a hash lookup plus a number parse. A series absent from two
/// scrapes in a row leaves the cache when the second one ends.
///
/// Staleness, as Prometheus does it (the scrape loop's seriesPrev/seriesCur):
/// a scrape ends with finish() (success: its samples are kept) or abandon()
/// (failure: the caller dropped its samples). Either appends to the batch a
/// staleness marker (kStaleNaN, same name and final labels, stamped with the
/// scrape's default timestamp) for each series the previous ended scrape
/// kept and this one does not: after a success the series that vanished,
/// after a failure every series of the previous scrape. Each vanished
/// series is marked once; one that comes back is an ordinary series again.
/// Markers come in the order of the series' first samples in the last scrape
/// that kept them (similar series stay together, as they compress better).
/// A series exposed with its own timestamp gets no marker (Prometheus
/// tracks staleness only for series stamped at scrape time). The state is
/// two bits in the cache entry; a steady scrape (same series as the
/// previous one) costs no pass over the cache.
///
/// Errors name the line number ("line 12: ..."); the first error ends the
/// parse (Prometheus fails a scrape on any malformed line).
///
/// Not thread-safe: one instance per target, used by its scrape thread.
class TextParser {
 public:
  explicit TextParser(ParserOptions options = {}, SeriesLabeler labeler = {});
  ~TextParser();
  TextParser(const TextParser&) = delete;
  TextParser& operator=(const TextParser&) = delete;

  /// Starts a scrape: samples go to `out` (which must outlive finish()),
  /// stamped `default_timestamp_ms` unless the line has its own.
  void begin(ExpositionFormat format, SampleBatch* out, std::int64_t default_timestamp_ms);
  /// Parses every complete line in `chunk`, carrying the rest over.
  Result<void> feed(std::string_view chunk);
  /// Parses the last line and checks end-of-body rules. `format` resolves
  /// kAuto (pass the Content-Type's format); ignored otherwise. On success
  /// the scrape is kept: appends the staleness markers of the series that
  /// vanished since the previous scrape. On error nothing is appended; call
  /// abandon() if the scrape's samples are dropped.
  Result<void> finish(ExpositionFormat format = ExpositionFormat::kAuto);
  /// Ends a failed scrape whose samples the caller removed from the batch:
  /// appends a staleness marker for every series of the previous scrape
  /// that was kept (none if it failed too) to the batch given to begin(),
  /// which must still be alive. A scrape left neither finished nor
  /// abandoned (begin() again) changes nothing for staleness.
  void abandon();

  const ParseStats& stats() const { return stats_; }
  /// Series texts currently cached (a bound for tests and self-metrics).
  std::size_t cachedSeries() const;
  /// Drops the cache (when the labeler's inputs change); call between
  /// scrapes. The name and final labels of each series of the previous
  /// scrape are kept until the next scrape ends: those whose series does not
  /// come back with the very same labels get their staleness marker then
  /// (a change of the labeler's output makes every series a new one).
  void clearCache();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  ParseStats stats_;
};

/// Parses a whole body in one go (tests, fuzzing, tools): begin + feed +
/// finish.
Result<ParseStats> parseText(std::string_view body, ExpositionFormat format, SampleBatch& out,
                             std::int64_t default_timestamp_ms = 0);

/// Parses a Prometheus/OpenMetrics float: decimal with optional sign and
/// exponent, or Inf/Infinity/NaN in any case (with a sign for Inf). No hex,
/// no underscores: both grammars reject them.
bool parseFloat(std::string_view text, double* out);

}  // namespace kubemetrics::scrape
