#include "aggregates.h"

#include <cmath>
#include <iterator>
#include <vector>

namespace kubemetrics::scrapers::kube_state_metrics {

namespace {

// In the order of valuesOf() below.
constexpr scrape::AggregateFamily kFamilies[] = {
    {"pod.count", "Pods in phase Running (from kube-state-metrics)."},
    {"pod_container.count",
     "Containers of Running pods that are not terminated (from kube-state-metrics)."},
    {"cpu.request", "CPU requests of the containers of Running pods, millicores."},
    {"cpu.limit", "CPU limits of the containers of Running pods (unset counts 0), millicores."},
    {"memory.request", "Memory requests of the containers of Running pods, bytes."},
    {"memory.limit", "Memory limits of the containers of Running pods (unset counts 0), bytes."},
};

std::vector<double> valuesOf(const GroupTotals& totals) {
  return {totals.pod_count,
          totals.container_count,
          totals.resources[kCpuRequest],
          totals.resources[kCpuLimit],
          totals.resources[kMemoryRequest],
          totals.resources[kMemoryLimit]};
}

void addPod(const PodState& pod, GroupTotals& totals) {
  totals.pod_count += 1;
  for (const ContainerState& c : pod.containers) {
    if (!c.terminated) totals.container_count += 1;
    for (std::size_t r = 0; r < kResources; ++r) {
      // Unset (NaN) counts as 0, as the collector's enricher writes 0.
      if (!std::isnan(c.resources[r])) totals.resources[r] += c.resources[r];
    }
  }
}

}  // namespace

Aggregates computeAggregates(const PodInventory& inventory) {
  Aggregates out;
  for (const PodState* pod : inventory.pods()) {
    if (pod->phase.view() != "Running") continue;
    addPod(*pod, out.namespaces[pod->namespace_name.str()]);
    addPod(*pod, out.cluster);
  }
  return out;
}

AggregateEmitter::AggregateEmitter(const AgentTags* tags)
    : series_({std::begin(kFamilies), std::end(kFamilies)}, tags) {}

std::size_t AggregateEmitter::emit(const Aggregates& aggregates, std::int64_t ts_ms,
                                   SampleBatch& out) {
  scrape::AggregateValues values;
  for (const auto& [name, totals] : aggregates.namespaces)
    values.namespaces[name] = valuesOf(totals);
  // The cluster group always exists: a cluster without Running pods has 0.
  values.cluster = valuesOf(aggregates.cluster);
  return series_.emit(values, ts_ms, out);
}

}  // namespace kubemetrics::scrapers::kube_state_metrics
