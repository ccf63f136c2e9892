#include "line_format.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "common/text/utf8.h"

namespace kubemetrics::exporters::wavefront {
namespace {

constexpr std::string_view kDelta1 = "\xE2\x88\x86";       // U+2206 INCREMENT
constexpr std::string_view kDelta2 = "\xCE\x94";           // U+0394 GREEK CAPITAL LETTER DELTA
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool isNameChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// Appends `text` mapping every character outside [A-Za-z0-9._-] (and, with
// `allow_slash_comma`, '/' ','), one code point or invalid byte at a time, to
// '-'. Returns whether anything was replaced.
bool appendSanitized(std::string_view text, bool allow_slash_comma, std::string& out) {
  bool altered = false;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (isNameChar(c) || (allow_slash_comma && (c == '/' || c == ','))) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    altered = true;
    out.push_back('-');
    const std::size_t len = text::utf8SequenceLength(text, i);
    i += len == 0 ? 1 : len;
  }
  return altered;
}

bool hasDeltaOrTildePrefix(std::string_view name, std::size_t* prefix_len) {
  if (name.starts_with('~')) {
    *prefix_len = 1;
  } else if (name.starts_with(kDelta1)) {
    *prefix_len = kDelta1.size();
  } else if (name.starts_with(kDelta2)) {
    *prefix_len = kDelta2.size();
  } else {
    return false;
  }
  return true;
}

void appendValue(double value, std::string& out) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;  // 32 bytes always hold the shortest form of a double
  out.append(buf, end);
}

void appendTimestamp(std::int64_t timestamp_ms, std::string& out) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, timestamp_ms / 1000);
  (void)ec;
  out.append(buf, end);
  const auto ms = static_cast<int>(timestamp_ms % 1000);
  if (ms == 0) return;
  // Fractional seconds keep the sample's precision; trailing zeros dropped.
  char frac[4] = {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                  static_cast<char>('0' + ms % 10)};
  std::size_t n = 4;
  while (frac[n - 1] == '0') --n;
  out.append(frac, n);
}

// True when `value` needs no rewriting inside double quotes: printable
// ASCII, no '"', and no '\' at the end. The common case, copied as is.
bool isPlainValue(std::string_view value) {
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7F || c == '"') return false;
  }
  return value.empty() || value.back() != '\\';
}

struct PendingTag {
  std::size_t key_begin;  // offsets in `out`
  std::size_t key_end;
};

}  // namespace

std::string_view dropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kNonFiniteValue:
      return "non_finite_value";
    case DropReason::kEmptyName:
      return "empty_name";
    case DropReason::kNameTooLong:
      return "name_too_long";
    case DropReason::kNoSource:
      return "no_source";
    case DropReason::kSourceTooLong:
      return "source_too_long";
    case DropReason::kTooManyTags:
      return "too_many_tags";
    case DropReason::kTagTooLong:
      return "tag_too_long";
    case DropReason::kDuplicateTagKey:
      return "duplicate_tag_key";
    case DropReason::kEmptyTagKey:
      return "empty_tag_key";
    case DropReason::kStaleMarker:
      return "stale_marker";
  }
  return "unknown";
}

std::uint64_t FormatStats::droppedTotal() const {
  std::uint64_t total = 0;
  for (const std::uint64_t n : dropped) total += n;
  return total;
}

void FormatStats::add(const FormatStats& other) {
  lines += other.lines;
  sanitized += other.sanitized;
  for (std::size_t i = 0; i < kDropReasonCount; ++i) dropped[i] += other.dropped[i];
  for (std::size_t i = 0; i < kTrimReasonCount; ++i) trimmed[i] += other.trimmed[i];
}

bool appendMetricName(std::string_view name, std::string& out) {
  std::size_t prefix_len = 0;
  if (hasDeltaOrTildePrefix(name, &prefix_len)) {
    out.append(name.substr(0, prefix_len));
    name.remove_prefix(prefix_len);
  }
  return appendSanitized(name, /*allow_slash_comma=*/true, out);
}

bool appendTagKey(std::string_view key, std::string& out) {
  return appendSanitized(key, /*allow_slash_comma=*/false, out);
}

bool appendQuotedTagValue(std::string_view value, std::string& out) {
  out.push_back('"');
  if (isPlainValue(value)) {
    out.append(value);
    out.push_back('"');
    return false;
  }
  bool altered = false;
  std::size_t i = 0;
  while (i < value.size()) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c == '"') {
      out.append("\\\"");  // un-escaped by the parser: not an alteration
      ++i;
    } else if (c == '\n') {
      out.append("\\n");
      altered = true;
      ++i;
    } else if (c == '\r') {
      out.append("\\r");
      altered = true;
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      out.push_back('-');
      altered = true;
      ++i;
    } else if (c == '\\' && i + 1 == value.size()) {
      out.push_back('-');
      altered = true;
      ++i;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else {
      const std::size_t len = text::utf8SequenceLength(value, i);
      if (len == 0) {
        out.append(kReplacement);
        altered = true;
        ++i;
      } else {
        out.append(value.substr(i, len));
        i += len;
      }
    }
  }
  out.push_back('"');
  return altered;
}

LineFormatter::LineFormatter(LineFormatOptions options)
    : options_(std::move(options)), trimmer_(options_.exclude_tags) {}

