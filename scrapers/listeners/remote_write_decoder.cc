#include "remote_write_decoder.h"

#include <snappy.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <span>
#include <utility>

#include "common/text/utf8.h"

namespace kubemetrics::scrapers::listeners {
namespace {

using wire::Tag;
using wire::WireError;

// Field numbers of remote_write.proto (prompb's).
constexpr std::uint32_t kRequestTimeseries = 1;
constexpr std::uint32_t kRequestMetadata = 3;
constexpr std::uint32_t kSeriesLabels = 1;
constexpr std::uint32_t kSeriesSamples = 2;
constexpr std::uint32_t kSeriesExemplars = 3;
constexpr std::uint32_t kSeriesHistograms = 4;
constexpr std::uint32_t kLabelName = 1;
constexpr std::uint32_t kLabelValue = 2;
constexpr std::uint32_t kSampleValue = 1;
constexpr std::uint32_t kSampleTimestamp = 2;

constexpr std::string_view kNameLabel = "__name__";

// A decompression buffer larger than this is freed after its request, so
// one big request does not pin its memory for the decoder's lifetime.
constexpr std::size_t kKeepScratchBytes = 16u << 20;
// The first pass reads at most this many series before the second
// resolves them: the scratch stays bounded (a 64 MiB request could hold 32
// million empty series), and a chunk's data is still in the CPU's caches
// when it is resolved.
constexpr std::size_t kChunkSeries = 1024;
// Points and label fields beyond this many entries (one huge series) are
// freed after the request.
constexpr std::size_t kKeepSeriesScratch = 1u << 16;
// How many series ahead resolveAll() prefetches cache slots: enough to
// cover a memory access with a few series' work.
constexpr std::size_t kPrefetchAhead = 8;

inline bool validUtf8(std::string_view text) {
  return text::isAscii(text) || text::isValidUtf8(text);
}

// Byte-wise, as Prometheus sorts label names.
inline bool nameLess(const std::pair<std::string_view, std::string_view>& a,
                     const std::pair<std::string_view, std::string_view>& b) {
  return a.first < b.first;
}

}  // namespace

RemoteWriteDecoder::RemoteWriteDecoder(WriteDecodeLimits limits,
                                       std::shared_ptr<SharedSeriesLabelCache> cache)
    : limits_(limits), cache_(std::move(cache)) {
  if (cache_ == nullptr) {
    cache_ = std::make_shared<SharedSeriesLabelCache>(
        limits.cached_series, limits.cached_series * kCachedKeyBytes, /*shards=*/1);
  }
}

Result<WriteDecodeStats> RemoteWriteDecoder::decode(std::string_view snappy_body,
                                                    std::vector<Sample>& out,
                                                    const AgentTags::Snapshot* tags) {
  std::size_t length = 0;
  if (!snappy::GetUncompressedLength(snappy_body.data(), snappy_body.size(), &length)) {
    return makeError(ErrorCode::kInvalidArgument,
                     "remote write: body is not a snappy block (bad length preamble at byte 0)");
  }
  // Checked before allocating: the preamble is the sender's claim.
  if (length > limits_.max_uncompressed_bytes) {
    return makeError(ErrorCode::kResourceExhausted,
                     "remote write: snappy block declares " + std::to_string(length) +
                         " uncompressed bytes, over the limit of " +
                         std::to_string(limits_.max_uncompressed_bytes));
  }
  if (uncompressed_capacity_ < length) {
    uncompressed_.reset(new char[length]);
    uncompressed_capacity_ = length;
  }
  Result<WriteDecodeStats> result =
      snappy::RawUncompress(snappy_body.data(), snappy_body.size(), uncompressed_.get())
          ? decodeUncompressed(std::string_view(uncompressed_.get(), length), out, tags)
          : makeError(ErrorCode::kInvalidArgument,
                      "remote write: corrupt snappy block (" + std::to_string(snappy_body.size()) +
                          " bytes declaring " + std::to_string(length) + ")");
  // Kept for the next request unless it is exceptionally large, failed or not.
  if (uncompressed_capacity_ > kKeepScratchBytes) {
    uncompressed_.reset();
    uncompressed_capacity_ = 0;
  }
  return result;
}

Result<WriteDecodeStats> RemoteWriteDecoder::decodeUncompressed(std::string_view write_request,
                                                                std::vector<Sample>& out,
                                                                const AgentTags::Snapshot* tags) {
  if (write_request.size() > limits_.max_uncompressed_bytes) {
    return makeError(ErrorCode::kResourceExhausted,
                     "remote write: request of " + std::to_string(write_request.size()) +
                         " bytes, over the limit of " +
                         std::to_string(limits_.max_uncompressed_bytes));
  }
  const std::size_t kept = out.size();
  origin_ = write_request.data();
  out_ = &out;
  tags_ = tags;
  stats_ = WriteDecodeStats{};
  seen_samples_ = 0;
  error_.clear();
  series_.clear();
  label_fields_.clear();
  points_.clear();
  const bool ok =
      decodeRequest(write_request.data(), write_request.data() + write_request.size()) &&
      resolveAll();
  out_ = nullptr;
  tags_ = nullptr;
  releaseIfLarge();
  if (!ok) {
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(kept), out.end());
    return makeError(error_code_, std::move(error_));
  }
  return std::move(stats_);
}

