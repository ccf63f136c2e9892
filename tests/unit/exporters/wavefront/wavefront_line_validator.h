#pragma once

// An independent reader of Wavefront data format lines, for tests only. It
// does not call the exporter's formatter: it re-implements the proxy's
// tokenizer rules (java-lib StringParser: quoted tokens in ' or ", with only
// \<quote> un-escaped; '=' a token of its own) and the docs' constraints
// (pages/doc/wavefront_data_format.md), so the two can disagree and a test
// can fail. Header-only; used by the unit and the integration tests.

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kubemetrics::exporters::wavefront::testing {

struct WfToken {
  std::string text;
  bool quoted = false;
  bool equals = false;  // the '=' separator
};

struct WfLine {
  std::string name;
  bool name_quoted = false;
  double value = 0;
  std::optional<double> timestamp;  // as written (seconds, maybe fractional)
  std::optional<std::string> source;
  std::string source_key;  // "source" or "host"
  std::vector<std::pair<std::string, std::string>> tags;
  std::vector<bool> tag_value_quoted;
};

inline bool wfTokenize(std::string_view line, std::vector<WfToken>* out, std::string* error) {
  std::size_t i = 0;
  while (true) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) return true;
    const char c = line[i];
    if (c == '"' || c == '\'') {
      std::size_t j = i + 1;
      std::string text;
      bool closed = false;
      while (j < line.size()) {
        if (line[j] == '\\' && j + 1 < line.size() && line[j + 1] == c) {
          text.push_back(c);
          j += 2;
        } else if (line[j] == c) {
          closed = true;
          ++j;
          break;
        } else {
          text.push_back(line[j]);
          ++j;
        }
      }
      if (!closed) {
        *error = "unterminated quote";
        return false;
      }
      out->push_back({std::move(text), true, false});
      i = j;
    } else if (c == '=') {
      out->push_back({"=", false, true});
      ++i;
    } else {
      std::size_t j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '=') ++j;
      out->push_back({std::string(line.substr(i, j - i)), false, false});
      i = j;
    }
  }
}

// A finite decimal number the way Java's Double.parseDouble reads ours: no
// NaN/Infinity words, no hex.
inline bool wfParseNumber(const std::string& text, double* value) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) {
      return false;
    }
  }
  errno = 0;
  char* end = nullptr;
  *value = std::strtod(text.c_str(), &end);
  // ERANGE on a subnormal is fine (Java reads it); overflow gives inf.
  return end == text.c_str() + text.size() && std::isfinite(*value);
}

inline bool wfIsNameChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// Strips an allowed first character: '~', U+2206, U+0394.
inline std::string_view wfStripPrefix(std::string_view name) {
  for (const std::string_view p :
       {std::string_view("~"), std::string_view("\xE2\x88\x86"), std::string_view("\xCE\x94")}) {
    if (name.starts_with(p)) return name.substr(p.size());
  }
  return name;
}

/// Parses one line (without its '\n'). Requires a name, a finite value and
/// a source (source= or, as the docs allow for compatibility, host=).
/// Unquoted names must use the documented characters; quoted names may
/// hold anything (the proxy's decoder accepts them; strict checks below).
inline std::optional<WfLine> parseWavefrontLine(std::string_view line, std::string* error) {
  std::vector<WfToken> tokens;
  if (!wfTokenize(line, &tokens, error)) return std::nullopt;
  WfLine out;
  if (tokens.empty() || tokens[0].equals) {
    *error = "no metric name";
    return std::nullopt;
  }
  out.name = tokens[0].text;
  out.name_quoted = tokens[0].quoted;
  if (!out.name_quoted) {
    for (const char c : wfStripPrefix(out.name)) {
      if (!wfIsNameChar(static_cast<unsigned char>(c))) {
        *error = "invalid character in unquoted metric name";
        return std::nullopt;
      }
    }
  }
  if (tokens.size() < 2 || tokens[1].quoted || !wfParseNumber(tokens[1].text, &out.value)) {
    *error = "no (finite) metric value";
    return std::nullopt;
  }
  std::size_t i = 2;
  if (i < tokens.size() && !tokens[i].quoted && !(i + 1 < tokens.size() && tokens[i + 1].equals)) {
    double ts = 0;
    if (!wfParseNumber(tokens[i].text, &ts)) {
      *error = "bad timestamp: " + tokens[i].text;
      return std::nullopt;
    }
    out.timestamp = ts;
    ++i;
  }
  std::optional<std::string> host;
  while (i < tokens.size()) {
    if (i + 2 >= tokens.size() || tokens[i].equals || !tokens[i + 1].equals ||
        tokens[i + 2].equals) {
      *error = "malformed key=value at token " + std::to_string(i);
      return std::nullopt;
    }
    const std::string& key = tokens[i].text;
    const std::string& value = tokens[i + 2].text;
    if (key == "source" && !out.source) {
      out.source = value;
      out.source_key = "source";
    } else if (key == "host" && !host) {
      host = value;
    } else {
      out.tags.emplace_back(key, value);
      out.tag_value_quoted.push_back(tokens[i + 2].quoted);
    }
    i += 3;
  }
  if (!out.source && host) {
    out.source = host;
    out.source_key = "host";
  } else if (host) {
    out.tags.emplace_back("_host", *host);
    out.tag_value_quoted.push_back(true);
  }
  if (!out.source) {
    *error = "no source";
    return std::nullopt;
  }
  return out;
}

