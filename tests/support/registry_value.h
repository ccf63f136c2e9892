#pragma once

#include <prometheus/registry.h>

#include <map>
#include <string>

namespace kubemetrics::testing {

/// The value of the counter or gauge `name` whose labels include `labels`
/// in `registry`, or -1 when there is none.
inline double registryValue(prometheus::Registry& registry, const std::string& name,
                            const std::map<std::string, std::string>& labels = {}) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      bool match = true;
      for (const auto& [key, value] : labels) {
        bool found = false;
        for (const auto& pair : metric.label) found |= pair.name == key && pair.value == value;
        match &= found;
      }
      if (!match) continue;
      if (family.type == prometheus::MetricType::Counter) return metric.counter.value;
      if (family.type == prometheus::MetricType::Gauge) return metric.gauge.value;
    }
  }
  return -1;
}

}  // namespace kubemetrics::testing