std::string_view LineFormatter::sourceFor(const Sample& sample) const {
  if (!options_.source_override.empty()) return options_.source_override;
  for (const std::string_view key : {"source", "node", "nodename"}) {
    const std::string_view value = sample.labels.get(key);
    if (!value.empty()) return value;
  }
  return options_.default_source;
}

bool LineFormatter::format(const Sample& sample, std::string& out, FormatStats& stats) const {
  const std::size_t start = out.size();
  auto drop = [&](DropReason reason) {
    out.resize(start);
    ++stats.dropped[static_cast<std::size_t>(reason)];
    return false;
  };
  if (isStaleMarker(sample.value)) return drop(DropReason::kStaleMarker);
  if (!std::isfinite(sample.value)) return drop(DropReason::kNonFiniteValue);

  // Metric name, quoted only when it holds '/' or ',' (saves two bytes a line).
  bool altered = false;
  const std::string_view raw_name = sample.name.view();
  const bool quote_name = raw_name.find_first_of("/,") != std::string_view::npos;
  if (quote_name) out.push_back('"');
  const std::size_t name_begin = out.size();
  altered |= appendMetricName(raw_name, out);
  {
    const std::string_view name(out.data() + name_begin, out.size() - name_begin);
    std::size_t prefix_len = 0;
    const bool prefixed = hasDeltaOrTildePrefix(name, &prefix_len);
    if (name.size() == (prefixed ? prefix_len : 0)) return drop(DropReason::kEmptyName);
    // Sanitised names are ASCII but for the one-character prefix.
    const std::size_t length = prefixed ? name.size() - prefix_len + 1 : name.size();
    if (length > kMaxMetricNameLength) return drop(DropReason::kNameTooLong);
  }
  if (quote_name) out.push_back('"');

  out.push_back(' ');
  appendValue(sample.value, out);
  if (sample.timestamp_ms > 0) {
    out.push_back(' ');
    appendTimestamp(sample.timestamp_ms, out);
  }

  const std::string_view source = sourceFor(sample);
  if (source.empty()) return drop(DropReason::kNoSource);
  out.append(" source=");
  const std::size_t source_begin = out.size();
  altered |= appendSanitized(source, /*allow_slash_comma=*/false, out);
  if (out.size() - source_begin > kMaxSourceLength) return drop(DropReason::kSourceTooLong);

  const bool source_overridden = !options_.source_override.empty();
  // The tags to write: every label but the one consumed as the source and
  // the excluded ones, trimmed to the limit when there are more. Reused per
  // thread: after warm-up no allocation per line.
  thread_local std::vector<const Label*> tags;
  tags.clear();
  TrimCounts trimmed{};
  for (const Label& label : sample.labels) {
    std::string_view key = label.name.view();
    if (key == "source") {
      if (!source_overridden) continue;  // consumed as the source
      key = "_source";
    }
    if (trimmer_.excluded(key)) {
      ++trimmed[static_cast<std::size_t>(TrimReason::kExcluded)];
      continue;
    }
    tags.push_back(&label);
  }
  if (tags.size() > kMaxPointTags) {
    trimmer_.trim(tags, kMaxPointTags, trimmed);
    if (tags.size() > kMaxPointTags) return drop(DropReason::kTooManyTags);
  }

  std::array<PendingTag, kMaxPointTags> keys{};
  std::size_t tag_count = 0;
  bool renamed_key = false;
  for (const Label* label : tags) {
    std::string_view key = label->name.view();
    if (key == "source") {
      key = "_source";
      renamed_key = true;
    }
    out.push_back(' ');
    const std::size_t key_begin = out.size();
    renamed_key |= appendTagKey(key, out);
    const std::size_t key_length = out.size() - key_begin;  // ASCII after sanitising
    keys[tag_count++] = {key_begin, out.size()};
    out.push_back('=');
    const std::size_t value_begin = out.size();
    altered |= appendQuotedTagValue(label->value.view(), out);
    // The limits apply to the value as the parser reads it back: without
    // the quotes and with \" as one character.
    const std::string_view written(out.data() + value_begin + 1, out.size() - value_begin - 2);
    std::size_t value_length = text::utf16Length(written);
    for (std::size_t p = written.find("\\\""); p != std::string_view::npos;
         p = written.find("\\\"", p + 2)) {
      --value_length;
    }
    if (key_length == 0) return drop(DropReason::kEmptyTagKey);
    if (key_length > kMaxTagKeyLength || value_length > kMaxTagValueLength ||
        key_length + value_length > kMaxTagKeyValueLength) {
      return drop(DropReason::kTagTooLong);
    }
  }
  // Label names are unique, so keys can only collide once one was rewritten.
  if (renamed_key) {
    for (std::size_t a = 0; a < tag_count; ++a) {
      const std::string_view ka(out.data() + keys[a].key_begin,
                                keys[a].key_end - keys[a].key_begin);
      for (std::size_t b = a + 1; b < tag_count; ++b) {
        const std::string_view kb(out.data() + keys[b].key_begin,
                                  keys[b].key_end - keys[b].key_begin);
        if (ka == kb) return drop(DropReason::kDuplicateTagKey);
      }
    }
  }
  out.push_back('\n');
  ++stats.lines;
  if (altered || renamed_key) ++stats.sanitized;
  for (std::size_t i = 0; i < kTrimReasonCount; ++i) stats.trimmed[i] += trimmed[i];
  return true;
}

}  // namespace kubemetrics::exporters::wavefront
