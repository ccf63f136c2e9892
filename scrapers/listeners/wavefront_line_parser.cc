#include "wavefront_line_parser.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>

#include "common/text/utf8.h"

namespace kubemetrics::scrapers::listeners {
namespace {

constexpr std::string_view kDelta1 = "\xE2\x88\x86";       // U+2206 INCREMENT
constexpr std::string_view kDelta2 = "\xCE\x94";           // U+0394 GREEK CAPITAL LETTER DELTA
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Byte classes, one table lookup per byte in the scanning loops.
enum : std::uint8_t {
  kBlank = 1,      // skipped between tokens: Java's Character.isWhitespace (ASCII part)
  kEndsToken = 2,  // ends a bare token: ' ', '\t' (StringParser separators)
  kEndsBare = 4,   // also ends a bare key or value: '='
  kNameChar = 8,   // [A-Za-z0-9_,./-] (Validation.charactersAreValid: 44-57, 65-90, 95, 97-122)
};

constexpr std::array<std::uint8_t, 256> makeClasses() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 9; c <= 13; ++c) t[c] |= kBlank;
  for (int c = 28; c <= 32; ++c) t[c] |= kBlank;
  t[' '] |= kEndsToken | kEndsBare;
  t['\t'] |= kEndsToken | kEndsBare;
  t['='] |= kEndsBare;
  for (int c = 44; c <= 57; ++c) t[c] |= kNameChar;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] |= kNameChar;
  for (int c = 'a'; c <= 'z'; ++c) t[c] |= kNameChar;
  t['_'] |= kNameChar;
  return t;
}
constexpr std::array<std::uint8_t, 256> kClasses = makeClasses();

bool is(char c, std::uint8_t cls) { return (kClasses[static_cast<unsigned char>(c)] & cls) != 0; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Length of a delta-counter prefix (U+2206 or U+0394) at the start of `name`, or 0.
std::size_t deltaPrefix(std::string_view name) {
  if (name.starts_with(kDelta1)) return kDelta1.size();
  if (name.starts_with(kDelta2)) return kDelta2.size();
  return 0;
}

// Validation.charactersAreValid: [A-Za-z0-9_,./-], except that the first
// character may be U+2206, U+0394 or '~' (internal metrics), and the second
// '~' after a delta prefix.
bool charactersAreValid(std::string_view text) {
  if (text.empty()) return false;
  std::size_t i = deltaPrefix(text);
  if (i != 0) {
    if (i < text.size() && text[i] == '~') ++i;
  } else if (text[0] == '~') {
    i = 1;
  }
  for (; i < text.size(); ++i) {
    if (!is(text[i], kNameChar)) return false;
  }
  return true;
}

// UTF-16 length <= limit. UTF-8 never takes fewer bytes than UTF-16 code
// units, so the byte count settles almost every case without a scan.
bool withinLength(std::string_view text, std::size_t limit) {
  return text.size() <= limit || text::utf16Length(text) <= limit;
}

// StringUtils.isBlank: empty or whitespace only (the proxy rejects blank
// sources, WF-406, and blank tag values, WF-414).
bool isBlank(std::string_view text) {
  for (const char c : text) {
    if (!is(c, kBlank)) return false;
  }
  return true;
}

// Double.parseDouble for the forms senders use: an optional sign, decimal or
// scientific notation. NaN and infinities are refused: the format has no way
// to store them (the Wavefront exporter would drop them anyway).
bool parseValue(std::string_view text, double& value) {
  if (text.starts_with('+')) {
    text.remove_prefix(1);
    if (text.empty() || text[0] == '-' || text[0] == '+') return false;
  }
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end && std::isfinite(value);
}

// The proxy's unit rule (AbstractIngesterFormatter.parseTimestamp): by the
// magnitude of the integer part, < 10^12 seconds, < 10^13 milliseconds,
// < 10^16 microseconds, else nanoseconds. Seconds may carry a fraction,
// kept to the millisecond (truncated, as Java's (long)(1000 * ts)).
std::int64_t toMillis(std::uint64_t whole, std::int64_t fraction_ms) {
  if (whole < 1'000'000'000'000ULL) return static_cast<std::int64_t>(whole) * 1000 + fraction_ms;
  if (whole < 10'000'000'000'000ULL) return static_cast<std::int64_t>(whole);
  if (whole < 10'000'000'000'000'000ULL) return static_cast<std::int64_t>(whole / 1000);
  return static_cast<std::int64_t>(whole / 1'000'000);
}

bool parseTimestamp(std::string_view text, std::int64_t& ms) {
  // Common forms exactly, in integer arithmetic: digits, or digits '.' digits.
  std::uint64_t whole = 0;
  std::size_t i = 0;
  for (; i < text.size() && isDigit(text[i]); ++i) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (whole > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return false;
    whole = whole * 10 + digit;
  }
  if (i == text.size()) {
    ms = toMillis(whole, 0);
    return true;
  }
  if (text[i] == '.') {
    std::size_t j = i + 1;
    std::int64_t fraction_ms = 0;
    int kept = 0;
    for (; j < text.size() && isDigit(text[j]); ++j) {
      if (kept < 3) {
        fraction_ms = fraction_ms * 10 + (text[j] - '0');
        ++kept;
      }
    }
    if (j == text.size()) {
      for (; kept < 3; ++kept) fraction_ms *= 10;
      ms = toMillis(whole, fraction_ms);
      return true;
    }
  }
  // Anything else Java's parser takes (an exponent): through a double.
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value) || value < 0 || value >= 1.8e19) {
    return false;
  }
  whole = static_cast<std::uint64_t>(value);
  if (whole < 1'000'000'000'000ULL) {
    ms = static_cast<std::int64_t>(value * 1000);
  } else {
    ms = toMillis(whole, 0);
  }
  return true;
}

}  // namespace

