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
// Reserved per row for " <value>\n": most values are short integers or
// counts; a longer one grows its family's buffer.
constexpr std::size_t kValueTextEstimate = 12;

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

// A series of a group: its label text ("{a=\"1\"}" or "") and then its
// value text (" 1.5\n") are a slice of the group's line_tails, so a million
// rows are not a million heap blocks, each value is formatted once, and the
// page's size is known exactly before it is written.
struct Row {
  std::uint64_t label_offset;
  std::uint32_t label_size;
  std::uint8_t value_size;  // " <value>\n" after the label text
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
  std::string line_tails;         // every row's label and value text, one after the other
  std::size_t row_count = 0;      // the rows to come, to reserve them
  std::size_t tail_estimate = 0;  // line_tails' size to come, to reserve it

  std::string_view labels(const Row& row) const {
    return std::string_view(line_tails).substr(row.label_offset, row.label_size);
  }
  std::string_view lineTail(const Row& row) const {
    return std::string_view(line_tails).substr(row.label_offset, row.label_size + row.value_size);
  }
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

using MappedLabels = std::vector<std::pair<const std::string*, std::string_view>>;

// `labels` with their mapped names into `mapped` (reused: no allocation per
// series), sorted by mapped name, stably.
void mapLabels(const Labels& labels, LabelNames& names, MappedLabels& mapped) {
  mapped.clear();
  for (const Label& label : labels) {
    mapped.emplace_back(&names.mapped(label.name), label.value.view());
  }
  const auto by_name = [](const auto& a, const auto& b) { return *a.first < *b.first; };
  if (mapped.size() > 32) {
    std::stable_sort(mapped.begin(), mapped.end(), by_name);
    return;
  }
  // Insertion sort: stable, and unlike std::stable_sort it allocates no
  // buffer, once per series.
  for (std::size_t i = 1; i < mapped.size(); ++i) {
    for (std::size_t j = i; j > 0 && by_name(mapped[j], mapped[j - 1]); --j) {
      std::swap(mapped[j], mapped[j - 1]);
    }
  }
}

// About the size of the label text of `labels`: exact unless a value needs
// escaping or a name mapping changes its length (then the reserve grows).
std::size_t labelTextEstimate(const Labels& labels) {
  if (labels.empty()) return 0;
  std::size_t size = 2;
  for (const Label& label : labels) {
    size += label.name.view().size() + label.value.view().size() + 4;
  }
  return size;
}

// Appends the label text of `mapped` (from mapLabels) to `out`.
void appendLabelText(std::string& out, const MappedLabels& mapped, bool& reserved_label) {
  if (mapped.empty()) return;
  // A name that maps onto an earlier one is dropped, because duplicate label
  // names make the whole page unparseable.
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
  MappedLabels mapped;
  // First the size of each group, so its rows and label texts are allocated
  // once instead of doubled while they fill.
  std::vector<Group*> group_of_series;
  group_of_series.reserve(series.size());
  for (const SeriesSnapshot& s : series) {
    auto [it, inserted] = group_of.try_emplace(s.name.id(), nullptr);
    if (inserted) {
      Group& group = groups[text::mapMetricName(s.name.view())];
      const auto info = families.find(s.name);
      mergeInfo(group, s.name.view(), info == families.end() ? emptyInfo() : info->second);
      it->second = &group;
    }
    Group& group = *it->second;
    group_of_series.push_back(&group);
    ++group.row_count;
    group.tail_estimate += labelTextEstimate(s.labels) + kValueTextEstimate;
  }
  for (auto& [name, group] : groups) {
    group.rows.reserve(group.row_count);
    group.line_tails.reserve(group.tail_estimate);
  }
  for (std::size_t i = 0; i < series.size(); ++i) {
    const SeriesSnapshot& s = series[i];
    Group& group = *group_of_series[i];
    mapLabels(s.labels, label_names, mapped);
    std::string& tails = group.line_tails;
    const std::size_t offset = tails.size();
    appendLabelText(tails, mapped, group.reserved_label);
    const std::size_t value_offset = tails.size();
    tails.push_back(' ');
    appendValue(tails, s.value);
    tails.push_back('\n');
    group.rows.push_back(Row{offset, static_cast<std::uint32_t>(value_offset - offset),
                             static_cast<std::uint8_t>(tails.size() - value_offset), s.timestamp_ms,
                             s.refreshed});
  }
  std::vector<Group*>().swap(group_of_series);
  // Freed, not just cleared: the rows now hold what the page needs.
  std::vector<SeriesSnapshot>().swap(series);

  // The size of what follows (exact but for the help texts' escapes), so the
  // page is allocated once instead of doubled and copied while the rows live.
  std::size_t size = out.size();
  for (const auto& [name, group] : groups) {
    size += 2 * name.size() + 80 + (group.info ? group.info->help.size() * 2 : 0) +
            (group.info ? group.info->source.size() * 2 : 0);
    // Every row's line is the name and its tail, all of them in line_tails.
    size += name.size() * group.rows.size() + group.line_tails.size();
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
    // (A structured binding cannot be captured before clang 16.)
    const Group& texts = group;
    std::sort(group.rows.begin(), group.rows.end(), [&texts](const Row& a, const Row& b) {
      const std::string_view a_labels = texts.labels(a);
      const std::string_view b_labels = texts.labels(b);
      return std::tie(a_labels, b.timestamp_ms, b.refreshed) <
             std::tie(b_labels, a.timestamp_ms, a.refreshed);
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
    const Row* previous = nullptr;
    for (const Row& row : group.rows) {
      const std::string_view labels = group.labels(row);
      if (previous != nullptr && group.labels(*previous) == labels) {
        ++stats.duplicates;
        continue;
      }
      previous = &row;
      out += name;
      out += group.lineTail(row);
      ++stats.series;
    }
    // Written: its rows and label texts go now, so they shrink as the page
    // grows.
    std::vector<Row>().swap(group.rows);
    std::string().swap(group.line_tails);
  }
  return stats;
}

}  // namespace kubemetrics::exporters::prometheus
