#include "exporters/prometheus_endpoint/exposition_writer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <tuple>
#include <utility>

namespace kubemetrics::prometheus_endpoint {
namespace {

bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::string mapName(std::string_view name, bool allow_colon) {
  std::string out;
  out.reserve(name.size() + 1);
  if (name.empty() || isDigit(name.front())) out.push_back('_');
  for (char c : name) {
    const bool ok = isAlpha(c) || isDigit(c) || c == '_' || (allow_colon && c == ':');
    out.push_back(ok ? c : '_');
  }
  return out;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when invalid
// (truncated, overlong, surrogate or above U+10FFFF).
std::size_t utf8SequenceLength(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  std::size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
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
  if (i + len > s.size()) return 0;
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  if (b1 < lo || b1 > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < 0x80 || b > 0xBF) return 0;
  }
  return len;
}

void appendEscaped(std::string& out, std::string_view text, bool escape_quote) {
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else if (static_cast<unsigned char>(c) < 0x80) {
      out.push_back(c);
    } else {
      const std::size_t len = utf8SequenceLength(text, i);
      if (len == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(text.substr(i, len));
        i += len;
      }
      continue;
    }
    ++i;
  }
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

struct Row {
  std::string labels;  // "{a=\"1\"}" or ""
  double value;
  std::int64_t timestamp_ms;
  SteadyClock::time_point refreshed;
};

struct Group {
  bool has_info = false;
  bool type_conflict = false;
  bool reserved_label = false;  // an `le` or `quantile` label
  MetricType type = MetricType::kUntyped;
  std::string_view help_from;  // raw name whose help is used, for a stable choice
  const FamilyInfo* info = nullptr;
  std::vector<Row> rows;
};

const FamilyInfo& emptyInfo() {
  static const FamilyInfo info;
  return info;
}

void mergeInfo(Group& group, std::string_view raw_name, const FamilyInfo& info) {
  if (!group.has_info) {
    group.has_info = true;
    group.type = info.type;
    group.help_from = raw_name;
    group.info = &info;
    return;
  }
  if (info.type != group.type) group.type_conflict = true;
  // Prefer a real help text; between equals the smallest raw name, so the
  // page does not depend on hash-map order.
  const bool have_help = !group.info->help.empty();
  const bool new_help = !info.help.empty();
  if ((new_help && !have_help) || (new_help == have_help && raw_name < group.help_from)) {
    group.help_from = raw_name;
    group.info = &info;
  }
}

std::string labelText(const Labels& labels, bool& reserved_label) {
  if (labels.empty()) return {};
  // Sorted by mapped name; a name that maps onto an earlier one is dropped,
  // because duplicate label names make the whole page unparseable.
  std::vector<std::pair<std::string, std::string_view>> mapped;
  mapped.reserve(labels.size());
  for (const Label& label : labels) {
    mapped.emplace_back(mapLabelName(label.name.view()), label.value.view());
  }
  std::stable_sort(mapped.begin(), mapped.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  out.push_back('{');
  const std::string* previous = nullptr;
  for (const auto& [name, value] : mapped) {
    if (previous != nullptr && *previous == name) continue;
    if (previous != nullptr) out.push_back(',');
    previous = &name;
    if (name == "le" || name == "quantile") reserved_label = true;
    out += name;
    out += "=\"";
    appendLabelValue(out, value);
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

std::string_view typeText(const std::string& name, const Group& group) {
  if (group.type_conflict || group.reserved_label) return "untyped";
  const bool total = endsWith(name, "_total");
  switch (group.type) {
    case MetricType::kCounter:
      return total ? "counter" : "untyped";
    case MetricType::kGauge:
      if (total || endsWith(name, "_bucket") || endsWith(name, "_count") ||
          endsWith(name, "_sum")) {
        return "untyped";
      }
      return "gauge";
    default:
      // A histogram's or summary's series arrive one by one under their own
      // names (x_bucket, x_sum); untyped keeps them valid without regrouping.
      return "untyped";
  }
}

}  // namespace

std::string mapMetricName(std::string_view name) { return mapName(name, true); }
std::string mapLabelName(std::string_view name) { return mapName(name, false); }

void appendLabelValue(std::string& out, std::string_view value) { appendEscaped(out, value, true); }

void appendHelp(std::string& out, std::string_view help) { appendEscaped(out, help, false); }

void appendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
    out.append(buffer, result.ptr);
  }
}

ExpositionStats writeExposition(std::string& out, std::vector<SeriesSnapshot> series,
                                const FamilyInfoMap& families,
                                const std::unordered_set<std::string>& reserved_names) {
  ExpositionStats stats;
  std::map<std::string, Group> groups;
  // Mapping is per name, not per series: a million series share a few
  // thousand names.
  std::unordered_map<const void*, Group*> group_of;
  for (SeriesSnapshot& s : series) {
    auto [it, inserted] = group_of.try_emplace(s.name.id(), nullptr);
    if (inserted) {
      Group& group = groups[mapMetricName(s.name.view())];
      const auto info = families.find(s.name);
      mergeInfo(group, s.name.view(), info == families.end() ? emptyInfo() : info->second);
      it->second = &group;
    }
    Group& group = *it->second;
    group.rows.push_back(
        Row{labelText(s.labels, group.reserved_label), s.value, s.timestamp_ms, s.refreshed});
  }
  series.clear();

  for (auto& [name, group] : groups) {
    if (reserved_names.contains(name)) {
      stats.reserved_series += group.rows.size();
      continue;
    }
    // Equal label texts end up adjacent with the latest first.
    std::sort(group.rows.begin(), group.rows.end(), [](const Row& a, const Row& b) {
      return std::tie(a.labels, b.timestamp_ms, b.refreshed) <
             std::tie(b.labels, a.timestamp_ms, a.refreshed);
    });
    out += "# HELP ";
    out += name;
    out.push_back(' ');
    const FamilyInfo& info = *group.info;
    if (!info.help.empty()) {
      appendHelp(out, info.help);
    } else if (!info.source.empty()) {
      out += "Collected by kubemetrics-agent from source ";
      appendHelp(out, info.source);
      out.push_back('.');
    } else {
      out += "Collected by kubemetrics-agent.";
    }
    out += "\n# TYPE ";
    out += name;
    out.push_back(' ');
    out += typeText(name, group);
    out.push_back('\n');
    ++stats.families;
    const std::string* previous = nullptr;
    for (const Row& row : group.rows) {
      if (previous != nullptr && *previous == row.labels) {
        ++stats.duplicates;
        continue;
      }
      previous = &row.labels;
      out += name;
      out += row.labels;
      out.push_back(' ');
      appendValue(out, row.value);
      out.push_back('\n');
      ++stats.series;
    }
  }
  return stats;
}

}  // namespace kubemetrics::prometheus_endpoint