std::string_view rejectionName(LineRejection reason) {
  switch (reason) {
    case LineRejection::kLineTooLong:
      return "line_too_long";
    case LineRejection::kBadName:
      return "bad_name";
    case LineRejection::kNameTooLong:
      return "name_too_long";
    case LineRejection::kMissingValue:
      return "missing_value";
    case LineRejection::kBadValue:
      return "bad_value";
    case LineRejection::kBadTimestamp:
      return "bad_timestamp";
    case LineRejection::kUnterminatedQuote:
      return "unterminated_quote";
    case LineRejection::kBadTag:
      return "bad_tag";
    case LineRejection::kTagTooLong:
      return "tag_too_long";
    case LineRejection::kTooManyTags:
      return "too_many_tags";
    case LineRejection::kBadSource:
      return "bad_source";
    case LineRejection::kNonPositiveDelta:
      return "non_positive_delta";
    case LineRejection::kHistogram:
      return "histogram";
    case LineRejection::kUnsupportedCommand:
      return "unsupported_command";
  }
  return "unknown";
}

WavefrontLineParser::WavefrontLineParser(LineLimits limits)
    : limits_(limits),
      source_key_(Symbol::intern("source")),
      host_key_(Symbol::intern("_host")),
      tag_key_(Symbol::intern("_tag")) {
  tags_.reserve(2 * limits_.max_tags + 4);
}

LineResult WavefrontLineParser::reject(LineRejection reason, LineRejection* why) const {
  if (why != nullptr) *why = reason;
  return LineResult::kRejected;
}

void WavefrontLineParser::skipBlanks() {
  while (pos_ < line_.size() && is(line_[pos_], kBlank)) ++pos_;
}

void WavefrontLineParser::reserveArena() {
  // Before the first view into the arena exists: it never grows after, as
  // no line needs more than 4x its size (unescaping shrinks; repairing
  // invalid UTF-8 turns a byte into at most 3).
  if (arena_.empty()) arena_.reserve(4 * line_.size() + 16);
}

std::string_view WavefrontLineParser::unescape(std::string_view raw, char quote) {
  reserveArena();
  const std::size_t begin = arena_.size();
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size() && raw[i + 1] == quote) ++i;
    arena_.push_back(raw[i]);
  }
  return std::string_view(arena_).substr(begin);
}

std::string_view WavefrontLineParser::toValidUtf8(std::string_view text) {
  if (text::isValidUtf8(text)) return text;
  // As the proxy's UTF-8 decoding does: each invalid byte becomes U+FFFD.
  reserveArena();
  const std::size_t begin = arena_.size();
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t len = text::utf8SequenceLength(text, i);
    if (len == 0) {
      arena_.append(kReplacement);
      ++i;
    } else {
      arena_.append(text.substr(i, len));
      i += len;
    }
  }
  return std::string_view(arena_).substr(begin);
}

