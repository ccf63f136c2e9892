// libFuzzer target for the Wavefront line parser (scrapers/listeners): the
// input is split into lines as the listener splits a stream, and each line
// is parsed by long-lived parsers (scratch reused across lines) in strict
// and lenient mode, twice in a row. Any crash or sanitizer report is a bug,
// and so is a point that breaks the parser's promises (empty or invalid
// UTF-8 texts, non-finite value) or a second verdict different from the
// first (state leaking from one line to the next).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/text/utf8.h"
#include "kubemetrics/labels.h"
#include "scrapers/listeners/wavefront_line_parser.h"

using kubemetrics::Label;
using kubemetrics::Sample;
using kubemetrics::scrapers::listeners::LineLimits;
using kubemetrics::scrapers::listeners::LineRejection;
using kubemetrics::scrapers::listeners::LineResult;
using kubemetrics::scrapers::listeners::WavefrontLineParser;

namespace {

LineLimits limitsFor(bool strict) {
  LineLimits limits;
  limits.max_line_bytes = 4096;
  limits.strict_charset = strict;
  return limits;
}

void checkPoint(const Sample& s, bool strict) {
  namespace text = kubemetrics::text;
  if (s.name.empty() || !text::isValidUtf8(s.name.view())) std::abort();
  if (!std::isfinite(s.value)) std::abort();
  for (const Label& l : s.labels) {
    if (l.name.empty() || l.value.empty()) std::abort();
    if (!text::isValidUtf8(l.name.view()) || !text::isValidUtf8(l.value.view())) std::abort();
  }
  // Strict mode: only a delta prefix (U+2206, U+0394) may be non-ASCII.
  std::string_view name = s.name.view();
  if (name.starts_with("\xE2\x88\x86")) {
    name.remove_prefix(3);
  } else if (name.starts_with("\xCE\x94")) {
    name.remove_prefix(2);
  }
  if (strict && !text::isAscii(name)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static WavefrontLineParser* parsers[2] = {new WavefrontLineParser(limitsFor(true)),
                                            new WavefrontLineParser(limitsFor(false))};
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::size_t begin = 0;
  while (begin <= body.size()) {
    std::size_t end = body.find('\n', begin);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view line = body.substr(begin, end - begin);
    for (int mode = 0; mode < 2; ++mode) {
      const bool strict = mode == 0;
      Sample sample;
      LineRejection why{};
      const LineResult result = parsers[mode]->parse(line, 1'700'000'000'000, "fuzz", sample, &why);
      if (result == LineResult::kPoint) checkPoint(sample, strict);
      // Again right after itself rather than after the previous line: the
      // verdict must not depend on what the parser saw before.
      Sample again;
      LineRejection why_again{};
      const LineResult result_again =
          parsers[mode]->parse(line, 1'700'000'000'000, "fuzz", again, &why_again);
      if (result_again != result) std::abort();
      if (result == LineResult::kRejected && why != why_again) std::abort();
      if (result == LineResult::kPoint &&
          (again.name != sample.name || again.labels != sample.labels ||
           again.timestamp_ms != sample.timestamp_ms)) {
        std::abort();
      }
    }
    begin = end + 1;
  }
  return 0;
}