void RemoteWriteDecoder::releaseIfLarge() {
  if (points_.capacity() > kKeepSeriesScratch) std::vector<Point>().swap(points_);
  if (label_fields_.capacity() > 16 * kKeepSeriesScratch) {
    std::vector<std::string_view>().swap(label_fields_);
  }
}

bool RemoteWriteDecoder::resolveAll() {
  // A series' cache slot is a miss in memory once the senders' series
  // outnumber the CPU's caches; asking for it kPrefetchAhead series early
  // overlaps the misses with the work on the series in between.
  const std::size_t n = series_.size();
  // Room for the chunk's samples at once, growing as push_back would (a
  // request's chunks each reserving their exact size would copy the whole
  // vector each time).
  std::vector<Sample>& out = *out_;
  if (const std::size_t needed = out.size() + points_.size(); needed > out.capacity()) {
    out.reserve(std::max(needed, 2 * out.capacity()));
  }
  for (std::size_t i = 0; i < std::min(n, kPrefetchAhead); ++i) {
    if (!series_[i].key.empty()) cache_->prefetch(series_[i].hash);
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n && !series_[i + kPrefetchAhead].key.empty()) {
      cache_->prefetch(series_[i + kPrefetchAhead].hash);
    }
    if (!resolveOne(series_[i])) return false;
  }
  series_.clear();
  label_fields_.clear();
  points_.clear();
  return true;
}

bool RemoteWriteDecoder::resolveOne(const PendingSeries& series) {
  const std::span<const Point> points(points_.data() + series.points_begin,
                                      series.points_end - series.points_begin);
  if (!series.key.empty()) {
    // Emitted under the shard's lock: the samples copy the handles
    // straight from the entry.
    if (cache_->visit(
            series.key, series.hash, tagsVersion(),
            [&](const Symbol& name, const Labels& labels) { emit(name, labels, points); })) {
      return true;
    }
  }
  labels_.clear();
  for (std::uint32_t f = series.fields_begin; f < series.fields_end; ++f) {
    const std::string_view field = label_fields_[f];
    if (!decodeLabel(field.data(), field.data() + field.size())) return false;
  }
  Symbol name;
  Labels labels;
  if (Rejection why = resolveSeries(name, labels); why != Rejection::kNone) {
    reject(why, series.at);
    stats_.rejected_samples += points.size();
    return true;
  }
  if (!series.key.empty()) cache_->insert(series.key, series.hash, tagsVersion(), name, labels);
  emit(name, labels, points);
  return true;
}

bool RemoteWriteDecoder::decodeRequest(const char* p, const char* end) {
  while (p < end) {
    const char* field_at = p;
    Tag tag;
    if (WireError e = wire::readTag(p, end, tag); e != WireError::kNone) {
      return failWire(e, field_at, "WriteRequest");
    }
    if (tag.field == kRequestTimeseries || tag.field == kRequestMetadata) {
      if (tag.type != wire::kLen) {
        return failWire(WireError::kWrongWireType, field_at, "WriteRequest");
      }
      std::string_view message;
      if (WireError e = wire::readLen(p, end, message); e != WireError::kNone) {
        return failWire(
            e, field_at,
            tag.field == kRequestTimeseries ? "WriteRequest.timeseries" : "WriteRequest.metadata");
      }
      if (tag.field == kRequestMetadata) {
        ++stats_.ignored_metadata;  // its bytes were bounds-checked; its content is not ours
      } else if (!decodeSeries(message.data(), message.data() + message.size())) {
        return false;
      } else if (series_.size() == kChunkSeries && !resolveAll()) {
        return false;
      }
      continue;
    }
    if (WireError e = wire::skipField(p, end, tag); e != WireError::kNone) {
      return failWire(e, field_at, "WriteRequest (unknown field)");
    }
  }
  return true;
}

