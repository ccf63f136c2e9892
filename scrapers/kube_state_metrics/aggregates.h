#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/scrape/aggregate_series.h"
#include "kubemetrics/agent_tags.h"
#include "kubemetrics/labels.h"
#include "kubemetrics/sample.h"
#include "pod_inventory.h"

namespace kubemetrics::scrapers::kube_state_metrics {

/// The sums of one group (a namespace, or the whole cluster).
struct GroupTotals {
  double pod_count = 0;        // pods in phase Running
  double container_count = 0;  // their containers that are not terminated
  // Over the containers of the Running pods; an unset value counts as 0.
  std::array<double, kResources> resources{};
};

/// The Wavefront collector's namespace and cluster aggregates, computed
/// from one scrape's PodInventory. The collector's rules (its
/// namespace_aggregator, cluster_aggregator and sum_count_aggregator in
/// wavefrontHQ/observability-for-kubernetes collector/plugins/processors/):
/// a pod counts, and its requests and limits are summed, when its phase is
/// Running; a container counts when its state is not terminated (here: of a
/// Running pod, the containers the kubelet summary the collector reads
/// would list); a pod's request or limit is the sum over its containers
/// with an unset value as 0. A namespace appears when it has a Running pod.
struct Aggregates {
  std::map<std::string, GroupTotals> namespaces;  // by namespace name, sorted
  GroupTotals cluster;
};

/// Computes the aggregates of the pods of `inventory`.
Aggregates computeAggregates(const PodInventory& inventory);

/// Turns Aggregates into samples named and tagged as the Wavefront
/// collector names them (docs/collector/metrics.md of
/// wavefrontHQ/observability-for-kubernetes, "<cluster, ns, node>.pod.count"
/// and the CPU and memory rows), through scrape::AggregateSeriesEmitter:
///   kubernetes.ns.{pod.count, pod_container.count, cpu.request, cpu.limit,
///     memory.request, memory.limit}      tags type="ns", namespace_name
///   kubernetes.cluster.{same}            tag  type="cluster"
/// CPU in millicores, memory in bytes, counts as counts. Each series also
/// carries the agent's tags: the KSM target tags its own series itself (so
/// the pipeline skips its batch), and these samples travel in the same
/// batch. Staleness and retire() as AggregateSeriesEmitter's.
///
/// Owned by the source's scheduler thread; not thread-safe.
class AggregateEmitter {
 public:
  /// `tags` may be null (tests): the samples then carry no agent tags.
  explicit AggregateEmitter(const AgentTags* tags);

  /// Appends the aggregates stamped `ts_ms` (Unix ms), the markers of the
  /// series that went away and the families' metadata to `out`; returns the
  /// samples appended.
  std::size_t emit(const Aggregates& aggregates, std::int64_t ts_ms, SampleBatch& out);

  /// Appends a staleness marker for every series of the last emit(), stamped
  /// `ts_ms`; returns how many.
  std::size_t retire(std::int64_t ts_ms, SampleBatch& out) { return series_.retire(ts_ms, out); }

 private:
  scrape::AggregateSeriesEmitter series_;
};

}  // namespace kubemetrics::scrapers::kube_state_metrics
