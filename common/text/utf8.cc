#include "common/text/utf8.h"

#include <cstdint>
#include <cstring>

namespace kubemetrics::text {

std::size_t utf8SequenceLength(std::string_view text, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(text[i]);
  if (b0 < 0x80) return 1;
  std::size_t len = 0;
  // The second byte's allowed range excludes overlong forms (E0, F0),
  // surrogates (ED) and code points beyond U+10FFFF (F4) without decoding.
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  const auto b1 = static_cast<unsigned char>(text[i + 1]);
  if (b1 < lo || b1 > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    const auto b = static_cast<unsigned char>(text[i + k]);
    if (b < 0x80 || b > 0xBF) return 0;
  }
  return len;
}

namespace {

// Offset of the first invalid sequence, or text.size() when there is none.
std::size_t firstInvalid(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      std::uint64_t word;
      std::memcpy(&word, s + i, 8);
      if (word & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    const std::size_t len = utf8SequenceLength(text, i);
    if (len == 0) return i;
    i += len;
  }
  return n;
}

}  // namespace

bool isValidUtf8(std::string_view text) { return firstInvalid(text) == text.size(); }

std::string_view toValidUtf8(std::string_view text, std::string& scratch) {
  std::size_t i = firstInvalid(text);
  if (i == text.size()) return text;
  scratch.assign(text.substr(0, i));
  while (i < text.size()) {
    const std::size_t len = utf8SequenceLength(text, i);
    if (len == 0) {
      scratch += "\xEF\xBF\xBD";
      ++i;
    } else {
      scratch.append(text.substr(i, len));
      i += len;
    }
  }
  return scratch;
}

std::size_t codePointCount(std::string_view text) {
  std::size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::size_t utf16Length(std::string_view text) {
  std::size_t n = 0;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) != 0x80) ++n;  // one per code point...
    if (c >= 0xF0) ++n;           // ...two for a surrogate pair
  }
  return n;
}

}  // namespace kubemetrics::text
