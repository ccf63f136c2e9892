#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "kubemetrics/kube_metadata.h"
#include "kubemetrics/labels.h"
#include "kubemetrics/sample.h"
#include "summary_model.h"

namespace kubemetrics::scrapers::kubelet {

/// What the summary scrape said about the node, for the ratios that need
/// both the Kubernetes API and the kubelet (node_utilization).
struct NodeUsage {
  std::string_view node_name;           // the `nodename` tag the summary samples carry
  double cpu_usage_rate = kAbsent;      // kubernetes.node.cpu.usage_rate, millicores
  double memory_working_set = kAbsent;  // kubernetes.node.memory.working_set, bytes
};

/// Turns the Kubernetes API's view of this node (a KubeSnapshot) into the
/// metrics the Wavefront Kubernetes collector adds to the kubelet's: requests
/// and limits of pod containers and pods, the node's capacity, allocatable,
/// reservation and utilization, restart counts, pod phase and container
/// status. Names, units and value encodings follow the collector (its
/// pod_based_enricher, pod_aggregator, node_aggregator and
/// node_autoscaling_enricher processors; docs/metrics.md lists each one and
/// where this agent differs); tags are the ones SummaryEmitter gives the same
/// entity (nodename, type, namespace_name, pod_name, container_name), so the
/// two sets of series join.
///
/// Emits nothing until the snapshot is synced and holds this node; only the
/// pods whose spec.nodeName is the snapshot's node count. Requests and limits
/// appear only when the spec sets them; a pod's value is the sum over its
/// containers with an unset one counting as 0 (the collector's rule), and
/// appears when at least one container sets it.
///
/// Owned by one source thread; not thread-safe.
class ResourceEmitter {
 public:
  ResourceEmitter();

  /// Appends the samples (and, for each family used, its metadata) stamped
  /// `ts_ms` (Unix epoch ms) to `out`; returns how many samples.
  std::size_t emit(const KubeSnapshot& snapshot, const NodeUsage& usage, std::int64_t ts_ms,
                   SampleBatch& out);

  enum Metric : std::size_t;

 private:
  void add(Metric metric, const Labels& labels, double value, SampleBatch& out);
  void emitPod(const KubePod& pod, std::string_view node_name, SampleBatch& out);

  std::vector<Symbol> names_;  // by Metric
  std::vector<bool> used_;     // family emitted in this emit()
  const Symbol nodename_ = Symbol::intern("nodename");
  const Symbol type_ = Symbol::intern("type");
  const Symbol namespace_name_ = Symbol::intern("namespace_name");
  const Symbol pod_name_ = Symbol::intern("pod_name");
  const Symbol container_name_ = Symbol::intern("container_name");
  const Symbol phase_ = Symbol::intern("phase");
  const Symbol status_ = Symbol::intern("status");
  const Symbol reason_ = Symbol::intern("reason");
  const Symbol node_type_ = Symbol::intern("node");
  const Symbol pod_type_ = Symbol::intern("pod");
  const Symbol container_type_ = Symbol::intern("pod_container");
  LabelsBuilder builder_;
  std::int64_t ts_ms_ = 0;
};

}  // namespace kubemetrics::scrapers::kubelet
