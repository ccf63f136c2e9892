#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

// The agent's one UTF-8 validator (RFC 3629): the text parser rejects label
// values that fail it, and the exposition, remote-write and Wavefront writers
// replace what fails it. Pure functions; thread-safe.

namespace kubemetrics::text {

/// Length (1-4) of the valid UTF-8 sequence starting at text[i], or 0 when
/// the byte there does not start one: a stray continuation byte, an overlong
/// form, a surrogate, a code point beyond U+10FFFF, or a sequence cut short
/// by the end of `text`. `i` must be below text.size().
std::size_t utf8SequenceLength(std::string_view text, std::size_t i);

/// True when every byte is below 0x80, checked 8 bytes at a time. Inline:
/// the encoders call it on every label value.
inline bool isAscii(std::string_view text) {
  const char* p = text.data();
  const std::size_t n = text.size();
  if (n >= 8) {
    // Whole words, then the tail as one overlapping word.
    std::uint64_t any = 0, word;
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
      std::memcpy(&word, p + i, 8);
      any |= word;
    }
    std::memcpy(&word, p + n - 8, 8);
    return ((any | word) & 0x8080808080808080ULL) == 0;
  }
  unsigned any = 0;
  for (std::size_t i = 0; i < n; ++i) any |= static_cast<unsigned char>(p[i]);
  return any < 0x80;
}

/// True when `text` is valid UTF-8 as a whole.
bool isValidUtf8(std::string_view text);

/// `text` itself when it is valid UTF-8; otherwise a copy in `scratch` with
/// every invalid byte replaced by U+FFFD, as Prometheus does.
std::string_view toValidUtf8(std::string_view text, std::string& scratch);

/// Number of code points of valid UTF-8 `text`.
std::size_t codePointCount(std::string_view text);

/// Length in UTF-16 code units of valid UTF-8 `text`: how Java counts a
/// string, so how the Wavefront proxy measures its length limits.
std::size_t utf16Length(std::string_view text);

}  // namespace kubemetrics::text
