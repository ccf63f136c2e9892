#include "common/scrape/target_parser.h"

#include <utility>

namespace kubemetrics::scrape {

TargetParser::TargetParser(ParserOptions options, SeriesLabeler labeler,
                           SeriesCacheOptions cache_options)
    : parser_(options), cache_(std::move(labeler), cache_options) {}

void TargetParser::begin(ExpositionFormat format, SampleBatch* out,
                         std::int64_t default_timestamp_ms) {
  cache_.beginScrape(format, out, default_timestamp_ms);
  parser_.begin(format, out, default_timestamp_ms, cache_);
  if (out != nullptr && last_samples_ > 0)
    out->samples.reserve(out->samples.size() + last_samples_);
}

Result<void> TargetParser::finish(ExpositionFormat format) {
  if (auto r = parser_.finish(format); !r) return r;
  last_samples_ = parser_.stats().samples;
  cache_.endScrape(/*kept=*/true);
  return {};
}

ParseStats TargetParser::stats() const {
  const TextParseStats& parse = parser_.stats();
  const SeriesCacheStats& cache = cache_.stats();
  return ParseStats{.samples = parse.samples,
                    .lines = parse.lines,
                    .new_series = cache.new_series,
                    .stale_markers = cache.stale_markers};
}

Result<ParseStats> parseText(std::string_view body, ExpositionFormat format, SampleBatch& out,
                             std::int64_t default_timestamp_ms) {
  TargetParser parser;
  parser.begin(format, &out, default_timestamp_ms);
  if (auto r = parser.feed(body); !r) return tl::unexpected(r.error());
  if (auto r = parser.finish(format); !r) return tl::unexpected(r.error());
  return parser.stats();
}

}  // namespace kubemetrics::scrape
