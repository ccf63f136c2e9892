// libFuzzer target for the Prometheus text / OpenMetrics parser: every input
// is parsed whole under each grammar and again in two chunks, through one
// long-lived parser so the series cache and staleness are exercised across
// "scrapes" (failed ones abandoned). Any crash, sanitizer report or
// disagreement between whole and chunked parsing is a bug, and so is a
// staleness marker in the chunked parse: it has the series of the whole one.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/scrape/target_parser.h"

using kubemetrics::Sample;
using kubemetrics::SampleBatch;
using kubemetrics::scrape::ExpositionFormat;
using kubemetrics::scrape::ParserOptions;
using kubemetrics::scrape::TargetParser;

namespace {

std::size_t scrapedSamples(const SampleBatch& batch) {
  std::size_t n = 0;
  for (const Sample& s : batch.samples) n += !kubemetrics::isStaleMarker(s.value);
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static TargetParser* parsers[3] = {
      new TargetParser(
          ParserOptions{.max_line_bytes = 4096, .max_labels = 64, .max_samples = 10000}),
      new TargetParser(
          ParserOptions{.max_line_bytes = 4096, .max_labels = 64, .max_samples = 10000}),
      new TargetParser(
          ParserOptions{.max_line_bytes = 4096, .max_labels = 64, .max_samples = 10000}),
  };
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const ExpositionFormat formats[3] = {ExpositionFormat::kText, ExpositionFormat::kOpenMetrics,
                                       ExpositionFormat::kAuto};
  for (int i = 0; i < 3; ++i) {
    SampleBatch whole;
    TargetParser& parser = *parsers[i];
    parser.begin(formats[i], &whole, 0);
    bool ok = static_cast<bool>(parser.feed(body));
    ok = ok && static_cast<bool>(parser.finish(ExpositionFormat::kOpenMetrics));
    if (!ok) parser.abandon();
    const std::size_t split = size == 0 ? 0 : data[0] % (size + 1);
    SampleBatch chunked;
    parser.begin(formats[i], &chunked, 0);
    bool ok2 = static_cast<bool>(parser.feed(body.substr(0, split)));
    ok2 = ok2 && static_cast<bool>(parser.feed(body.substr(split)));
    ok2 = ok2 && static_cast<bool>(parser.finish(ExpositionFormat::kOpenMetrics));
    if (!ok2) parser.abandon();
    if (ok != ok2 || (ok && scrapedSamples(whole) != scrapedSamples(chunked))) std::abort();
    if (ok && parser.stats().stale_markers != 0) std::abort();
  }
  return 0;
}
