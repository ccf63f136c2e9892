#include "exporters/remote_write/remote_write_encoder.h"

#include <snappy.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>

#include "exporters/common/compression.h"
#include "exporters/prometheus_endpoint/exposition_writer.h"

namespace kubemetrics::remote_write {
namespace {

constexpr std::string_view kNameLabel = "__name__";
// Bound on the name caches: beyond, they are rebuilt (pod churn).
constexpr std::size_t kMaxCacheEntries = 200000;

// Wire tags: (field << 3) | wire type.
constexpr char kTagTimeseries = 0x0A;   // WriteRequest.timeseries = 1, LEN
constexpr char kTagLabels = 0x0A;       // TimeSeries.labels = 1, LEN
constexpr char kTagSamples = 0x12;      // TimeSeries.samples = 2, LEN
constexpr char kTagName = 0x0A;         // Label.name = 1, LEN
constexpr char kTagValue = 0x12;        // Label.value = 2, LEN
constexpr char kTagSampleValue = 0x09;  // Sample.value = 1, I64 (double)
constexpr char kTagTimestamp = 0x10;    // Sample.timestamp = 2, VARINT

std::size_t varintSize(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void putVarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

std::size_t lenFieldSize(std::size_t n) { return 1 + varintSize(n) + n; }

void putLenField(std::string& out, char tag, std::string_view bytes) {
  out.push_back(tag);
  putVarint(out, bytes.size());
  out.append(bytes);
}

std::size_t labelSize(std::string_view name, std::string_view value) {
  return lenFieldSize(name.size()) + lenFieldSize(value.size());
}

// proto3 leaves out fields at their default (+0.0, 0), as protobuf's own
// serializer does, so the bytes match it exactly.
std::uint64_t doubleBits(double v) {
  std::uint64_t bits;
  std::memcpy(&bits, &v, 8);
  return bits;
}

std::size_t sampleSize(double value, std::int64_t ts) {
  return (doubleBits(value) != 0 ? 9 : 0) +
         (ts != 0 ? 1 + varintSize(static_cast<std::uint64_t>(ts)) : 0);
}

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when invalid.
std::size_t utf8Sequence(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  std::size_t n;
  std::uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  // Overlong forms, surrogates and values beyond U+10FFFF are invalid.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
      (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    return 0;
  }
  return n;
}

}  // namespace

std::string_view validUtf8(std::string_view text, std::string& scratch) {
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t n = utf8Sequence(text, i);
    if (n == 0) break;
    i += n;
  }
  if (i == text.size()) return text;
  scratch.assign(text.substr(0, i));
  while (i < text.size()) {
    const std::size_t n = utf8Sequence(text, i);
    if (n == 0) {
      scratch += "\xEF\xBF\xBD";
      ++i;
    } else {
      scratch.append(text.substr(i, n));
      i += n;
    }
  }
  return scratch;
}

RemoteWriteEncoder::RemoteWriteEncoder(
    std::vector<std::pair<std::string, std::string>> external_labels, std::string compression)
    : compression_(std::move(compression)) {
  for (auto& [name, value] : external_labels) {
    if (value.empty()) continue;
    std::string scratch;
    external_labels_.emplace_back(prometheus_endpoint::mapLabelName(name),
                                  std::string(validUtf8(value, scratch)));
  }
  std::sort(external_labels_.begin(), external_labels_.end());
}

std::size_t RemoteWriteEncoder::estimateBytes(const Sample& sample) const {
  // Series overhead dominates for one-sample-per-series batches; labels
  // average ~24 bytes each in Kubernetes data.
  return 24 + sample.name.view().size() + sample.labels.size() * 24;
}

const std::string& RemoteWriteEncoder::mappedName(const Symbol& name) {
  auto it = name_cache_.find(name);
  if (it != name_cache_.end()) return it->second;
  return name_cache_.emplace(name, prometheus_endpoint::mapMetricName(name.view())).first->second;
}

const std::string& RemoteWriteEncoder::mappedLabelName(const Symbol& name) {
  auto it = label_cache_.find(name);
  if (it != label_cache_.end()) return it->second;
  return label_cache_.emplace(name, prometheus_endpoint::mapLabelName(name.view())).first->second;
}

void RemoteWriteEncoder::serialize(std::span<const Sample> samples, std::string& out) {
  // Group by series, keeping first-seen order, so each series is written
  // once: one flat index and one points array sorted by (series, time),
  // rather than a container per series.
  index_.clear();
  series_.clear();
  points_.clear();
  // Cleared only here: labels_ holds views into the caches while a series
  // is written.
  if (name_cache_.size() >= kMaxCacheEntries) name_cache_.clear();
  if (label_cache_.size() >= kMaxCacheEntries) label_cache_.clear();
  index_.reserve(samples.size());
  points_.reserve(samples.size());
  const std::int64_t now = nowMs();
  for (const Sample& sample : samples) {
    auto [it, inserted] = index_.try_emplace({sample.name.id(), sample.labels.id()},
                                             static_cast<std::uint32_t>(series_.size()));
    if (inserted) series_.push_back(&sample);
    points_.push_back(
        Point{it->second, sample.timestamp_ms != 0 ? sample.timestamp_ms : now, sample.value});
  }
  const auto by_series_time = [](const Point& a, const Point& b) {
    return a.series != b.series ? a.series < b.series : a.timestamp_ms < b.timestamp_ms;
  };
  // A scrape (one point per series, in order) is already sorted: skip the sort.
  if (!std::is_sorted(points_.begin(), points_.end(), by_series_time)) {
    std::stable_sort(points_.begin(), points_.end(), by_series_time);
  }
  std::deque<std::string> fixed;  // label values repaired to UTF-8; stable addresses
  std::string scratch;
  std::size_t next_point = 0;
  for (std::uint32_t index = 0; index < series_.size(); ++index) {
    const Sample& first = *series_[index];
    const std::size_t begin_point = next_point;
    while (next_point < points_.size() && points_[next_point].series == index) ++next_point;
    const std::span<const Point> points(points_.data() + begin_point, next_point - begin_point);
    labels_.clear();
    fixed.clear();
    labels_.emplace_back(kNameLabel, mappedName(first.name));
    for (const Label& label : first.labels) {
      const std::string& name = mappedLabelName(label.name);
      if (name == kNameLabel) continue;
      std::string_view value = validUtf8(label.value.view(), scratch);
      if (value.data() == scratch.data()) value = fixed.emplace_back(scratch);
      labels_.emplace_back(name, value);
    }
    for (const auto& [name, value] : external_labels_) labels_.emplace_back(name, value);
    // Sorted by name; on a clash (two names mapping to one, or an external
    // label the series already has) the series' own label wins.
    const auto by_name = [](const auto& a, const auto& b) { return a.first < b.first; };
    if (!std::is_sorted(labels_.begin(), labels_.end(), by_name)) {
      std::stable_sort(labels_.begin(), labels_.end(), by_name);
    }
    labels_.erase(std::unique(labels_.begin(), labels_.end(),
                              [](const auto& a, const auto& b) { return a.first == b.first; }),
                  labels_.end());

    std::size_t size = 0;
    for (const auto& [name, value] : labels_) size += lenFieldSize(labelSize(name, value));
    for (const Point& p : points) size += lenFieldSize(sampleSize(p.value, p.timestamp_ms));

    out.push_back(kTagTimeseries);
    putVarint(out, size);
    for (const auto& [name, value] : labels_) {
      out.push_back(kTagLabels);
      putVarint(out, labelSize(name, value));
      putLenField(out, kTagName, name);
      putLenField(out, kTagValue, value);
    }
    for (const Point& p : points) {
      out.push_back(kTagSamples);
      putVarint(out, sampleSize(p.value, p.timestamp_ms));
      if (doubleBits(p.value) != 0) {
        out.push_back(kTagSampleValue);
        char bits[8];
        std::memcpy(bits, &p.value, 8);  // little-endian IEEE 754, as the wire wants
        out.append(bits, 8);
      }
      if (p.timestamp_ms != 0) {
        out.push_back(kTagTimestamp);
        putVarint(out, static_cast<std::uint64_t>(p.timestamp_ms));
      }
    }
  }
}

std::string RemoteWriteEncoder::serializeForTest(std::span<const Sample> samples) {
  std::string out;
  serialize(samples, out);
  return out;
}

Result<push::EncodedPayload> RemoteWriteEncoder::encode(std::span<const Sample> samples,
                                                        std::size_t* dropped) {
  (void)dropped;  // every sample is representable once mapped
  buffer_.clear();
  serialize(samples, buffer_);
  push::EncodedPayload payload;
  payload.samples = samples.size();
  payload.raw_bytes = buffer_.size();
  payload.content_encoding = compression_;
  if (compression_ == "snappy") {
    snappy::Compress(buffer_.data(), buffer_.size(), &payload.body);
  } else if (compression_ == "zstd") {
    auto body = push::zstdCompress(buffer_);
    if (!body) return tl::unexpected(body.error());
    payload.body = std::move(*body);
  } else if (compression_ == "gzip") {
    auto body = push::gzipCompress(buffer_);
    if (!body) return tl::unexpected(body.error());
    payload.body = std::move(*body);
  } else {
    payload.body = buffer_;
  }
  // Keep the scratch from growing without bound after one huge batch.
  if (buffer_.capacity() > (64u << 20)) std::string().swap(buffer_);
  return payload;
}

}  // namespace kubemetrics::remote_write
