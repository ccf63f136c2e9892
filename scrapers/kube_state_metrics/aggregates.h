#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

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
/// and the CPU and memory rows):
///   kubernetes.ns.{pod.count, pod_container.count, cpu.request, cpu.limit,
///     memory.request, memory.limit}      tags type="ns", namespace_name
///   kubernetes.cluster.{same}            tag  type="cluster"
/// CPU in millicores, memory in bytes, counts as counts. Each series also
/// carries the agent's tags (cluster, node, static and run-time tags): the
/// KSM target tags its own series itself (so the pipeline skips its batch),
/// and these samples travel in the same batch.
///
/// Staleness as Prometheus' scrape loop: a series emitted by the previous
/// emit() and absent from this one (a namespace whose last Running pod
/// went away, or every series when the tags changed) gets a staleness
/// marker; retire() marks every series of the last emit() (a failed scrape).
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
  std::size_t retire(std::int64_t ts_ms, SampleBatch& out);

  enum Metric : std::size_t;

 private:
  struct Series {
    Symbol name;
    Labels labels;
    friend bool operator==(const Series&, const Series&) = default;
  };
  struct SeriesHash {
    std::size_t operator()(const Series& s) const {
      return std::hash<Symbol>()(s.name) * 31 + std::hash<Labels>()(s.labels);
    }
  };
  using SeriesSet = std::unordered_set<Series, SeriesHash>;

  void emitGroup(std::size_t group, const Labels& labels, const GroupTotals& totals,
                 std::int64_t ts_ms, SampleBatch& out, SeriesSet& emitted);
  Labels groupLabels(std::string_view type, std::string_view namespace_name);

  const AgentTags* tags_;
  std::shared_ptr<const AgentTags::Snapshot> snapshot_;
  std::vector<std::vector<Symbol>> names_;  // [group: ns, cluster][Metric]
  SeriesSet last_;                          // the series of the last emit()
  LabelsBuilder builder_;
};

}  // namespace kubemetrics::scrapers::kube_state_metrics
