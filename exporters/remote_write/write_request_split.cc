#include "write_request_split.h"

#include <snappy.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/compression/compression.h"

namespace kubemetrics::exporters::remote_write {
namespace {

constexpr std::uint32_t kTimeseriesField = 1;  // WriteRequest.timeseries
constexpr std::uint32_t kSamplesField = 2;     // TimeSeries.samples
constexpr std::size_t kMaxRequestBytes = 256u << 20;

// One protobuf field: its number, and where it starts and ends (tag
// included) in the message, and its payload for a LEN field.
struct Field {
  std::uint32_t number = 0;
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string_view bytes;
};

std::optional<std::uint64_t> readVarint(std::string_view data, std::size_t& at) {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64 && at < data.size(); shift += 7) {
    const auto byte = static_cast<unsigned char>(data[at++]);
    value |= std::uint64_t{byte & 0x7Fu} << shift;
    if ((byte & 0x80) == 0) return value;
  }
  return std::nullopt;
}

// The next field at `at`, or nullopt when the message is malformed.
std::optional<Field> readField(std::string_view data, std::size_t& at) {
  Field field;
  field.begin = at;
  const auto tag = readVarint(data, at);
  if (!tag) return std::nullopt;
  field.number = static_cast<std::uint32_t>(*tag >> 3);
  std::size_t size = 0;
  switch (*tag & 7) {
    case 0:
      if (!readVarint(data, at)) return std::nullopt;
      break;
    case 1:
      size = 8;
      break;
    case 2: {
      const auto length = readVarint(data, at);
      if (!length) return std::nullopt;
      size = static_cast<std::size_t>(*length);
      break;
    }
    case 5:
      size = 4;
      break;
    default:
      return std::nullopt;
  }
  if (size > data.size() - at) return std::nullopt;
  field.bytes = data.substr(at, size);
  at += size;
  field.end = at;
  return field;
}

Result<std::string> decompress(const push::EncodedPayload& payload) {
  const std::string& encoding = payload.content_encoding;
  if (encoding == "snappy") {
    std::size_t size = 0;
    if (!snappy::GetUncompressedLength(payload.body.data(), payload.body.size(), &size) ||
        size > kMaxRequestBytes) {
      return makeError(ErrorCode::kDataLoss, "not a snappy body");
    }
    std::string out;
    if (!snappy::Uncompress(payload.body.data(), payload.body.size(), &out)) {
      return makeError(ErrorCode::kDataLoss, "not a snappy body");
    }
    return out;
  }
  if (encoding == "zstd") return push::zstdDecompress(payload.body, kMaxRequestBytes);
  if (encoding == "gzip") return push::gzipDecompress(payload.body, kMaxRequestBytes);
  if (encoding.empty()) return payload.body;
  return makeError(ErrorCode::kInvalidArgument, "unknown encoding " + encoding);
}

Result<std::string> compress(std::string_view raw, const std::string& encoding) {
  if (encoding == "snappy") {
    std::string out;
    snappy::Compress(raw.data(), raw.size(), &out);
    return out;
  }
  if (encoding == "zstd") return push::zstdCompress(raw);
  if (encoding == "gzip") return push::gzipCompress(raw);
  return std::string(raw);
}

}  // namespace

std::vector<push::EncodedPayload> splitWriteRequest(const push::EncodedPayload& payload) {
  auto raw = decompress(payload);
  if (!raw) return {};
  const std::string_view request = *raw;
  std::vector<Field> series;
  std::vector<std::size_t> samples;  // per series
  std::string others;                // every other top-level field (metadata)
  for (std::size_t at = 0; at < request.size();) {
    auto field = readField(request, at);
    if (!field) return {};
    if (field->number != kTimeseriesField) {
      others.append(request.substr(field->begin, field->end - field->begin));
      continue;
    }
    std::size_t count = 0;
    for (std::size_t inner = 0; inner < field->bytes.size();) {
      auto member = readField(field->bytes, inner);
      if (!member) return {};
      if (member->number == kSamplesField) ++count;
    }
    series.push_back(*field);
    samples.push_back(count);
  }
  if (series.size() < 2) return {};
  std::vector<push::EncodedPayload> halves;
  const std::size_t middle = series.size() / 2;
  for (auto [from, to] : {std::pair{std::size_t{0}, middle}, std::pair{middle, series.size()}}) {
    std::string part = from == 0 ? others : std::string();
    push::EncodedPayload half;
    for (std::size_t i = from; i < to; ++i) {
      part.append(request.substr(series[i].begin, series[i].end - series[i].begin));
      half.samples += samples[i];
    }
    auto body = compress(part, payload.content_encoding);
    if (!body) return {};
    half.body = std::move(*body);
    half.raw_bytes = part.size();
    half.content_encoding = payload.content_encoding;
    halves.push_back(std::move(half));
  }
  return halves;
}

}  // namespace kubemetrics::exporters::remote_write