bool WavefrontLineParser::readToken(TokenKind kind, std::string_view& text, bool& quoted,
                                    LineRejection* why) {
  const char first = line_[pos_];
  if (first == '"' || first == '\'') {
    // StringParser.parseAsQuoted: up to the next quote of the same kind not
    // preceded by a backslash; then \<quote> becomes <quote>, and any other
    // backslash stays as it is.
    const std::size_t begin = pos_ + 1;
    std::size_t search = begin;
    bool escaped = false;
    std::size_t close;
    for (;;) {
      const void* hit = std::memchr(line_.data() + search, first, line_.size() - search);
      if (hit == nullptr) {
        reject(LineRejection::kUnterminatedQuote, why);
        return false;
      }
      close = static_cast<std::size_t>(static_cast<const char*>(hit) - line_.data());
      if (close > begin && line_[close - 1] == '\\') {
        escaped = true;
        search = close + 1;
        continue;
      }
      break;
    }
    const std::string_view raw = line_.substr(begin, close - begin);
    pos_ = close + 1;
    quoted = true;
    text = escaped ? unescape(raw, first) : raw;
    if (!text::isAscii(text)) text = toValidUtf8(text);
    return true;
  }
  // A bare token ends at a blank, and (but for a name, where '=' is simply
  // an invalid character) at '='.
  const std::uint8_t stop = kind == TokenKind::kName ? kEndsToken : kEndsBare;
  const std::size_t begin = pos_;
  unsigned high = 0;
  while (pos_ < line_.size() && !is(line_[pos_], stop)) {
    high |= static_cast<unsigned char>(line_[pos_]);
    ++pos_;
  }
  quoted = false;
  text = line_.substr(begin, pos_ - begin);
  if (high >= 0x80) text = toValidUtf8(text);
  return true;
}