bool RemoteWriteDecoder::decodeSeries(const char* begin, const char* end) {
  PendingSeries series;
  series.at = begin;
  series.fields_begin = static_cast<std::uint32_t>(label_fields_.size());
  series.points_begin = points_.size();
  // The label fields' bytes, when they are back to back (as every encoder
  // writes them): the cache's key.
  const char* labels_begin = nullptr;
  const char* labels_end = nullptr;
  bool labels_contiguous = true;
  const char* p = begin;
  while (p < end) {
    const char* field_at = p;
    Tag tag;
    if (WireError e = wire::readTag(p, end, tag); e != WireError::kNone) {
      return failWire(e, field_at, "TimeSeries");
    }
    if (tag.field >= kSeriesLabels && tag.field <= kSeriesHistograms) {
      if (tag.type != wire::kLen) {
        return failWire(WireError::kWrongWireType, field_at, "TimeSeries");
      }
      std::string_view message;
      if (WireError e = wire::readLen(p, end, message); e != WireError::kNone) {
        return failWire(e, field_at, "TimeSeries");
      }
      const char* m = message.data();
      switch (tag.field) {
        case kSeriesLabels:
          // Parsed below, and only when the cache does not know them.
          if (labels_begin == nullptr) {
            labels_begin = field_at;
          } else if (labels_end != field_at) {
            labels_contiguous = false;
          }
          labels_end = p;
          label_fields_.push_back(message);
          break;
        case kSeriesSamples:
          if (!decodeSample(m, m + message.size())) return false;
          break;
        case kSeriesExemplars:
          ++stats_.ignored_exemplars;
          break;
        default:
          ++stats_.ignored_histograms;
          break;
      }
      continue;
    }
    if (WireError e = wire::skipField(p, end, tag); e != WireError::kNone) {
      return failWire(e, field_at, "TimeSeries (unknown field)");
    }
  }

  if (labels_contiguous && labels_begin != nullptr && cache_->enabled()) {
    series.key =
        std::string_view(labels_begin, static_cast<std::size_t>(labels_end - labels_begin));
    series.hash = cache_->hashOf(series.key);
  }
  series.fields_end = static_cast<std::uint32_t>(label_fields_.size());
  series.points_end = points_.size();
  series_.push_back(series);
  return true;
}

void RemoteWriteDecoder::emit(const Symbol& name, const Labels& labels,
                              std::span<const Point> points) {
  ++stats_.series;
  stats_.samples += points.size();
  std::vector<Sample>& out = *out_;
  for (const Point& point : points) {
    out.push_back(Sample{name, labels, point.value, point.timestamp_ms});
  }
}

bool RemoteWriteDecoder::decodeLabel(const char* p, const char* end) {
  std::string_view name, value;
  while (p < end) {
    const char* field_at = p;
    Tag tag;
    if (WireError e = wire::readTag(p, end, tag); e != WireError::kNone) {
      return failWire(e, field_at, "Label");
    }
    if (tag.field == kLabelName || tag.field == kLabelValue) {
      if (tag.type != wire::kLen) return failWire(WireError::kWrongWireType, field_at, "Label");
      // A repeated scalar field: the last one wins, as in libprotobuf.
      std::string_view& text = tag.field == kLabelName ? name : value;
      if (WireError e = wire::readLen(p, end, text); e != WireError::kNone) {
        return failWire(e, field_at, "Label");
      }
      continue;
    }
    if (WireError e = wire::skipField(p, end, tag); e != WireError::kNone) {
      return failWire(e, field_at, "Label (unknown field)");
    }
  }
  labels_.emplace_back(name, value);
  return true;
}

