#include "exposition_writer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <tuple>
#include <utility>

#include "common/text/prometheus_names.h"
#include "common/text/utf8.h"

namespace kubemetrics::exporters::prometheus {
namespace {

constexpr std::size_t kSelfMetricsRoom = 256 * 1024;

// Whether `text` needs no escaping and no UTF-8 repair: the common case,
// appended in one piece.
bool plainAscii(std::string_view text, bool escape_quote) {
  for (const char c : text) {
    if (c == '\\' || c == '\n' || (c == '"' && escape_quote) ||
        static_cast<unsigned char>(c) >= 0x80) {
      return false;
    }
  }
  return true;
}

void appendEscaped(std::string& out, std::string_view text, bool escape_quote) {
  if (plainAscii(text, escape_quote)) {
    out.append(text);
    return;
  }
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
      const std::size_t len = text::utf8SequenceLength(text, i);
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

// Label names mapped to Prometheus' rules, once per distinct name: a
// million series share a handful of label names.
class LabelNames {
 public:
  const std::string& mapped(const Symbol& name) {
    auto [it, inserted] = names_.try_emplace(name.id());
    if (inserted) it->second = text::mapLabelName(name.view());
    return it->second;
  }

 private:
  std::unordered_map<const void*, std::string> names_;
};

std::string labelText(const Labels& labels, bool& reserved_label, LabelNames& names) {
  if (labels.empty()) return {};
  // Sorted by mapped name; a name that maps onto an earlier one is dropped,
  // because duplicate label names make the whole page unparseable.
  std::vector<std::pair<const std::string*, std::string_view>> mapped;
  mapped.reserve(labels.size());
  for (const Label& label : labels) {
    mapped.emplace_back(&names.mapped(label.name), label.value.view());
  }
  std::stable_sort(mapped.begin(), mapped.end(),
                   [](const auto& a, const auto& b) { return *a.first < *b.first; });
  // Sized before it is filled: grown by doubling, a million label texts
  // would hold up to twice their size.
  std::size_t size = 2;
  for (const auto& [name, value] : mapped) size += name->size() + value.size() + 4;
  std::string out;
  out.reserve(size);
  out.push_back('{');
  const std::string* previous = nullptr;
  for (const auto& [name_ptr, value] : mapped) {
    const std::string& name = *name_ptr;
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
  LabelNames label_names;
  for (SeriesSnapshot& s : series) {
    auto [it, inserted] = group_of.try_emplace(s.name.id(), nullptr);
    if (inserted) {
      Group& group = groups[text::mapMetricName(s.name.view())];
      const auto info = families.find(s.name);
      mergeInfo(group, s.name.view(), info == families.end() ? emptyInfo() : info->second);
      it->second = &group;
    }
    Group& group = *it->second;
    group.rows.push_back(Row{labelText(s.labels, group.reserved_label, label_names), s.value,
                             s.timestamp_ms, s.refreshed});
  }
  // Freed, not just cleared: the rows now hold what the page needs.
  std::vector<SeriesSnapshot>().swap(series);

  // The exact size of what follows (values at their longest), so the page
  // is allocated once instead of doubled and copied while the rows live.
  std::size_t size = out.size();
  for (const auto& [name, group] : groups) {
    size += 2 * name.size() + 64 + (group.info ? group.info->help.size() * 2 : 0) +
            (group.info ? group.info->source.size() * 2 : 0);
    for (const Row& row : group.rows) size += name.size() + row.labels.size() + 26;
  }
  // Plus room for the agent's own metrics, which the caller appends: a
  // reallocation of a full page would double it.
  out.reserve(size + kSelfMetricsRoom);

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
    // Written: its label texts go now, so the rows shrink as the page grows.
    std::vector<Row>().swap(group.rows);
  }
  return stats;
}

}  // namespace kubemetrics::exporters::prometheus