LineResult WavefrontLineParser::parse(std::string_view line, std::int64_t now_ms,
                                      std::string_view default_source, Sample& out,
                                      LineRejection* why) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > limits_.max_line_bytes) return reject(LineRejection::kLineTooLong, why);
  line_ = line;
  pos_ = 0;
  arena_.clear();
  tags_.clear();

  skipBlanks();
  if (pos_ == line_.size() || line_[pos_] == '#') return LineResult::kSkipped;
  const char first = line_[pos_];
  if (first == '!' && pos_ + 1 < line_.size()) {
    const char granularity = line_[pos_ + 1];
    if ((granularity == 'M' || granularity == 'H' || granularity == 'D') &&
        (pos_ + 2 == line_.size() || is(line_[pos_ + 2], kBlank))) {
      return reject(LineRejection::kHistogram, why);
    }
  }
  if (first == '@') return reject(LineRejection::kUnsupportedCommand, why);

  // Metric name.
  std::string_view name;
  bool quoted = false;
  if (!readToken(TokenKind::kName, name, quoted, why)) return LineResult::kRejected;
  if (limits_.strict_charset || !quoted) {
    if (!charactersAreValid(name)) return reject(LineRejection::kBadName, why);
  } else if (name.empty()) {
    return reject(LineRejection::kBadName, why);
  }
  if (!withinLength(name, limits_.max_name_length)) {
    return reject(LineRejection::kNameTooLong, why);
  }

  // Value.
  skipBlanks();
  if (pos_ == line_.size()) return reject(LineRejection::kMissingValue, why);
  std::string_view value_text;
  if (!readToken(TokenKind::kValue, value_text, quoted, why)) return LineResult::kRejected;
  // `name source=x`: what stands where the value belongs is a tag key.
  if (pos_ < line_.size() && line_[pos_] == '=') return reject(LineRejection::kMissingValue, why);
  double value = 0;
  if (!parseValue(value_text, value)) return reject(LineRejection::kBadValue, why);
  if (value <= 0 && deltaPrefix(name) != 0) return reject(LineRejection::kNonPositiveDelta, why);

  // Optional timestamp: as in the proxy, a token starting with a digit
  // (so a tag key cannot start with one right after the value).
  std::int64_t timestamp_ms = now_ms;
  skipBlanks();
  if (pos_ < line_.size() && isDigit(line_[pos_])) {
    std::string_view ts_text;
    readToken(TokenKind::kValue, ts_text, quoted, why);  // bare: cannot fail
    if (!parseTimestamp(ts_text, timestamp_ms)) return reject(LineRejection::kBadTimestamp, why);
  }

  // Point tags, source= and host= among them, in any order; for a key seen
  // twice the last value wins (the proxy keeps them in a map).
  std::string_view source, host, tag;
  bool has_source = false, has_host = false, has_tag = false;
  for (;;) {
    skipBlanks();
    if (pos_ == line_.size()) break;
    std::string_view key, tag_value;
    bool key_quoted = false;
    if (!readToken(TokenKind::kKey, key, key_quoted, why)) return LineResult::kRejected;
    skipBlanks();
    if (pos_ == line_.size() || line_[pos_] != '=') return reject(LineRejection::kBadTag, why);
    ++pos_;
    skipBlanks();
    if (pos_ == line_.size() || line_[pos_] == '=') return reject(LineRejection::kBadTag, why);
    if (!readToken(TokenKind::kValue, tag_value, quoted, why)) return LineResult::kRejected;
    if (key == "source") {
      source = tag_value;
      has_source = true;
    } else if (key == "host") {
      host = tag_value;
      has_host = true;
    } else if (key == "tag") {
      // Renamed `_tag` below, as the proxy does: `tag` means something
      // else in Wavefront queries.
      tag = tag_value;
      has_tag = true;
    } else {
      if (limits_.strict_charset || !key_quoted) {
        if (!charactersAreValid(key)) return reject(LineRejection::kBadTag, why);
      } else if (key.empty()) {
        return reject(LineRejection::kBadTag, why);
      }
      // Bounded work on hostile lines: beyond twice the limit no amount of
      // repeated keys can bring the count back under it.
      if (tags_.size() >= 2 * limits_.max_tags + 2) {
        return reject(LineRejection::kTooManyTags, why);
      }
      tags_.push_back(Tag{key, tag_value});
    }
  }

  // The source: source=, else host=, else the listener's default. With
  // source= present, host= stays as point tag `_host` (a host= tag would be
  // read as the source in queries).
  std::string_view point_source = default_source;
  if (has_source) {
    point_source = source;
    if (has_host) tags_.push_back(Tag{"_host", host, &host_key_});
  } else if (has_host) {
    point_source = host;
  }
  if (has_tag) tags_.push_back(Tag{"_tag", tag, &tag_key_});
  if (has_source || has_host) {
    if (isBlank(point_source) || !withinLength(point_source, limits_.max_source_length)) {
      return reject(LineRejection::kBadSource, why);
    }
  }

  if (tags_.size() > limits_.max_tags) {
    // Count distinct keys (a repeated key is one tag); n is bounded above.
    std::size_t distinct = 0;
    for (std::size_t a = 0; a < tags_.size(); ++a) {
      bool seen_later = false;
      for (std::size_t b = a + 1; b < tags_.size() && !seen_later; ++b) {
        seen_later = tags_[a].key == tags_[b].key;
      }
      if (!seen_later) ++distinct;
    }
    if (distinct > limits_.max_tags) return reject(LineRejection::kTooManyTags, why);
  }
  for (const Tag& t : tags_) {
    if (isBlank(t.value)) return reject(LineRejection::kBadTag, why);
    if (!withinLength(t.key, limits_.max_tag_key_length) ||
        !withinLength(t.value, limits_.max_tag_value_length) ||
        (t.key.size() + t.value.size() > limits_.max_tag_key_value_length &&
         text::utf16Length(t.key) + text::utf16Length(t.value) >
             limits_.max_tag_key_value_length)) {
      return reject(LineRejection::kTagTooLong, why);
    }
  }

  labels_.clear();
  for (const Tag& t : tags_) {
    if (t.interned_key != nullptr) {
      labels_.set(*t.interned_key, Symbol::intern(t.value));
    } else {
      labels_.set(t.key, t.value);
    }
  }
  if (!point_source.empty()) labels_.set(source_key_, Symbol::intern(point_source));

  out.name = Symbol::intern(name);
  out.labels = labels_.build();
  out.value = value;
  out.timestamp_ms = timestamp_ms;
  return LineResult::kPoint;
}

}  // namespace kubemetrics::scrapers::listeners
