#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/scrape/parser.h"
#include "common/scrape/series_cache.h"
#include "kubemetrics/result.h"
#include "kubemetrics/sample.h"

namespace kubemetrics::scrape {

/// Statistics of one scrape's parse.
struct ParseStats {
  std::size_t samples = 0;        // samples appended
  std::size_t lines = 0;          // lines read
  std::size_t new_series = 0;     // series texts not in the cache (first seen this scrape)
  std::size_t stale_markers = 0;  // staleness markers appended (finish() or abandon())
};

/// Parses the successive scrapes of one target: each body through a
/// TextParser (the grammar, which forgets it afterwards) whose series are
/// resolved in the target's SeriesCache (the series and their staleness,
/// kept between scrapes). It only puts the two in order: begin() starts
/// both, finish() ends the cache's scrape once the body parsed, abandon()
/// ends it when the scrape failed. See SeriesCache for the series cache and
/// the staleness markers, TextParser for the grammar.
///
/// Owns its parser and cache. Not thread-safe: one instance per target,
/// used by its scrape thread.
class TargetParser {
 public:
  explicit TargetParser(ParserOptions options = {}, SeriesLabeler labeler = {},
                        SeriesCacheOptions cache_options = {});
  TargetParser(const TargetParser&) = delete;
  TargetParser& operator=(const TargetParser&) = delete;

  /// Starts a scrape: samples go to `out` (which must outlive finish() or
  /// abandon()), stamped `default_timestamp_ms` unless the line has its own.
  void begin(ExpositionFormat format, SampleBatch* out, std::int64_t default_timestamp_ms);
  /// Parses every complete line in `chunk`, carrying the rest over.
  Result<void> feed(std::string_view chunk) { return parser_.feed(chunk); }
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
  void abandon() { cache_.endScrape(/*kept=*/false); }

  /// Of the current (or last) scrape.
  ParseStats stats() const;
  /// Series texts currently cached (a bound for tests and self-metrics).
  std::size_t cachedSeries() const { return cache_.size(); }
  /// Drops the cache (when the labeler's inputs change); call between
  /// scrapes. See SeriesCache::clear() for the staleness markers still owed.
  void clearCache() { cache_.clear(); }

 private:
  TextParser parser_;
  SeriesCache cache_;
  // Samples of the last finished scrape: the next batch reserves room for
  // as many, so a steady scrape does not grow its vector step by step.
  std::size_t last_samples_ = 0;
};

/// Parses a whole body in one go (tests, fuzzing, tools): begin + feed +
/// finish on a new TargetParser.
Result<ParseStats> parseText(std::string_view body, ExpositionFormat format, SampleBatch& out,
                             std::int64_t default_timestamp_ms = 0);

}  // namespace kubemetrics::scrape
