#include "remote_write_encoder.h"

#include <snappy.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <chrono>
#include <cstring>

#include "common/compression/compression.h"
#include "common/core/symbol_prefetch.h"
#include "common/text/prometheus_names.h"
#include "common/text/utf8.h"
#include "write_request_split.h"

namespace kubemetrics::exporters::remote_write {
namespace {

constexpr std::string_view kNameLabel = "__name__";
// Bound on the name caches: beyond, they are rebuilt (pod churn).
constexpr std::size_t kMaxCacheEntries = 200000;
// Scratch buffers larger than this after a call are freed (one huge batch
// must not pin its memory).
constexpr std::size_t kMaxScratchBytes = 64u << 20;

// Wire tags: (field << 3) | wire type.
constexpr char kTagTimeseries = 0x0A;   // WriteRequest.timeseries = 1, LEN
constexpr char kTagLabels = 0x0A;       // TimeSeries.labels = 1, LEN
constexpr char kTagSamples = 0x12;      // TimeSeries.samples = 2, LEN
constexpr char kTagName = 0x0A;         // Label.name = 1, LEN
constexpr char kTagValue = 0x12;        // Label.value = 2, LEN
constexpr char kTagSampleValue = 0x09;  // Sample.value = 1, I64 (double)
constexpr char kTagTimestamp = 0x10;    // Sample.timestamp = 2, VARINT

// The writers below fill space already sized by the *Size functions, through
// a pointer: no bounds or capacity check per byte.

inline std::size_t varintSize(std::uint64_t v) {
  if (v < 0x80) return 1;  // lengths of names, values, labels, samples
  return static_cast<std::size_t>(std::bit_width(v) + 6) / 7;
}

inline char* putVarint(char* p, std::uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

// memcpy with the short lengths of label names and values inlined (libc's
// memcpy costs more in its dispatch than in copying 10 bytes).
inline char* putBytes(char* p, std::string_view bytes) {
  const char* src = bytes.data();
  const std::size_t n = bytes.size();
  if (n > 16) {
    std::memcpy(p, src, n);
  } else if (n >= 8) {  // two 8-byte moves, overlapping when n < 16
    std::uint64_t head, tail;
    std::memcpy(&head, src, 8);
    std::memcpy(&tail, src + n - 8, 8);
    std::memcpy(p, &head, 8);
    std::memcpy(p + n - 8, &tail, 8);
  } else if (n >= 4) {
    std::uint32_t head, tail;
    std::memcpy(&head, src, 4);
    std::memcpy(&tail, src + n - 4, 4);
    std::memcpy(p, &head, 4);
    std::memcpy(p + n - 4, &tail, 4);
  } else if (n != 0) {
    p[0] = src[0];
    p[n / 2] = src[n / 2];
    p[n - 1] = src[n - 1];
  }
  return p + n;
}

inline std::size_t lenFieldSize(std::size_t n) { return 1 + varintSize(n) + n; }

inline char* putLenField(char* p, char tag, std::string_view bytes) {
  *p++ = tag;
  p = putVarint(p, bytes.size());
  return putBytes(p, bytes);
}

inline std::size_t labelSize(std::string_view name, std::string_view value) {
  return lenFieldSize(name.size()) + lenFieldSize(value.size());
}

// proto3 leaves out fields at their default (+0.0, 0), as protobuf's own
// serializer does, so the bytes match it exactly.
inline std::uint64_t doubleBits(double v) {
  std::uint64_t bits;
  std::memcpy(&bits, &v, 8);
  return bits;
}

inline std::size_t sampleSize(double value, std::int64_t ts) {
  return (doubleBits(value) != 0 ? 9 : 0) +
         (ts != 0 ? 1 + varintSize(static_cast<std::uint64_t>(ts)) : 0);
}

// Label names compare as the wire sorts them (bytes, unsigned). Names
// mostly differ within their first bytes: decide without calling memcmp.
inline bool nameLess(std::string_view a, std::string_view b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
  }
  return a.size() < b.size();
}

inline bool nameEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && (a.empty() || (a.front() == b.front() && a == b));
}

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// 64-bit finaliser (MurmurHash3's fmix64) over both ids of a series.
inline std::uint64_t seriesHash(const void* name, const void* labels) {
  std::uint64_t h = reinterpret_cast<std::uintptr_t>(name) ^
                    (reinterpret_cast<std::uintptr_t>(labels) * 0x9E3779B97F4A7C15ULL);
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 33;
  return h;
}

// Slot of a Symbol id in a direct-mapped memo of `slots` (a power of two)
// entries: ids are 16-byte aligned heap addresses.
inline std::size_t memoSlot(const void* id, std::size_t slots) {
  return static_cast<std::size_t>((reinterpret_cast<std::uintptr_t>(id) * 0x9E3779B97F4A7C15ULL) >>
                                  32) &
         (slots - 1);
}

// Makes `scratch` at least `n` bytes long. Only grows: once a buffer has its
// working size, later calls neither reallocate nor zero-fill it.
void growScratch(std::string& scratch, std::size_t n) {
  if (scratch.size() < n) scratch.resize(n);
}

void releaseIfHuge(std::string& scratch) {
  if (scratch.capacity() > kMaxScratchBytes) std::string().swap(scratch);
}

}  // namespace

