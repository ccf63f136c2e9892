#include "common/scrape/openmetrics_rules.h"

#include <cmath>
#include <utility>

namespace kubemetrics::scrape {

bool parseOmType(std::string_view word, OmType* type) {
  static constexpr std::pair<std::string_view, OmType> kTypes[] = {
      {"counter", OmType::kCounter},     {"gauge", OmType::kGauge},
      {"histogram", OmType::kHistogram}, {"gaugehistogram", OmType::kGaugeHistogram},
      {"summary", OmType::kSummary},     {"info", OmType::kInfo},
      {"stateset", OmType::kStateset},   {"unknown", OmType::kUnknown},
  };
  for (const auto& [name, t] : kTypes) {
    if (word == name) {
      *type = t;
      return true;
    }
  }
  return false;
}

MetricType toMetricType(OmType t) {
  switch (t) {
    case OmType::kCounter:
      return MetricType::kCounter;
    case OmType::kGauge:
    case OmType::kInfo:
    case OmType::kStateset:
      return MetricType::kGauge;
    case OmType::kHistogram:
    case OmType::kGaugeHistogram:
      return MetricType::kHistogram;
    case OmType::kSummary:
      return MetricType::kSummary;
    case OmType::kUnknown:
      break;
  }
  return MetricType::kUntyped;
}

std::span<const std::string_view> suffixesOf(OmType t) {
  static constexpr std::string_view kCounter[] = {"_total", "_created"};
  static constexpr std::string_view kHistogram[] = {"_bucket", "_count", "_sum", "_created"};
  static constexpr std::string_view kGaugeHistogram[] = {"_bucket", "_gcount", "_gsum"};
  static constexpr std::string_view kSummary[] = {"", "_count", "_sum", "_created"};
  static constexpr std::string_view kInfo[] = {"_info"};
  static constexpr std::string_view kPlain[] = {""};
  switch (t) {
    case OmType::kCounter:
      return kCounter;
    case OmType::kHistogram:
      return kHistogram;
    case OmType::kGaugeHistogram:
      return kGaugeHistogram;
    case OmType::kSummary:
      return kSummary;
    case OmType::kInfo:
      return kInfo;
    default:
      return kPlain;
  }
}

void OpenMetricsRules::reset() {
  families_.clear();
  groups_.clear();
  group_ = Group();
  prev_series_ = nullptr;
}

std::string OpenMetricsRules::newFamily(std::string_view name) {
  if (families_.find(name) != families_.end()) {
    return "metric family \"" + std::string(name) +
           "\" appears twice (families must not be interleaved or repeated)";
  }
  // "a_total" after a counter "a", "a_bucket" after a histogram "a"...
  for (std::string_view suffix :
       {"_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info"}) {
    if (!name.ends_with(suffix)) continue;
    auto it = families_.find(name.substr(0, name.size() - suffix.size()));
    if (it == families_.end()) continue;
    for (std::string_view owned : suffixesOf(it->second)) {
      if (owned == suffix) {
        return "metric \"" + std::string(name) + "\" belongs to the earlier family \"" + it->first +
               "\"";
      }
    }
  }
  families_.emplace(std::string(name), OmType::kUnknown);
  return {};
}

std::string OpenMetricsRules::typed(std::string_view name, OmType type) {
  families_[std::string(name)] = type;
  for (std::string_view suffix : suffixesOf(type)) {
    if (suffix.empty()) continue;
    scratch_.assign(name).append(suffix);
    if (families_.count(scratch_) != 0) {
      return "family \"" + std::string(name) + "\" clashes with \"" + scratch_ + "\"";
    }
  }
  return {};
}

std::string OpenMetricsRules::closeFamily(bool gauge) {
  if (std::string reason = closeGroup(gauge); !reason.empty()) return reason;
  groups_.clear();
  return {};
}

std::string OpenMetricsRules::sample(const OmSample& s) {
  const SeriesInfo& e = s.series;
  const std::string_view name = e.name.view();
  const std::string_view suffix = s.suffix;
  // Timestamps of one series must not go backwards, and are all or none.
  if (prev_series_ == &e) {
    if (prev_has_ts_ != s.has_timestamp)
      return "some samples of a series have timestamps and some not";
    if (s.has_timestamp && s.timestamp < prev_ts_) return "timestamps of a series go backwards";
  }
  prev_series_ = &e;
  prev_has_ts_ = s.has_timestamp;
  prev_ts_ = s.timestamp;

  const OmType t = s.family_type;
  const bool counterLike =
      (t == OmType::kCounter && suffix == "_total") ||
      ((t == OmType::kHistogram || t == OmType::kSummary) && (suffix == "_count")) ||
      (t == OmType::kGaugeHistogram && suffix == "_gcount");
  if (counterLike && (std::isnan(s.value) || s.value < 0)) {
    // Appended rather than `"\"" + std::string(name)`: GCC 12 -O3 reports a
    // -Wrestrict false positive on the latter.
    return std::string(1, '"').append(name).append("\" must be a non-negative number");
  }
  const bool exemplarAllowed =
      (t == OmType::kCounter && suffix == "_total") ||
      ((t == OmType::kHistogram || t == OmType::kGaugeHistogram) && suffix == "_bucket");
  if (s.has_exemplar && !exemplarAllowed)
    return "exemplar not allowed on \"" + std::string(name) + "\"";

  switch (t) {
    case OmType::kStateset:
      // A stateset's family is the series' name (it owns no suffix).
      if (!e.labelled_by_name) {
        return "stateset sample without the \"" + std::string(s.family_name) + "\" label";
      }
      if (s.value != 0 && s.value != 1) return "stateset value must be 0 or 1";
      break;
    case OmType::kInfo:
      if (s.value != 1) return "info value must be 1";
      break;
    case OmType::kSummary:
      if (suffix.empty()) {
        if (!e.has_quantile || !e.quantile_valid)
          return "summary quantile needs a \"quantile\" label in [0, 1]";
      } else if (suffix == "_sum" && std::isnan(s.value)) {
        // Negative sums are against the spec but client_golang writes them.
        return "summary _sum must not be NaN";
      }
      break;
    case OmType::kHistogram:
    case OmType::kGaugeHistogram:
      if (suffix != "_created") return histogramSample(s);
      break;
    default:
      break;
  }
  return {};
}

std::string OpenMetricsRules::histogramSample(const OmSample& s) {
  const SeriesInfo& e = s.series;
  const double value = s.value;
  if (group_.active && group_.id != e.group.id()) {
    if (std::string reason = closeGroup(s.family_type == OmType::kGaugeHistogram);
        !reason.empty()) {
      return reason;
    }
  }
  if (!group_.active) {
    if (!groups_.insert(e.group.id()).second) return "samples of one histogram are not together";
    group_ = Group();
    group_.active = true;
    group_.id = e.group.id();
    group_.first_line = s.line;
  }
  if (s.suffix == "_bucket") {
    if (!e.has_le || !e.le_valid) return "histogram bucket without a valid \"le\" label";
    if (group_.after_buckets) return "histogram bucket after its _count or _sum";
    if (std::isnan(value) || value < 0) return "bucket count must be a non-negative number";
    if (group_.buckets > 0 && !(e.le > group_.last_le))
      return "histogram buckets are not in increasing \"le\" order";
    if (group_.buckets > 0 && value < group_.last_bucket) return "histogram bucket counts decrease";
    ++group_.buckets;
    group_.last_le = e.le;
    group_.last_bucket = value;
    if (e.le < 0) group_.negative_bucket = true;
    if (std::isinf(e.le) && e.le > 0) {
      group_.has_inf = true;
      group_.inf_value = value;
    }
  } else if (s.suffix == "_count" || s.suffix == "_gcount") {
    group_.after_buckets = true;
    group_.has_count = true;
    group_.count = value;
  } else {  // _sum, _gsum
    if (std::isnan(value)) return "histogram sum must not be NaN";
    group_.after_buckets = true;
    group_.has_sum = true;
    group_.sum = value;
  }
  return {};
}

std::string OpenMetricsRules::closeGroup(bool gauge) {
  if (!group_.active) return {};
  group_.active = false;
  if (!group_.has_inf) {
    return "histogram without a +Inf bucket (from line " + std::to_string(group_.first_line) + ")";
  }
  if (group_.has_count != group_.has_sum) return "histogram has only one of count and sum";
  if (group_.has_count && group_.count != group_.inf_value)
    return "histogram count differs from its +Inf bucket";
  // The spec also forbids a sum next to negative buckets, but client_golang
  // writes one (prom-textparse/alltypes.5mfs.om.txt) and Prometheus reads it.
  if (group_.has_sum && group_.sum < 0 && !group_.negative_bucket) {
    return std::string(gauge ? "gauge histogram" : "histogram") +
           " sum is negative without negative buckets";
  }
  return {};
}

}  // namespace kubemetrics::scrape
