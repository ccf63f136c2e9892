// libFuzzer target for the kubelet Summary path: arbitrary bytes -> on-demand
// JSON parse -> samples (with the rate cache carried across inputs, as a
// source carries it across scrapes). Must never crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "kubemetrics/labels.h"
#include "scrapers/kubelet/emitter.h"
#include "scrapers/kubelet/parser.h"

namespace {

using kubemetrics::SampleBatch;
using kubemetrics::scrapers::kubelet::EmitOptions;
using kubemetrics::scrapers::kubelet::Summary;
using kubemetrics::scrapers::kubelet::SummaryEmitter;
using kubemetrics::scrapers::kubelet::SummaryParser;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static SummaryParser parser;
  static SummaryEmitter emitter(EmitOptions{true, "fuzz-node"});
  static Summary summary;
  static std::size_t runs = 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (parser.parse(text, summary)) {
    SampleBatch batch;
    emitter.emit(summary, 1'700'000'000'000, batch);
    // Every sample must be a readable series (a name; labels interned).
    for (const auto& sample : batch.samples) {
      if (sample.name.empty()) std::abort();
    }
  }
  // Interned texts of pods gone from the last input are freed, as the agent
  // does periodically, so long runs do not grow memory.
  if (++runs % 1024 == 0) kubemetrics::sweepInterned();
  return 0;
}
