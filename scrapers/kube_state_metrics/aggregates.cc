#include "aggregates.h"

#include <cmath>
#include <string_view>

namespace kubemetrics::scrapers::kube_state_metrics {

namespace {

struct MetricSpec {
  std::string_view family;  // after kubernetes.<ns|cluster>.
  std::string_view help;
};

enum Group : std::size_t { kNamespace, kCluster, kGroups };
constexpr std::string_view kGroupType[kGroups] = {"ns", "cluster"};

}  // namespace

enum AggregateEmitter::Metric : std::size_t {
  kPodCount,
  kContainerCount,
  kCpuRequestMetric,
  kCpuLimitMetric,
  kMemoryRequestMetric,
  kMemoryLimitMetric,
  kMetricCount
};

namespace {

// By AggregateEmitter::Metric; the resource metrics in Resource order.
constexpr MetricSpec kSpecs[] = {
    {"pod.count", "Pods in phase Running (from kube-state-metrics)."},
    {"pod_container.count",
     "Containers of Running pods that are not terminated (from kube-state-metrics)."},
    {"cpu.request", "CPU requests of the containers of Running pods, millicores."},
    {"cpu.limit", "CPU limits of the containers of Running pods (unset counts 0), millicores."},
    {"memory.request", "Memory requests of the containers of Running pods, bytes."},
    {"memory.limit", "Memory limits of the containers of Running pods (unset counts 0), bytes."},
};
static_assert(std::size(kSpecs) == 6);

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

AggregateEmitter::AggregateEmitter(const AgentTags* tags) : tags_(tags) {
  names_.resize(kGroups);
  for (std::size_t g = 0; g < kGroups; ++g) {
    for (const MetricSpec& spec : kSpecs) {
      names_[g].push_back(Symbol::intern("kubernetes." + std::string(kGroupType[g]) + "." +
                                         std::string(spec.family)));
    }
  }
}

Labels AggregateEmitter::groupLabels(std::string_view type, std::string_view namespace_name) {
  builder_.clear();
  builder_.set("type", type);
  if (!namespace_name.empty()) builder_.set("namespace_name", namespace_name);
  if (snapshot_ != nullptr) snapshot_->addTo(builder_);
  return builder_.build();
}

void AggregateEmitter::emitGroup(std::size_t group, const Labels& labels, const GroupTotals& totals,
                                 std::int64_t ts_ms, SampleBatch& out, SeriesSet& emitted) {
  const std::array<double, kMetricCount> values = {totals.pod_count,
                                                   totals.container_count,
                                                   totals.resources[kCpuRequest],
                                                   totals.resources[kCpuLimit],
                                                   totals.resources[kMemoryRequest],
                                                   totals.resources[kMemoryLimit]};
  for (std::size_t m = 0; m < kMetricCount; ++m) {
    out.samples.push_back(Sample{names_[group][m], labels, values[m], ts_ms});
    emitted.insert(Series{names_[group][m], labels});
  }
}

std::size_t AggregateEmitter::emit(const Aggregates& aggregates, std::int64_t ts_ms,
                                   SampleBatch& out) {
  const std::size_t before = out.samples.size();
  if (tags_ != nullptr) snapshot_ = tags_->current();
  SeriesSet emitted;
  for (const auto& [name, totals] : aggregates.namespaces) {
    emitGroup(kNamespace, groupLabels(kGroupType[kNamespace], name), totals, ts_ms, out, emitted);
  }
  // The cluster group always exists: a cluster without Running pods has 0.
  emitGroup(kCluster, groupLabels(kGroupType[kCluster], {}), aggregates.cluster, ts_ms, out,
            emitted);
  for (const Series& s : last_) {
    if (!emitted.contains(s)) out.samples.push_back(Sample{s.name, s.labels, kStaleNaN, ts_ms});
  }
  last_ = std::move(emitted);
  for (std::size_t g = 0; g < kGroups; ++g) {
    if (g == kNamespace && aggregates.namespaces.empty()) continue;
    for (std::size_t m = 0; m < kMetricCount; ++m) {
      out.metadata.push_back(
          MetricMetadata{names_[g][m], MetricType::kGauge, std::string(kSpecs[m].help), ""});
    }
  }
  return out.samples.size() - before;
}

std::size_t AggregateEmitter::retire(std::int64_t ts_ms, SampleBatch& out) {
  for (const Series& s : last_) out.samples.push_back(Sample{s.name, s.labels, kStaleNaN, ts_ms});
  const std::size_t markers = last_.size();
  last_.clear();
  return markers;
}

}  // namespace kubemetrics::scrapers::kube_state_metrics
