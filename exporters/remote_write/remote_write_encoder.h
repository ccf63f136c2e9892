#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/push/push_exporter.h"
#include "kubemetrics/sample.h"

namespace kubemetrics::exporters::remote_write {

/// Prometheus remote write 1.0 headers (besides Content-Encoding, which the
/// transport adds from the payload).
inline constexpr std::string_view kContentType = "application/x-protobuf";
inline constexpr std::string_view kVersionHeader = "X-Prometheus-Remote-Write-Version";
inline constexpr std::string_view kVersion = "0.1.0";

/// Encodes samples as one snappy-compressed protobuf WriteRequest
/// (remote_write.proto): samples grouped by series (within each encode()
/// or append() call), each series' samples sorted by timestamp, labels
/// sorted by name with `__name__` first (its
/// name mapped like the /metrics page does: '.' -> '_'), label names
/// sanitised by text::mapLabelName, label values made valid
/// UTF-8. `external_labels` are added to every series that lacks them.
/// A sample with timestamp 0 (unstamped) gets the encode time.
///
/// The protobuf wire format is written directly (no message objects), which
/// is several times faster than building generated messages; the tests check
/// that the generated WriteRequest parses it back identically.
///
/// Memory: the scratch kept between calls is 2-3x the largest recent
/// uncompressed request (the request itself and the compressor's worst-case
/// output, each freed when over 64 MiB) plus a series index of 8 bytes per
/// slot (1.5-3 slots per sample of the largest recent batch) and name caches
/// per distinct name, never per series. Each payload body is allocated at
/// its exact size, since the exporter queues several.
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
  bool appends() const override { return true; }
  /// The TimeSeries encode() would write for `samples`: a series that
  /// comes back in a later call gets a TimeSeries of its own there (the
  /// 1.0 spec allows several samples of a series in a request; receivers
  /// take each TimeSeries on its own).
  void append(std::span<const Sample> samples, std::string& raw, std::size_t* dropped) override;
  Result<push::EncodedPayload> compress(std::string_view raw, std::size_t samples) override;
  std::string_view contentEncoding() const override { return compression_; }
  std::size_t estimateBytes(const Sample& sample) const override;
  /// splitWriteRequest (write_request_split.h).
  push::PayloadSplitter splitter() const override;

  /// The uncompressed WriteRequest for `samples` (tests, bench).
  std::string serializeForTest(std::span<const Sample> samples);

 private:
  struct Point {
    std::uint32_t series;  // index into series_
    std::int64_t timestamp_ms;
    double value;
  };
  // One slot of the open-addressing series index: 0 is free, else the
  // series' index + 1, with 32 bits of its hash to skip most mismatches
  // without touching the sample.
  struct IndexSlot {
    std::uint32_t series_plus_one;
    std::uint32_t tag;
  };
  // A direct-mapped front for a name cache: the Symbol id and the mapped
  // text in the cache's node (node addresses are stable until the cache is
  // cleared). A fixed size, so it never grows with the data; a collision
  // only costs a lookup in the cache.
  struct MemoSlot {
    const void* id = nullptr;
    const std::string* mapped = nullptr;
  };
  static constexpr std::size_t kNameMemoSlots = 256;
  static constexpr std::size_t kLabelMemoSlots = 1024;
  using LabelView = std::pair<std::string_view, std::string_view>;
  struct WireLabel {
    std::string_view name;
    std::string_view value;
    std::size_t size;  // of the encoded Label message
  };

  // Memo hit inline; a miss goes to the cache (and maps on a cache miss).
  std::string_view mappedName(const Symbol& name);
  std::string_view mappedLabelName(const Symbol& name);
  const std::string& cachedName(const Symbol& name);
  const std::string& cachedLabelName(const Symbol& name);
  void clearCachesIfLarge();
  // Groups `samples` into series_ and points_.
  void groupSeries(std::span<const Sample> samples);
  // Fills merged_ with the series' labels as they go on the wire.
  void seriesLabels(const Sample& first);
  // Appends `n` bytes to out_ and returns where to write them.
  char* extend(std::size_t n);
  // The bytes inside the TimeSeries of merged_'s labels and `points`, and
  // that TimeSeries written at `p` (returns its end).
  std::size_t seriesSize(std::span<const Point> points) const;
  char* putSeries(char* p, std::size_t size, std::span<const Point> points) const;
  // The TimeSeries of `samples`, each written where extend(its size)
  // points.
  template <typename Extend>
  void writeRequest(std::span<const Sample> samples, Extend extend);
  // The uncompressed WriteRequest, in out_ (valid until the next call).
  std::string_view serialize(std::span<const Sample> samples);

  std::vector<std::pair<std::string, std::string>> external_labels_;  // sorted, mapped
  // How many external labels sort before __name__ (which wins a tie).
  std::size_t name_at_ = 0;
  std::string compression_;
  // Scratch, reused between calls; the caches hold Symbol handles so an id
  // is never reused while cached, and are cleared when they grow large.
  // They are per name, not per series: a few thousand entries.
  std::unordered_map<Symbol, std::string> name_cache_;
  std::unordered_map<Symbol, std::string> label_cache_;
  std::vector<MemoSlot> name_memo_;
  std::vector<MemoSlot> label_memo_;
  // (name id, labels id) -> series, sized for the batch and reused.
  std::vector<IndexSlot> index_;
  std::vector<const Sample*> series_;  // first sample of each series (name, labels)
  std::vector<Point> points_;          // every sample, sorted by (series, timestamp)
  std::vector<LabelView> labels_;      // the series' own labels, mapped
  std::vector<WireLabel> merged_;      // own + __name__ + external, sorted, unique
  std::deque<std::string> fixed_;      // label values repaired to UTF-8; stable addresses
  std::string utf8_scratch_;
  // The WriteRequest: out_[0, out_size_). out_ only grows (in steps, so
  // growing it zero-fills rarely) until it passes kMaxScratchBytes.
  std::string out_;
  std::size_t out_size_ = 0;
  // The compressor's output, copied from here into an exactly sized body:
  // compressing into the body itself would leave it with the capacity of
  // the worst case (~1.17x the uncompressed size for snappy) while queued.
  std::string compressed_;
};

}  // namespace kubemetrics::exporters::remote_write
