#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kubemetrics/deadline.h"
#include "kubemetrics/labels.h"
#include "kubemetrics/sample.h"
#include "kubemetrics/symbol.h"

namespace kubemetrics::exporters::prometheus {

/// Content-Type of the Prometheus text exposition format this writer emits.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

/// Appends `value` escaped for a label value (\\, \", \n). Invalid UTF-8
/// becomes U+FFFD, because Prometheus rejects the whole page otherwise.
void appendLabelValue(std::string& out, std::string_view value);
/// Appends `help` escaped for a HELP line (\\, \n), UTF-8 sanitized.
void appendHelp(std::string& out, std::string_view help);
/// Appends the shortest text that parses back to `value`; NaN, +Inf, -Inf.
void appendValue(std::string& out, double value);

/// One series as the exporter holds it, copied out for rendering.
struct SeriesSnapshot {
  Symbol name;  // as the source spells it
  Labels labels;
  double value = 0;
  std::int64_t timestamp_ms = 0;  // the sample's, only to pick the latest of duplicates
  SteadyClock::time_point refreshed;
};

/// What the exporter knows of one family, keyed by the source's name.
struct FamilyInfo {
  MetricType type = MetricType::kUntyped;
  std::string help;    // "" when the source gave none
  std::string source;  // batch.source of the first batch naming it, for the default HELP
};

using FamilyInfoMap = std::unordered_map<Symbol, FamilyInfo>;

/// Counts of one render, for tests and logs.
struct ExpositionStats {
  std::size_t families = 0;         // families written
  std::size_t series = 0;           // sample lines written
  std::size_t duplicates = 0;       // series that mapped onto another one and lost
  std::size_t reserved_series = 0;  // series left out because their family name is
                                    // one of `reserved_names`
};

/// Appends `series` to `out` in the Prometheus text format 0.0.4: families
/// grouped by mapped name and sorted, series sorted by their label text,
/// `# HELP` and `# TYPE` on every family, no timestamps (pull semantics: the
/// scraper stamps the latest value). Series that map to the same name and
/// labels are written once, the latest (timestamp, then refresh time) wins.
///
/// The TYPE is chosen so `promtool check metrics` accepts what the agent
/// controls: `counter` only when the name ends in `_total`, `gauge` only when
/// it does not end in `_total`, `_bucket`, `_count` or `_sum`, and neither
/// type with an `le` or `quantile` label; otherwise, and for histograms,
/// summaries, and names whose sources disagree on the type, `untyped`, which
/// keeps the series name and PromQL behaviour unchanged. Families named in
/// `reserved_names` (the agent's own metrics, appended after) are left out,
/// since a family may appear only once on a page.
///
/// A pure function of its arguments; safe to call from any thread.
ExpositionStats writeExposition(std::string& out, std::vector<SeriesSnapshot> series,
                                const FamilyInfoMap& families,
                                const std::unordered_set<std::string>& reserved_names);

}  // namespace kubemetrics::exporters::prometheus