RemoteWriteEncoder::RemoteWriteEncoder(
    std::vector<std::pair<std::string, std::string>> external_labels, std::string compression)
    : compression_(std::move(compression)),
      name_memo_(kNameMemoSlots),
      label_memo_(kLabelMemoSlots) {
  for (auto& [name, value] : external_labels) {
    if (value.empty()) continue;
    std::string scratch;
    external_labels_.emplace_back(text::mapLabelName(name),
                                  std::string(text::toValidUtf8(value, scratch)));
  }
  std::sort(external_labels_.begin(), external_labels_.end());
  while (name_at_ < external_labels_.size() && external_labels_[name_at_].first < kNameLabel) {
    ++name_at_;
  }
}

std::size_t RemoteWriteEncoder::estimateBytes(const Sample& sample) const {
  // Series overhead dominates for one-sample-per-series batches; labels
  // average ~24 bytes each in Kubernetes data.
  return 24 + sample.name.view().size() + sample.labels.size() * 24;
}

const std::string& RemoteWriteEncoder::cachedName(const Symbol& name) {
  auto it = name_cache_.find(name);
  if (it == name_cache_.end()) {
    it = name_cache_.emplace(name, text::mapMetricName(name.view())).first;
  }
  name_memo_[memoSlot(name.id(), kNameMemoSlots)] = MemoSlot{name.id(), &it->second};
  return it->second;
}

const std::string& RemoteWriteEncoder::cachedLabelName(const Symbol& name) {
  auto it = label_cache_.find(name);
  if (it == label_cache_.end()) {
    it = label_cache_.emplace(name, text::mapLabelName(name.view())).first;
  }
  label_memo_[memoSlot(name.id(), kLabelMemoSlots)] = MemoSlot{name.id(), &it->second};
  return it->second;
}

inline std::string_view RemoteWriteEncoder::mappedName(const Symbol& name) {
  const MemoSlot& slot = name_memo_[memoSlot(name.id(), kNameMemoSlots)];
  if (slot.id == name.id() && slot.mapped != nullptr) return *slot.mapped;
  return cachedName(name);
}

inline std::string_view RemoteWriteEncoder::mappedLabelName(const Symbol& name) {
  const MemoSlot& slot = label_memo_[memoSlot(name.id(), kLabelMemoSlots)];
  if (slot.id == name.id() && slot.mapped != nullptr) return *slot.mapped;
  return cachedLabelName(name);
}

void RemoteWriteEncoder::clearCachesIfLarge() {
  // Only between requests: merged_ holds views into the caches while a
  // series is written. The memos point into the caches' nodes.
  if (name_cache_.size() >= kMaxCacheEntries) {
    name_cache_.clear();
    std::fill(name_memo_.begin(), name_memo_.end(), MemoSlot{});
  }
  if (label_cache_.size() >= kMaxCacheEntries) {
    label_cache_.clear();
    std::fill(label_memo_.begin(), label_memo_.end(), MemoSlot{});
  }
}