inline std::size_t wfUtf16Length(std::string_view s) {
  std::size_t n = 0;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) != 0x80) ++n;
    if (c >= 0xF0) ++n;
  }
  return n;
}

inline bool wfValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80                 ? 1
                      : c >= 0xC2 && c <= 0xDF ? 2
                      : c >= 0xE0 && c <= 0xEF ? 3
                      : c >= 0xF0 && c <= 0xF4 ? 4
                                               : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

/// The documented constraints on top of parsing, for what our exporter
/// sends: name characters (with '/' ',' only when quoted) and length <= 256,
/// source characters and length <= 128, tag keys [A-Za-z0-9._-], tag values
/// double-quoted, non-empty, no control characters, valid UTF-8, key+value
/// <= 254, at most 20 tags, no repeated key, no trailing backslash.
inline bool strictlyValid(std::string_view raw_line, const WfLine& line, std::string* error) {
  const std::string_view body = wfStripPrefix(line.name);
  if (body.empty()) {
    *error = "empty name";
    return false;
  }
  for (const char c : body) {
    const auto u = static_cast<unsigned char>(c);
    if (!wfIsNameChar(u) && !(line.name_quoted && (c == '/' || c == ','))) {
      *error = "name character not allowed: " + line.name;
      return false;
    }
  }
  if (wfUtf16Length(line.name) > 256) {
    *error = "name longer than 256";
    return false;
  }
  if (line.source_key != "source" || line.source->empty() || line.source->size() > 128) {
    *error = "source missing, empty or longer than 128";
    return false;
  }
  for (const char c : *line.source) {
    if (!wfIsNameChar(static_cast<unsigned char>(c))) {
      *error = "source character not allowed: " + *line.source;
      return false;
    }
  }
  if (line.tags.size() > 20) {
    *error = "more than 20 tags";
    return false;
  }
  for (std::size_t i = 0; i < line.tags.size(); ++i) {
    const auto& [k, v] = line.tags[i];
    if (k.empty() || v.empty() || !line.tag_value_quoted[i]) {
      *error = "empty or unquoted tag: " + k;
      return false;
    }
    for (const char c : k) {
      if (!wfIsNameChar(static_cast<unsigned char>(c))) {
        *error = "tag key character not allowed: " + k;
        return false;
      }
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (line.tags[j].first == k) {
        *error = "repeated tag key " + k;
        return false;
      }
    }
    if (!wfValidUtf8(v)) {
      *error = "tag value not UTF-8";
      return false;
    }
    for (const char c : v) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7F) {
        *error = "control character in tag value of " + k;
        return false;
      }
    }
    if (v.back() == '\\') {
      *error = "tag value ends with a backslash";
      return false;
    }
    if (k.size() > 64 || wfUtf16Length(v) > 255 || k.size() + wfUtf16Length(v) > 254) {
      *error = "tag too long: " + k;
      return false;
    }
  }
  if (raw_line.find('\n') != std::string_view::npos ||
      raw_line.find('\r') != std::string_view::npos) {
    *error = "raw newline in line";
    return false;
  }
  return true;
}

}  // namespace kubemetrics::exporters::wavefront::testing
