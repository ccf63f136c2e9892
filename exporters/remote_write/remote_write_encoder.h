#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "exporters/common/push_exporter.h"
#include "kubemetrics/sample.h"

namespace kubemetrics::remote_write {

/// Prometheus remote write 1.0 headers (besides Content-Encoding, which the
/// transport adds from the payload).
inline constexpr std::string_view kContentType = "application/x-protobuf";
inline constexpr std::string_view kVersionHeader = "X-Prometheus-Remote-Write-Version";
inline constexpr std::string_view kVersion = "0.1.0";

/// Encodes samples as one snappy-compressed protobuf WriteRequest
/// (remote_write.proto): samples grouped by series, each series' samples
/// sorted by timestamp, labels sorted by name with `__name__` first (its
/// name mapped like the /metrics page does: '.' -> '_'), label names
/// sanitised by prometheus_endpoint::mapLabelName, label values made valid
/// UTF-8. `external_labels` are added to every series that lacks them.
/// A sample with timestamp 0 (unstamped) gets the encode time.
///
/// The protobuf wire format is written directly (no message objects), which
/// is several times faster than building generated messages; the tests check
/// that the generated WriteRequest parses it back identically.
///
/// Not thread-safe (scratch buffers are reused); PushExporter serialises.
class RemoteWriteEncoder : public push::PayloadEncoder {
 public:
  /// `compression`: "snappy" (the spec), or "zstd"/"gzip"/"" for benches.
  explicit RemoteWriteEncoder(std::vector<std::pair<std::string, std::string>> external_labels = {},
                              std::string compression = "snappy");

  // kubemetrics::push::PayloadEncoder
  Result<push::EncodedPayload> encode(std::span<const Sample> samples,
                                      std::size_t* dropped) override;
  std::string_view contentEncoding() const override { return compression_; }
  std::size_t estimateBytes(const Sample& sample) const override;

  /// The uncompressed WriteRequest for `samples` (tests, bench).
  std::string serializeForTest(std::span<const Sample> samples);

 private:
  struct Point {
    std::uint32_t series;  // index into series_
    std::int64_t timestamp_ms;
    double value;
  };
  struct SeriesKeyHash {
    std::size_t operator()(const std::pair<const void*, const void*>& k) const noexcept {
      const std::size_t h = std::hash<const void*>()(k.first);
      return h ^ (std::hash<const void*>()(k.second) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
    }
  };
  const std::string& mappedName(const Symbol& name);
  const std::string& mappedLabelName(const Symbol& name);
  void serialize(std::span<const Sample> samples, std::string& out);

  std::vector<std::pair<std::string, std::string>> external_labels_;  // sorted, mapped
  std::string compression_;
  // Scratch, reused between calls; the caches hold Symbol handles so an id
  // is never reused while cached, and are cleared when they grow large.
  std::unordered_map<Symbol, std::string> name_cache_;
  std::unordered_map<Symbol, std::string> label_cache_;
  // (name id, labels id) -> index into series_; one flat table, reused.
  std::unordered_map<std::pair<const void*, const void*>, std::uint32_t, SeriesKeyHash> index_;
  std::vector<const Sample*> series_;  // first sample of each series (name, labels)
  std::vector<Point> points_;          // every sample, sorted by (series, timestamp)
  std::vector<std::pair<std::string_view, std::string_view>> labels_;
  std::string value_scratch_;
  std::string buffer_;
};

/// Replaces invalid UTF-8 sequences in `text` by U+FFFD (Prometheus refuses
/// the whole request otherwise). Returns `text` itself when already valid.
std::string_view validUtf8(std::string_view text, std::string& scratch);

}  // namespace kubemetrics::remote_write
