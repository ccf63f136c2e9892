#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kubemetrics/agent_tags.h"
#include "kubemetrics/labels.h"
#include "kubemetrics/result.h"
#include "kubemetrics/sample.h"
#include "protobuf_wire.h"
#include "shared_series_label_cache.h"

namespace kubemetrics::scrapers::listeners {

/// Bounds on one remote-write request. Over a request-level bound the whole
/// request fails with kResourceExhausted (HTTP 413); over a series-level one
/// that series alone is rejected and counted.
struct WriteDecodeLimits {
  /// The WriteRequest once decompressed, bytes; checked against the length
  /// the snappy header declares, before any allocation. Default 32 MiB, as
  /// vmagent's -maxInsertRequestSize: about 150,000 samples, 75x what
  /// Prometheus sends at most by default; each decoding at once may hold
  /// this much, within the DaemonSet's memory limit.
  std::size_t max_uncompressed_bytes = 32u << 20;
  /// Samples in one request, over every series (rejected ones too, as they
  /// cost the decoding). Default 1,000,000: 500x Prometheus' default
  /// max_samples_per_send (2000); 32 MB of Sample values.
  std::size_t max_samples = 1'000'000;
  /// Labels of one series, __name__ included; more: the series is rejected.
  /// Default 512, as the scrape parser (common/scrape/parser.h).
  std::size_t max_labels_per_series = 512;
  /// Series whose interned name and labels a decoder remembers by their
  /// wire bytes (SeriesLabelCache), so a sender's next request skips
  /// parsing and interning them; 0 disables. Used when the decoder makes
  /// its own cache (no SharedSeriesLabelCache given). Memory: 64-128 bytes
  /// of slots a series plus the labels' wire bytes, bounded at
  /// kCachedKeyBytes (256) a series on average: under 25 MiB at the
  /// default 65,536.
  std::size_t cached_series = 65536;
};

/// What one request held. `series`/`samples` were delivered; the rest were
/// dropped, each for its counted reason.
struct WriteDecodeStats {
  std::size_t series = 0;                    // accepted TimeSeries (with or without float samples)
  std::size_t samples = 0;                   // samples appended to `out`
  std::size_t rejected_series = 0;           // sum of the four reasons below
  std::size_t rejected_samples = 0;          // float samples of rejected series (not delivered)
  std::size_t rejected_no_name = 0;          // __name__ absent or empty
  std::size_t rejected_bad_label_name = 0;   // empty or duplicate label name
  std::size_t rejected_invalid_utf8 = 0;     // a label name or value
  std::size_t rejected_too_many_labels = 0;  // over max_labels_per_series
  std::size_t ignored_histograms = 0;        // native histograms (TimeSeries field 4)
  std::size_t ignored_exemplars = 0;         // exemplars (TimeSeries field 3)
  std::size_t ignored_metadata = 0;          // WriteRequest.metadata entries (field 3)
  /// The first rejection's reason and byte offset, for a rate-limited log
  /// line ("" when none was rejected).
  std::string first_rejection;
};

/// Decodes Prometheus remote-write 1.0 requests
/// (https://prometheus.io/docs/specs/remote_write_spec/): a snappy block
/// holding a protobuf `prometheus.WriteRequest` (fields and numbers as
/// exporters/remote_write/remote_write.proto), read by hand from the wire
/// (no message objects; only names and label values are copied, when
/// interned). Each float sample becomes a Sample: name = the `__name__`
/// label, labels = the others (empty values dropped, as Prometheus treats
/// them as absent), value bit for bit (staleness markers survive),
/// timestamp_ms as sent.
///
/// Request errors, after which `out` is left as it was:
///   - kInvalidArgument (HTTP 400): not a snappy block, not a WriteRequest
///     (truncated, bad varint, length past the end, wrong wire type for a
///     known field), with what is wrong and its byte offset in the
///     uncompressed request;
///   - kResourceExhausted (HTTP 413): over max_uncompressed_bytes or
///     max_samples.
/// A series without a __name__, with an empty or duplicate label name, with
/// invalid UTF-8, or with too many labels is rejected alone and counted; the
/// rest of the request goes through. Unknown fields of any wire type are
/// skipped; native histograms, exemplars and metadata are skipped and
/// counted.
///
/// A series seen before (the same label bytes on the wire) is resolved from
/// a bounded cache (WriteDecodeLimits::cached_series), which keeps the
/// decoding of a steady sender's requests mostly to reading samples. Given
/// the agent's tags, the decoder adds them to each series as it parses it
/// (AgentTags::Snapshot::addTo: a label the series has wins) and the cache
/// keeps the tagged labels, so a cached series costs no tagging at all.
///
/// Not thread-safe: the decompression buffer and label scratch are reused
/// between calls (the buffer is freed after a request over 16 MiB). Use one
/// per handler thread, long-lived; decoders running in parallel share one
/// series cache when given the same SharedSeriesLabelCache (thread-safe).
class RemoteWriteDecoder {
 public:
  /// Average wire bytes of a series' labels a cache is sized for: labels of
  /// Kubernetes series take ~150 bytes on the wire.
  static constexpr std::size_t kCachedKeyBytes = 256;

