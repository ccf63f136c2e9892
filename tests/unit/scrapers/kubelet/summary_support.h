#pragma once

// Helpers shared by the kubelet Summary tests: reading fixtures, finding
// emitted samples, and rewriting a summary's text to advance its counters.

#include <gtest/gtest.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "kubemetrics/sample.h"
#include "scrapers/kubelet/parser.h"
#include "support/process.h"

namespace kubemetrics::scrapers::kubelet::testing {

using kubemetrics::testing::readFile;

inline std::string fixturePath(const std::string& name) {
  return std::string(KM_FIXTURES_DIR) + "/kubelet/" + name;
}

inline std::string fixture(const std::string& name) { return readFile(fixturePath(name)); }

/// Every summary_*.json fixture, by file name, sorted.
inline std::vector<std::string> summaryFixtures() {
  std::vector<std::string> names;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(KM_FIXTURES_DIR) + "/kubelet")) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("summary_") && name.ends_with(".json")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

/// Samples named `name` whose labels include every pair of `match`.
inline std::vector<Sample> find(const SampleBatch& batch, std::string_view name,
                                const std::map<std::string, std::string>& match = {}) {
  std::vector<Sample> found;
  for (const Sample& s : batch.samples) {
    if (s.name.view() != name) continue;
    bool ok = true;
    for (const auto& [k, v] : match) ok = ok && s.labels.get(k) == v;
    if (ok) found.push_back(s);
  }
  return found;
}

/// The value of the one sample (name, labels ⊇ match) and the count; NaN when
/// there is not exactly one.
inline double value(const SampleBatch& batch, std::string_view name,
                    const std::map<std::string, std::string>& match = {}) {
  const std::vector<Sample> found = find(batch, name, match);
  return found.size() == 1 ? found[0].value : std::nan("");
}

inline std::string formatRfc3339(std::int64_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// Moves every block `time` of the summary by `seconds` (startTime stays).
inline std::string shiftTimes(const std::string& text, std::int64_t seconds) {
  static const std::regex kTime("\"time\": *\"([^\"]+)\"");
  std::string out;
  auto begin = std::sregex_iterator(text.begin(), text.end(), kTime);
  std::size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    out.append(text, last, static_cast<std::size_t>(m.position(0)) - last);
    const auto ms = parseRfc3339Ms(m[1].str());
    EXPECT_TRUE(ms.has_value()) << m[1];
    out += "\"time\": \"" + formatRfc3339(ms.value_or(0) / 1000 + seconds) + "\"";
    last = static_cast<std::size_t>(m.position(0) + m.length(0));
  }
  out.append(text, last);
  return out;
}

/// Replaces every occurrence of `from` with `to`; expects at least one.
inline std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  std::size_t count = 0;
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
    ++count;
  }
  EXPECT_GT(count, 0u) << "not in the text: " << from;
  return text;
}

}  // namespace kubemetrics::scrapers::kubelet::testing
