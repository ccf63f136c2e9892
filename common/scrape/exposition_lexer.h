#pragma once

// Token-level pieces of the Prometheus text format and OpenMetrics grammars:
// character classes, metric names, label sets. Stateless functions used by
// TextParser and its OpenMetrics checks. The ones run per byte or per line
// are inline: they sit on the parser's hot path (one pass over each line)
// and must inline into it as they did when they were local to parser.cc.

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace kubemetrics::scrape {

inline bool isNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
inline bool isNameChar(char c) { return isNameStart(c) || (c >= '0' && c <= '9'); }
inline bool isLabelStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
inline bool isLabelChar(char c) { return isLabelStart(c) || (c >= '0' && c <= '9'); }
inline bool isBlank(char c) { return c == ' ' || c == '\t'; }

/// `a` equals `b`, ignoring the case of ASCII letters in `a`; `b` is lower case.
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

/// The end of the metric name starting at s[pos]; `pos` when there is none.
inline std::size_t scanMetricName(std::string_view s, std::size_t pos) {
  if (pos >= s.size() || !isNameStart(s[pos])) return pos;
  ++pos;
  while (pos < s.size() && isNameChar(s[pos])) ++pos;
  return pos;
}

/// Short, printable excerpt of untrusted input for error messages.
std::string excerpt(std::string_view s);

/// HELP text with its escapes (\\ and \n) resolved, into `out`.
void unescapeHelp(std::string_view in, std::string& out);

/// The end of `name{...}` when text[name_end] opens a label set (else
/// `name_end`): one past its '}'. npos when the label set is unterminated.
inline std::size_t findSeriesEnd(std::string_view text, std::size_t name_end) {
  if (name_end >= text.size() || text[name_end] != '{') return name_end;
  // memchr-driven: the label set is most of a line, and the hot path of a
  // steady scrape is finding its end to look the series up.
  const char* const begin = text.data();
  const char* const stop = begin + text.size();
  const char* p = begin + name_end + 1;
  for (;;) {
    const auto* close =
        static_cast<const char*>(std::memchr(p, '}', static_cast<std::size_t>(stop - p)));
    if (close == nullptr) return std::string_view::npos;
    const auto* quote =
        static_cast<const char*>(std::memchr(p, '"', static_cast<std::size_t>(close - p)));
    if (quote == nullptr) return static_cast<std::size_t>(close - begin) + 1;
    // Skip the quoted value: its end is a '"' after an even run of backslashes.
    p = quote + 1;
    for (;;) {
      const auto* q =
          static_cast<const char*>(std::memchr(p, '"', static_cast<std::size_t>(stop - p)));
      if (q == nullptr) return std::string_view::npos;
      std::size_t backslashes = 0;
      for (const char* b = q; b > p && b[-1] == '\\'; --b) ++backslashes;
      p = q + 1;
      if (backslashes % 2 == 0) break;
    }
  }
}

/// Parses the label set `{...}` from text[open] to text[close - 1] (the
/// '}'; findSeriesEnd() gives `close`), calling on(name, value) for each
/// label, which returns an error reason or "". Each value is unescaped into
/// `value` (scratch reused between calls: no allocation per label).
/// `strict`: OpenMetrics (no blanks, no trailing comma). Returns an error
/// reason, or "" when the set is valid.
template <class OnLabel>
std::string parseLabelSet(std::string_view text, std::size_t open, std::size_t close, bool strict,
                          std::string& value, OnLabel&& on) {
  std::size_t p = open + 1;
  const std::size_t end = close - 1;  // the '}'
  bool first = true;
  for (;;) {
    if (!strict) {
      while (p < end && isBlank(text[p])) ++p;
    }
    if (p == end) {
      if (!first && strict) return "trailing comma in label set";
      return {};
    }
    const std::size_t name_start = p;
    if (!isLabelStart(text[p])) return "invalid label name at \"" + excerpt(text.substr(p)) + "\"";
    while (p < end && isLabelChar(text[p])) ++p;
    const std::string_view lname = text.substr(name_start, p - name_start);
    if (!strict) {
      while (p < end && isBlank(text[p])) ++p;
    }
    if (p >= end || text[p] != '=')
      return "expected '=' after label name \"" + std::string(lname) + "\"";
    ++p;
    if (!strict) {
      while (p < end && isBlank(text[p])) ++p;
    }
    if (p >= end || text[p] != '"')
      return "label value of \"" + std::string(lname) + "\" is not quoted";
    ++p;
    value.clear();
    std::size_t run = p;
    while (p < end && text[p] != '"') {
      if (text[p] == '\\' && p + 1 < end) {
        const char e = text[p + 1];
        // \\ \" \n are the escapes; others stay as written (Prometheus and
        // the OpenMetrics suite keep "\z" literally).
        if (e == '\\' || e == '"' || e == 'n') {
          value.append(text.substr(run, p - run));
          value.push_back(e == 'n' ? '\n' : e);
          p += 2;
          run = p;
          continue;
        }
      }
      ++p;
    }
    if (p >= end) return "unterminated label value";
    value.append(text.substr(run, p - run));
    ++p;  // closing quote
    if (std::string reason = on(lname, std::string_view(value)); !reason.empty()) {
      return reason;
    }
    first = false;
    if (!strict) {
      while (p < end && isBlank(text[p])) ++p;
    }
    if (p == end) return {};
    if (text[p] != ',')
      return "expected ',' or '}' in label set at \"" + excerpt(text.substr(p)) + "\"";
    ++p;
  }
}

}  // namespace kubemetrics::scrape
