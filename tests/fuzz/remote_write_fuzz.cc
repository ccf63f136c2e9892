// libFuzzer target for the remote-write decoder
// (scrapers/listeners/remote_write_decoder.h). Each input is decoded three
// ways: as a snappy body (mostly refused: it is rarely a snappy block), and,
// compressed here, by a decoder with a small series cache (64 series, so it
// fills and empties) and by one without: a crash, a sanitizer report, the
// two disagreeing (outcome, error, stats or samples), or `out` changed by a
// failed decode is a bug. Decoders live across inputs, so the cache meets
// keys of earlier inputs.
#include <snappy.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "scrapers/listeners/remote_write_decoder.h"

using kubemetrics::Sample;
using kubemetrics::scrapers::listeners::RemoteWriteDecoder;
using kubemetrics::scrapers::listeners::WriteDecodeLimits;
using kubemetrics::scrapers::listeners::WriteDecodeStats;

namespace {

WriteDecodeLimits limits(std::size_t cached_series) {
  WriteDecodeLimits l;
  l.max_uncompressed_bytes = 1 << 20;
  l.max_samples = 10000;
  l.max_labels_per_series = 16;
  l.cached_series = cached_series;
  return l;
}

bool sameStats(const WriteDecodeStats& a, const WriteDecodeStats& b) {
  return a.series == b.series && a.samples == b.samples && a.rejected_series == b.rejected_series &&
         a.rejected_samples == b.rejected_samples && a.rejected_no_name == b.rejected_no_name &&
         a.rejected_bad_label_name == b.rejected_bad_label_name &&
         a.rejected_invalid_utf8 == b.rejected_invalid_utf8 &&
         a.rejected_too_many_labels == b.rejected_too_many_labels &&
         a.ignored_histograms == b.ignored_histograms &&
         a.ignored_exemplars == b.ignored_exemplars && a.ignored_metadata == b.ignored_metadata &&
         a.first_rejection == b.first_rejection;
}

bool sameSample(const Sample& a, const Sample& b) {
  return a.name == b.name && a.labels == b.labels &&
         std::bit_cast<std::uint64_t>(a.value) == std::bit_cast<std::uint64_t>(b.value) &&
         a.timestamp_ms == b.timestamp_ms;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static RemoteWriteDecoder* raw_body = new RemoteWriteDecoder(limits(64));
  static RemoteWriteDecoder* cached = new RemoteWriteDecoder(limits(64));
  static RemoteWriteDecoder* uncached = new RemoteWriteDecoder(limits(0));
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // `out` starts with one sample: a failed decode must leave it alone.
  const Sample sentinel{kubemetrics::Symbol::intern("sentinel"), {}, 1, 1};
  std::vector<Sample> as_body = {sentinel};
  if (!raw_body->decode(input, as_body) && as_body.size() != 1) std::abort();

  std::string body;
  snappy::Compress(input.data(), input.size(), &body);
  std::vector<Sample> a = {sentinel};
  std::vector<Sample> b = {sentinel};
  auto ra = cached->decode(body, a);
  auto rb = uncached->decodeUncompressed(input, b);
  if (static_cast<bool>(ra) != static_cast<bool>(rb)) std::abort();
  if (!ra) {
    if (ra.error().code() != rb.error().code() || ra.error().message() != rb.error().message()) {
      std::abort();
    }
    if (a.size() != 1 || b.size() != 1) std::abort();
    return 0;
  }
  if (!sameStats(*ra, *rb) || a.size() != b.size() || a.size() != 1 + ra->samples) std::abort();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!sameSample(a[i], b[i])) std::abort();
  }
  return 0;
}
