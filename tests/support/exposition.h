#pragma once
// Reads the series of a Prometheus text-format page (exposition format
// 0.0.4, prometheus.io/docs/instrumenting/exposition_formats: `name{k="v",...}
// value [timestamp]`, label values escaped as \\, \" and \n), for tests that
// check what the agent's /metrics page shows. Written from the format's
// document, not from the agent's writer.

#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace kubemetrics::testing {

struct ExposedSeries {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string value;  // as written
};

/// One sample line, or nullopt for a comment, a blank or a malformed line.
inline std::optional<ExposedSeries> parseExpositionLine(std::string_view line) {
  if (line.empty() || line.front() == '#') return std::nullopt;
  ExposedSeries out;
  std::size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  out.name = std::string(line.substr(0, i));
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      const std::size_t eq = line.find('=', i);
      if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
        return std::nullopt;
      }
      const std::string key(line.substr(i, eq - i));
      std::string value;
      std::size_t j = eq + 2;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size()) {
          ++j;
          value.push_back(line[j] == 'n' ? '\n' : line[j]);
        } else {
          value.push_back(line[j]);
        }
      }
      if (j >= line.size()) return std::nullopt;
      out.labels[key] = std::move(value);
      i = j + 1;
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return std::nullopt;
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') return std::nullopt;
  const std::string_view rest = line.substr(i + 1);
  out.value = std::string(rest.substr(0, rest.find(' ')));
  return out;
}

/// Every sample line of `page` named `name`.
inline std::vector<ExposedSeries> exposedSeries(const std::string& page, std::string_view name) {
  std::vector<ExposedSeries> out;
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with(name)) continue;
    if (auto series = parseExpositionLine(line); series && series->name == name) {
      out.push_back(std::move(*series));
    }
  }
  return out;
}

/// The value of the one series `name` of `page` whose labels include every
/// pair of `match`; nullopt when there is none, or more than one (a test
/// that matched too loosely).
inline std::optional<double> exposedValue(const std::string& page, std::string_view name,
                                          const std::map<std::string, std::string>& match = {}) {
  std::optional<double> found;
  for (const ExposedSeries& series : exposedSeries(page, name)) {
    bool all = true;
    for (const auto& [key, value] : match) {
      const auto it = series.labels.find(key);
      all = all && it != series.labels.end() && it->second == value;
    }
    if (!all) continue;
    if (found) return std::nullopt;
    found = std::stod(series.value);
  }
  return found;
}

}  // namespace kubemetrics::testing