bool RemoteWriteDecoder::decodeSample(const char* p, const char* end) {
  if (++seen_samples_ > limits_.max_samples) {
    return fail(ErrorCode::kResourceExhausted, p,
                "more than " + std::to_string(limits_.max_samples) + " samples (max_samples)",
                "Sample");
  }
  Point point{0.0, 0};
  while (p < end) {
    const char* field_at = p;
    Tag tag;
    if (WireError e = wire::readTag(p, end, tag); e != WireError::kNone) {
      return failWire(e, field_at, "Sample");
    }
    if (tag.field == kSampleValue) {
      if (tag.type != wire::kI64) return failWire(WireError::kWrongWireType, field_at, "Sample");
      std::uint64_t bits;
      if (WireError e = wire::readFixed64(p, end, bits); e != WireError::kNone) {
        return failWire(e, field_at, "Sample.value");
      }
      point.value = std::bit_cast<double>(bits);  // bit for bit: no arithmetic on it
      continue;
    }
    if (tag.field == kSampleTimestamp) {
      if (tag.type != wire::kVarint) {
        return failWire(WireError::kWrongWireType, field_at, "Sample");
      }
      std::uint64_t ts;
      if (WireError e = wire::readVarint(p, end, ts); e != WireError::kNone) {
        return failWire(e, field_at, "Sample.timestamp");
      }
      point.timestamp_ms = static_cast<std::int64_t>(ts);  // int64: two's complement, 10 bytes
      continue;
    }
    if (WireError e = wire::skipField(p, end, tag); e != WireError::kNone) {
      return failWire(e, field_at, "Sample (unknown field)");
    }
  }
  points_.push_back(point);
  return true;
}

RemoteWriteDecoder::Rejection RemoteWriteDecoder::resolveSeries(Symbol& name, Labels& labels) {
  if (labels_.size() > limits_.max_labels_per_series) return Rejection::kTooManyLabels;
  // Senders sort labels (the spec says they must): then strictly increasing
  // names prove there is no duplicate without a sort.
  std::string_view metric;
  bool increasing = true;
  for (std::size_t i = 0; i < labels_.size(); ++i) {
    const auto& [label, value] = labels_[i];
    if (label.empty()) return Rejection::kEmptyLabelName;
    if (!validUtf8(label) || !validUtf8(value)) return Rejection::kInvalidUtf8;
    if (i > 0 && !(labels_[i - 1].first < label)) increasing = false;
    if (label == kNameLabel) metric = value;
  }
  if (!increasing) {
    sorted_.assign(labels_.begin(), labels_.end());
    std::sort(sorted_.begin(), sorted_.end(), nameLess);
    for (std::size_t i = 1; i < sorted_.size(); ++i) {
      if (sorted_[i - 1].first == sorted_[i].first) return Rejection::kDuplicateLabelName;
    }
  }
  if (metric.empty()) return Rejection::kNoName;
  name = Symbol::intern(metric);
  builder_.clear();
  for (const auto& [label, value] : labels_) {
    if (!value.empty() && label != kNameLabel) builder_.set(label, value);
  }
  if (tags_ != nullptr) tags_->addTo(builder_);
  labels = builder_.build();
  return Rejection::kNone;
}

void RemoteWriteDecoder::reject(Rejection why, const char* series_at) {
  ++stats_.rejected_series;
  std::string reason;
  switch (why) {
    case Rejection::kNoName:
      ++stats_.rejected_no_name;
      reason = "no __name__ label";
      break;
    case Rejection::kEmptyLabelName:
      ++stats_.rejected_bad_label_name;
      reason = "empty label name";
      break;
    case Rejection::kDuplicateLabelName:
      ++stats_.rejected_bad_label_name;
      reason = "duplicate label name";
      break;
    case Rejection::kInvalidUtf8:
      ++stats_.rejected_invalid_utf8;
      reason = "invalid UTF-8 in a label name or value";
      break;
    case Rejection::kTooManyLabels:
      ++stats_.rejected_too_many_labels;
      reason = "more than " + std::to_string(limits_.max_labels_per_series) + " labels";
      break;
    case Rejection::kNone:
      break;
  }
  if (stats_.first_rejection.empty()) {
    stats_.first_rejection =
        "TimeSeries at byte " + std::to_string(series_at - origin_) + " rejected: " + reason;
  }
}

bool RemoteWriteDecoder::fail(ErrorCode code, const char* at, std::string_view what,
                              std::string_view where) {
  error_code_ = code;
  error_ = "remote write: ";
  error_.append(what);
  error_.append(" in ");
  error_.append(where);
  error_.append(" at byte ");
  error_.append(std::to_string(at - origin_));
  return false;
}

bool RemoteWriteDecoder::failWire(WireError error, const char* at, std::string_view where) {
  return fail(ErrorCode::kInvalidArgument, at, wire::describe(error), where);
}

}  // namespace kubemetrics::scrapers::listeners
