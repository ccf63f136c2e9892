#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

// The protobuf wire format (https://protobuf.dev/programming-guides/encoding/),
// read by hand for the remote-write decoder: varints, tags, length-delimited
// fields, fixed 64/32-bit fields, and skipping fields of any wire type.
// Inline on purpose: a remote-write body is mostly tags and short lengths,
// and a call per byte would cost more than the reading. Pure functions over
// a cursor the caller owns; thread-safe.

namespace kubemetrics::scrapers::listeners::wire {

/// The six wire types; 6 and 7 are invalid.
enum WireType : std::uint8_t {
  kVarint = 0,
  kI64 = 1,
  kLen = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kI32 = 5,
};

/// Why a read failed (the cursor then points where the bad field starts).
enum class WireError : std::uint8_t {
  kNone,
  kTruncated,       // the data ends inside a field
  kVarintOverflow,  // more than 10 bytes, or beyond 64 bits
  kLengthPastEnd,   // a declared length runs past the enclosing message
  kBadWireType,     // wire type 6 or 7
  kFieldZero,       // field number 0
  kWrongWireType,   // a known field with the wire type of another kind
  kUnmatchedGroup,  // an end-group without its start, or another field's
  kTooDeep,         // groups nested beyond kMaxGroupDepth
};

/// Text for error messages ("truncated", "varint overflow", ...).
inline std::string_view describe(WireError error) {
  switch (error) {
    case WireError::kNone:
      return "no error";
    case WireError::kTruncated:
      return "truncated field";
    case WireError::kVarintOverflow:
      return "varint overflow (over 10 bytes or 64 bits)";
    case WireError::kLengthPastEnd:
      return "declared length past the end of the message";
    case WireError::kBadWireType:
      return "invalid wire type (6 or 7)";
    case WireError::kFieldZero:
      return "field number 0";
    case WireError::kWrongWireType:
      return "wrong wire type for the field";
    case WireError::kUnmatchedGroup:
      return "unmatched end-group";
    case WireError::kTooDeep:
      return "groups nested too deep";
  }
  return "unknown error";
}

/// Nesting bound for skipped groups: libprotobuf's default recursion limit.
inline constexpr int kMaxGroupDepth = 100;

/// Reads a varint at `p` (before `end`) into `v` and advances `p`. Returns
/// kNone, kTruncated or kVarintOverflow (then `p` is unchanged). A tenth
/// byte above 1 would carry bits 64+: refused, not truncated silently.
inline WireError readVarint(const char*& p, const char* end, std::uint64_t& v) {
  if (p < end && static_cast<signed char>(*p) >= 0) {  // one byte: lengths, tags, small ints
    v = static_cast<unsigned char>(*p++);
    return WireError::kNone;
  }
  std::uint64_t result = 0;
  const char* q = p;
  for (int shift = 0; shift < 70; shift += 7) {
    if (q == end) return WireError::kTruncated;
    const auto byte = static_cast<unsigned char>(*q++);
    if (shift == 63 && byte > 1) return WireError::kVarintOverflow;
    result |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if (byte < 0x80) {
      v = result;
      p = q;
      return WireError::kNone;
    }
  }
  return WireError::kVarintOverflow;
}

/// One field's key.
struct Tag {
  std::uint32_t field = 0;
  WireType type = kVarint;
};

/// Reads a field key: kNone, or kTruncated, kVarintOverflow, kBadWireType,
/// kFieldZero (field numbers beyond 2^29-1 count as overflow).
inline WireError readTag(const char*& p, const char* end, Tag& tag) {
  std::uint64_t key;
  if (p < end && static_cast<signed char>(*p) >= 0) {
    key = static_cast<unsigned char>(*p);
    ++p;
  } else if (WireError e = readVarint(p, end, key); e != WireError::kNone) {
    return e;
  }
  if (key > 0xffffffffULL) return WireError::kVarintOverflow;
  const auto type = static_cast<std::uint8_t>(key & 7);
  if (type > kI32) return WireError::kBadWireType;
  if ((key >> 3) == 0) return WireError::kFieldZero;
  tag.field = static_cast<std::uint32_t>(key >> 3);
  tag.type = static_cast<WireType>(type);
  return WireError::kNone;
}

/// Reads a length-delimited field's payload (after its tag) as a view into
/// the data: kNone, kTruncated, kVarintOverflow or kLengthPastEnd.
inline WireError readLen(const char*& p, const char* end, std::string_view& bytes) {
  std::uint64_t n;
  if (WireError e = readVarint(p, end, n); e != WireError::kNone) return e;
  if (n > static_cast<std::uint64_t>(end - p)) return WireError::kLengthPastEnd;
  bytes = std::string_view(p, static_cast<std::size_t>(n));
  p += n;
  return WireError::kNone;
}

/// Reads 8 little-endian bytes (a double or fixed64).
inline WireError readFixed64(const char*& p, const char* end, std::uint64_t& v) {
  if (end - p < 8) return WireError::kTruncated;
  std::memcpy(&v, p, 8);  // the wire is little-endian, like every target we build for
  p += 8;
  return WireError::kNone;
}

/// Skips the payload of a field whose tag was just read (unknown fields,
/// fields the decoder ignores). A group is skipped to its matching end-group
/// (nested at most kMaxGroupDepth deep); a lone end-group is kUnmatchedGroup.
inline WireError skipField(const char*& p, const char* end, Tag tag, int depth = 0) {
  switch (tag.type) {
    case kVarint: {
      std::uint64_t ignored;
      return readVarint(p, end, ignored);
    }
    case kI64:
      if (end - p < 8) return WireError::kTruncated;
      p += 8;
      return WireError::kNone;
    case kI32:
      if (end - p < 4) return WireError::kTruncated;
      p += 4;
      return WireError::kNone;
    case kLen: {
      std::string_view ignored;
      return readLen(p, end, ignored);
    }
    case kStartGroup: {
      if (depth >= kMaxGroupDepth) return WireError::kTooDeep;
      for (;;) {
        Tag inner;
        if (WireError e = readTag(p, end, inner); e != WireError::kNone) return e;
        if (inner.type == kEndGroup) {
          return inner.field == tag.field ? WireError::kNone : WireError::kUnmatchedGroup;
        }
        if (WireError e = skipField(p, end, inner, depth + 1); e != WireError::kNone) return e;
      }
    }
    case kEndGroup:
      return WireError::kUnmatchedGroup;
  }
  return WireError::kBadWireType;
}

}  // namespace kubemetrics::scrapers::listeners::wire