  /// Without `cache`, the decoder makes its own of limits.cached_series.
  explicit RemoteWriteDecoder(WriteDecodeLimits limits = {},
                              std::shared_ptr<SharedSeriesLabelCache> cache = nullptr);

  /// Decodes a snappy-compressed body (the HTTP request body) and appends
  /// its samples to `out`, with `tags` added to their labels when given.
  Result<WriteDecodeStats> decode(std::string_view snappy_body, std::vector<Sample>& out,
                                  const AgentTags::Snapshot* tags = nullptr);
  /// Decodes an already uncompressed WriteRequest.
  Result<WriteDecodeStats> decodeUncompressed(std::string_view write_request,
                                              std::vector<Sample>& out,
                                              const AgentTags::Snapshot* tags = nullptr);

  const WriteDecodeLimits& limits() const { return limits_; }

 private:
  using LabelView = std::pair<std::string_view, std::string_view>;
  struct Point {
    double value;
    std::int64_t timestamp_ms;
  };
  enum class Rejection : std::uint8_t {
    kNone,
    kNoName,
    kEmptyLabelName,
    kDuplicateLabelName,
    kInvalidUtf8,
    kTooManyLabels,
  };

  // A TimeSeries read by the first pass, resolved by the second.
  struct PendingSeries {
    const char* at = nullptr;  // where its message starts, for offsets
    std::string_view key;      // its Label fields' bytes; empty: not cacheable
    std::uint64_t hash = 0;    // cache_->hashOf(key)
    std::uint32_t fields_begin = 0, fields_end = 0;  // into label_fields_
    std::size_t points_begin = 0, points_end = 0;    // into points_
  };

  // Two passes over each chunk of series: the first reads their framing,
  // samples and cache keys (decodeRequest, decodeSeries, decodeSample), the
  // second resolves them in order from the cache or by parsing their labels
  // (resolveAll), knowing the keys to come, so it can prefetch their
  // cache slots. Each returns false after fail() recorded the error.
  bool decodeRequest(const char* begin, const char* end);
  bool decodeSeries(const char* begin, const char* end);
  bool decodeLabel(const char* begin, const char* end);
  bool decodeSample(const char* begin, const char* end);
  bool resolveAll();
  bool resolveOne(const PendingSeries& series);
  // Appends `points` as samples of the series (name, labels).
  void emit(const Symbol& name, const Labels& labels, std::span<const Point> points);
  void releaseIfLarge();
  // Checks labels_, and on success interns them into name/labels (with
  // tags_ added).
  Rejection resolveSeries(Symbol& name, Labels& labels);
  void reject(Rejection why, const char* series_at);
  // The cache version of this request's labels.
  std::uint64_t tagsVersion() const { return tags_ != nullptr ? tags_->version : 0; }
  // Records a request error at `at` (a pointer into the request).
  bool fail(ErrorCode code, const char* at, std::string_view what, std::string_view where);
  bool failWire(wire::WireError error, const char* at, std::string_view where);

  WriteDecodeLimits limits_;
  // Per request.
  const char* origin_ = nullptr;  // start of the uncompressed request, for offsets
  std::vector<Sample>* out_ = nullptr;
  const AgentTags::Snapshot* tags_ = nullptr;  // null: untagged (cache version 0)
  WriteDecodeStats stats_;
  std::size_t seen_samples_ = 0;  // delivered or not, for max_samples
  ErrorCode error_code_ = ErrorCode::kInvalidArgument;
  std::string error_;
  // Scratch, reused between series and requests.
  // Not value-initialised: of a large buffer, only the pages the snappy
  // decoder writes become resident (a corrupt body claiming 32 MiB costs
  // little).
  std::unique_ptr<char[]> uncompressed_;
  std::size_t uncompressed_capacity_ = 0;
  std::vector<PendingSeries> series_;           // a chunk's series (first pass)
  std::vector<std::string_view> label_fields_;  // their Label messages, in order
  std::vector<Point> points_;                   // their samples, in order
  std::vector<LabelView> labels_;               // one series' labels, as on the wire
  std::vector<LabelView> sorted_;               // labels_ sorted by name, to find duplicates
  LabelsBuilder builder_;
  std::shared_ptr<SharedSeriesLabelCache> cache_;
};

}  // namespace kubemetrics::scrapers::listeners