void RemoteWriteEncoder::groupSeries(std::span<const Sample> samples) {
  // Group by series, keeping first-seen order, so each series is written
  // once: one flat index and one points array sorted by (series, time),
  // rather than a container per series.
  series_.clear();
  points_.clear();
  points_.reserve(samples.size());
  // Open addressing, load factor <= 2/3, linear probing; cleared by one
  // memset per call, and no allocation per series.
  const std::size_t slots = std::bit_ceil(std::max<std::size_t>(16, samples.size() * 3 / 2 + 1));
  if (index_.size() != slots) {
    if (index_.capacity() > 4 * slots && index_.capacity() > (1u << 16)) {
      std::vector<IndexSlot>().swap(index_);
    }
    index_.assign(slots, IndexSlot{0, 0});
  } else {
    std::fill(index_.begin(), index_.end(), IndexSlot{0, 0});
  }
  const std::size_t mask = slots - 1;
  const std::int64_t now = nowMs();
  for (const Sample& sample : samples) {
    const void* name = sample.name.id();
    const void* labels = sample.labels.id();
    const std::uint64_t h = seriesHash(name, labels);
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    std::size_t at = static_cast<std::size_t>(h) & mask;
    std::uint32_t series;
    for (;;) {
      IndexSlot& slot = index_[at];
      if (slot.series_plus_one == 0) {
        series = static_cast<std::uint32_t>(series_.size());
        slot = IndexSlot{series + 1, tag};
        series_.push_back(&sample);
        break;
      }
      if (slot.tag == tag) {
        const Sample& first = *series_[slot.series_plus_one - 1];
        if (first.name.id() == name && first.labels.id() == labels) {
          series = slot.series_plus_one - 1;
          break;
        }
      }
      at = (at + 1) & mask;
    }
    points_.push_back(
        Point{series, sample.timestamp_ms != 0 ? sample.timestamp_ms : now, sample.value});
  }
  const auto by_series_time = [](const Point& a, const Point& b) {
    return a.series != b.series ? a.series < b.series : a.timestamp_ms < b.timestamp_ms;
  };
  // A scrape (one point per series, in order) is already sorted: skip the sort.
  if (!std::is_sorted(points_.begin(), points_.end(), by_series_time)) {
    std::stable_sort(points_.begin(), points_.end(), by_series_time);
  }
}

void RemoteWriteEncoder::seriesLabels(const Sample& first) {
  // The series' own labels, mapped, in their order (sorted by their
  // original names, which mapping nearly always keeps).
  labels_.clear();
  if (!fixed_.empty()) fixed_.clear();
  bool sorted = true;
  for (const Label& label : first.labels.items()) {
    const std::string_view name = mappedLabelName(label.name);
    if (nameEqual(name, kNameLabel)) continue;
    std::string_view value = label.value.view();
    if (!text::isAscii(value)) {  // inline check: the call below is for the rare rest
      value = text::toValidUtf8(value, utf8_scratch_);
      if (value.data() == utf8_scratch_.data()) value = fixed_.emplace_back(utf8_scratch_);
    }
    if (sorted && !labels_.empty() && nameLess(name, labels_.back().first)) sorted = false;
    labels_.emplace_back(name, value);
  }
  const auto by_name = [](const LabelView& a, const LabelView& b) {
    return nameLess(a.first, b.first);
  };
  if (!sorted) std::stable_sort(labels_.begin(), labels_.end(), by_name);

  // Merged with __name__ and the external labels, sorted by name. On a
  // clash (two names mapping to one, or an external label the series
  // already has) the first wins, in the order __name__, own, external:
  // what a stable sort of that concatenation followed by unique() keeps.
  // The external labels with __name__ in its place are already in order.
  const std::string_view metric = mappedName(first.name);
  const std::size_t others = external_labels_.size() + 1;
  const auto other = [&](std::size_t i) {
    if (i == name_at_) return LabelView(kNameLabel, metric);
    const auto& l = external_labels_[i < name_at_ ? i : i - 1];
    return LabelView(l.first, l.second);
  };
  merged_.clear();
  const auto emit = [this](const LabelView& label) {
    if (merged_.empty() || !nameEqual(merged_.back().name, label.first)) {
      merged_.push_back(WireLabel{label.first, label.second, labelSize(label.first, label.second)});
    }
  };
  std::size_t next = 0;
  for (const LabelView& own : labels_) {
    for (; next < others; ++next) {
      const LabelView label = other(next);
      if (!nameLess(label.first, own.first)) break;  // own wins a tie
      emit(label);
    }
    emit(own);
  }
  for (; next < others; ++next) emit(other(next));
}

char* RemoteWriteEncoder::extend(std::size_t n) {
  // Called per series: grow in steps of 1.5x.
  if (out_.size() < out_size_ + n) growScratch(out_, std::max(out_size_ + n, out_.size() * 3 / 2));
  char* p = out_.data() + out_size_;
  out_size_ += n;
  return p;
}

std::size_t RemoteWriteEncoder::seriesSize(std::span<const Point> points) const {
  std::size_t size = 0;
  for (const WireLabel& label : merged_) size += lenFieldSize(label.size);
  for (const Point& p : points) size += lenFieldSize(sampleSize(p.value, p.timestamp_ms));
  return size;
}

