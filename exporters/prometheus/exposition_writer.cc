#include "exposition_writer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <span>
#include <tuple>
#include <utility>

#include "common/core/symbol_prefetch.h"
#include "common/text/prometheus_names.h"
#include "common/text/utf8.h"

namespace kubemetrics::exporters::prometheus {
namespace {

constexpr std::size_t kSelfMetricsRoom = 256 * 1024;
// The longest " <value>\n": a sign, 17 significant digits, a point and a
// 5-character exponent ("-2.2250738585072014e-308"), a space and a newline.
constexpr std::size_t kValueTextBound = 26;

// Whether `text` needs no escaping and no UTF-8 repair: the common case,
// appended in one piece.
bool plainAscii(std::string_view text, bool escape_quote) {
  // Eight bytes at a time (every label value of the page passes here): a
  // byte is flagged when its top bit is set or it is a backslash, a newline
  // or (with escape_quote) a double quote.
  constexpr std::uint64_t kOnes = 0x0101010101010101;
  constexpr std::uint64_t kHighs = 0x8080808080808080;
  const auto zero_byte = [](std::uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  const std::uint64_t quote = escape_quote ? kOnes * '"' : kOnes * '\\';
  std::size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, text.data() + i, 8);
    if (((word & kHighs) | zero_byte(word ^ (kOnes * '\\')) | zero_byte(word ^ (kOnes * '\n')) |
         zero_byte(word ^ quote)) != 0) {
      return false;
    }
  }
  for (const char c : text.substr(i)) {
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

// A series of the family being written: its label text ("{a=\"1\"}" or
// "") and then its value text (" 1.5\n") are a slice of the family's
// line_tails, so a family's rows are not a heap block each and each value
// is formatted once.
struct Row {
  std::size_t label_offset;
  std::uint32_t label_size;
  std::uint8_t value_size;  // " <value>\n" after the label text
  std::int64_t timestamp_ms;
  SteadyClock::time_point refreshed;
};

// One family's rows and texts, reused from family to family so that only
// the largest family's worth is ever allocated.
struct FamilyRows {
  std::vector<Row> rows;
  std::string line_tails;       // every row's label and value text, one after the other
  bool reserved_label = false;  // an `le` or `quantile` label

  std::string_view labels(const Row& row) const {
    return std::string_view(line_tails).substr(row.label_offset, row.label_size);
  }
  std::string_view lineTail(const Row& row) const {
    return std::string_view(line_tails).substr(row.label_offset, row.label_size + row.value_size);
  }
};

struct Group {
  bool type_conflict = false;
  MetricType type = MetricType::kUntyped;
  std::string_view help_from;        // raw name whose help is used, for a stable choice
  const FamilyInfo* info = nullptr;  // set by the group's first mergeInfo()
  std::size_t row_count = 0;         // how many series it has
  std::size_t text_estimate = 0;     // its lines' size but for the names: exact unless
                                     // escapes or label-name mapping lengthen them
  std::size_t first = 0;             // where its series start in the page order
  std::size_t placed = 0;            // how many of them are placed there so far
};

const FamilyInfo& emptyInfo() {
  static const FamilyInfo info;
  return info;
}

void mergeInfo(Group& group, std::string_view raw_name, const FamilyInfo& info) {
  if (group.info == nullptr) {
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

std::string_view typeText(const std::string& name, const Group& group, bool reserved_label) {
  if (group.type_conflict || reserved_label) return "untyped";
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

// Fills `family` with the rows and texts of the series `order` names, in
// that order.
void fillRows(FamilyRows& family, const std::vector<SeriesSnapshot>& series,
              std::span<const std::uint32_t> order, LabelNames& label_names, MappedLabels& mapped) {
  family.rows.clear();
  family.line_tails.clear();
  family.reserved_label = false;
  std::string& tails = family.line_tails;
  for (std::size_t i = 0; i < order.size(); ++i) {
    // A family's series lie all over the snapshot, and their label sets all
    // over the heap: misses, started in stages a few series ahead (the
    // snapshot entry one stage before its label set's node).
    if (const std::size_t ahead = i + 4 * kLabelsPrefetchStep; ahead < order.size()) {
      __builtin_prefetch(&series[order[ahead]]);
    }
    prefetchLabelsAhead(i, order.size(),
                        [&](std::size_t j) -> const Labels& { return series[order[j]].labels; });
    const SeriesSnapshot& s = series[order[i]];
    mapLabels(s.labels, label_names, mapped);
    const std::size_t offset = tails.size();
    appendLabelText(tails, mapped, family.reserved_label);
    const std::size_t value_offset = tails.size();
    tails.push_back(' ');
    appendValue(tails, s.value);
    tails.push_back('\n');
    family.rows.push_back(Row{offset, static_cast<std::uint32_t>(value_offset - offset),
                              static_cast<std::uint8_t>(tails.size() - value_offset),
                              s.timestamp_ms, s.refreshed});
  }
}

void appendHeader(std::string& out, const std::string& name, const Group& group,
                  bool reserved_label) {
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
  out += typeText(name, group, reserved_label);
  out.push_back('\n');
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
    group.text_estimate += labelTextEstimate(s.labels) + kValueTextBound;
  }
  // The series in page order, family by family (a counting sort), so each
  // family's texts are built, written and dropped in turn: only the page
  // and the largest family's texts are ever alive together.
  std::size_t size = out.size();
  std::size_t next = 0;
  for (auto& [name, group] : groups) {
    group.first = next;
    next += group.row_count;
    size += 2 * name.size() + 80 + group.info->help.size() * 2 + group.info->source.size() * 2 +
            name.size() * group.row_count + group.text_estimate;
  }
  std::vector<std::uint32_t> order(series.size());
  for (std::size_t i = 0; i < series.size(); ++i) {
    Group& group = *group_of_series[i];
    order[group.first + group.placed++] = static_cast<std::uint32_t>(i);
  }
  std::vector<Group*>().swap(group_of_series);
  // Reserved whole (values at their longest), so the page is allocated once
  // instead of doubled and copied; plus room for the agent's own metrics,
  // which the caller appends.
  out.reserve(size + kSelfMetricsRoom);

  LabelNames label_names;
  MappedLabels mapped;
  FamilyRows family;
  for (auto& [name, group] : groups) {
    if (reserved_names.contains(name)) {
      stats.reserved_series += group.row_count;
      continue;
    }
    fillRows(family, series, std::span(order).subspan(group.first, group.row_count), label_names,
             mapped);
    // Equal label texts end up adjacent with the latest first.
    std::sort(family.rows.begin(), family.rows.end(), [&family](const Row& a, const Row& b) {
      const std::string_view a_labels = family.labels(a);
      const std::string_view b_labels = family.labels(b);
      return std::tie(a_labels, b.timestamp_ms, b.refreshed) <
             std::tie(b_labels, a.timestamp_ms, a.refreshed);
    });
    appendHeader(out, name, group, family.reserved_label);
    ++stats.families;
    const Row* previous = nullptr;
    for (const Row& row : family.rows) {
      const std::string_view labels = family.labels(row);
      if (previous != nullptr && family.labels(*previous) == labels) {
        ++stats.duplicates;
        continue;
      }
      previous = &row;
      out += name;
      out += family.lineTail(row);
      ++stats.series;
    }
  }
  return stats;
}

}  // namespace kubemetrics::exporters::prometheus