// One WriteRequest.timeseries field: merged_'s labels and `points`, of
// `size` bytes inside (seriesSize()), at `p`.
char* RemoteWriteEncoder::putSeries(char* p, std::size_t size,
                                    std::span<const Point> points) const {
  *p++ = kTagTimeseries;
  p = putVarint(p, size);
  for (const WireLabel& label : merged_) {
    *p++ = kTagLabels;
    p = putVarint(p, label.size);
    p = putLenField(p, kTagName, label.name);
    p = putLenField(p, kTagValue, label.value);
  }
  for (const Point& point : points) {
    *p++ = kTagSamples;
    p = putVarint(p, sampleSize(point.value, point.timestamp_ms));
    if (doubleBits(point.value) != 0) {
      *p++ = kTagSampleValue;
      std::memcpy(p, &point.value, 8);  // little-endian IEEE 754, as the wire wants
      p += 8;
    }
    if (point.timestamp_ms != 0) {
      *p++ = kTagTimestamp;
      p = putVarint(p, static_cast<std::uint64_t>(point.timestamp_ms));
    }
  }
  return p;
}

template <typename Extend>
void RemoteWriteEncoder::writeRequest(std::span<const Sample> samples, Extend extend) {
  clearCachesIfLarge();
  groupSeries(samples);
  std::size_t next_point = 0;
  for (std::uint32_t index = 0; index < series_.size(); ++index) {
    // A proxy's batch is mostly series of their own, whose label texts are
    // misses on their interned nodes: started in stages (the set's node,
    // its symbols' slots, their texts), each a few series before the next
    // needs what it loaded.
    prefetchLabelsAhead(index, series_.size(),
                        [this](std::size_t i) -> const Labels& { return series_[i]->labels; });
    const std::size_t begin_point = next_point;
    while (next_point < points_.size() && points_[next_point].series == index) ++next_point;
    const std::span<const Point> points(points_.data() + begin_point, next_point - begin_point);
    seriesLabels(*series_[index]);
    // Sizes first, then one reservation for the whole series.
    const std::size_t size = seriesSize(points);
    char* p = extend(1 + varintSize(size) + size);
    [[maybe_unused]] const char* end = putSeries(p, size, points);
    assert(end == p + 1 + varintSize(size) + size);
  }
}

std::string_view RemoteWriteEncoder::serialize(std::span<const Sample> samples) {
  out_size_ = 0;
  writeRequest(samples, [this](std::size_t n) { return extend(n); });
  return std::string_view(out_.data(), out_size_);
}

void RemoteWriteEncoder::append(std::span<const Sample> samples, std::string& raw,
                                std::size_t* dropped) {
  (void)dropped;  // every sample is representable once mapped
  writeRequest(samples, [&raw](std::size_t n) {
    const std::size_t at = raw.size();
    raw.resize(at + n);  // geometric growth: amortised, and the batch's buffer is reused
    return raw.data() + at;
  });
}

std::string RemoteWriteEncoder::serializeForTest(std::span<const Sample> samples) {
  return std::string(serialize(samples));
}

Result<push::EncodedPayload> RemoteWriteEncoder::encode(std::span<const Sample> samples,
                                                        std::size_t* dropped) {
  (void)dropped;  // every sample is representable once mapped
  auto payload = compress(serialize(samples), samples.size());
  // Keep the scratch from growing without bound after one huge batch.
  releaseIfHuge(out_);
  return payload;
}

Result<push::EncodedPayload> RemoteWriteEncoder::compress(std::string_view raw,
                                                          std::size_t samples) {
  push::EncodedPayload payload;
  payload.samples = samples;
  payload.raw_bytes = raw.size();
  payload.content_encoding = compression_;
  // Every body is a copy of exactly its bytes, so its capacity is its size
  // while it waits in the exporter's queue.
  if (compression_ == "snappy") {
    growScratch(compressed_, snappy::MaxCompressedLength(raw.size()));
    std::size_t n = 0;
    snappy::RawCompress(raw.data(), raw.size(), compressed_.data(), &n);
    payload.body.assign(compressed_.data(), n);
  } else if (compression_ == "zstd") {
    auto body = push::zstdCompress(raw, 3, compressed_);
    if (!body) return tl::unexpected(body.error());
    payload.body = std::move(*body);
  } else if (compression_ == "gzip") {
    auto body = push::gzipCompress(raw, 6, compressed_);
    if (!body) return tl::unexpected(body.error());
    payload.body = std::move(*body);
  } else {
    payload.body.assign(raw);
  }
  releaseIfHuge(compressed_);
  return payload;
}

push::PayloadSplitter RemoteWriteEncoder::splitter() const { return splitWriteRequest; }

}  // namespace kubemetrics::exporters::remote_write
