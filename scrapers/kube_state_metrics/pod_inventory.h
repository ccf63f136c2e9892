#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <unordered_map>
#include <vector>

#include "kubemetrics/sample.h"
#include "kubemetrics/symbol.h"

namespace kubemetrics::scrapers::kube_state_metrics {

/// CPU and memory requests and limits, the four values the aggregates sum.
enum Resource : std::size_t { kCpuRequest, kCpuLimit, kMemoryRequest, kMemoryLimit, kResources };

/// One container of a pod as kube-state-metrics describes it.
struct ContainerState {
  Symbol name;
  bool terminated = false;  // kube_pod_container_status_terminated is 1
  // Millicores for CPU, bytes for memory; NaN when kube-state-metrics has no
  // series for it (the spec does not set it).
  std::array<double, kResources> resources;
  // The value came from a KSM v2 series (`{resource, unit}`), which wins
  // over the v1 one (`_cpu_cores`, `_memory_bytes`): KSM v1.5-v1.9 write
  // both for the same container.
  std::array<bool, kResources> from_v2{};
  ContainerState();
};

/// One pod: its phase and its (non-init) containers.
struct PodState {
  Symbol namespace_name;
  Symbol pod_name;
  Symbol phase;  // the `phase` label of the kube_pod_status_phase series that is 1; empty: none
  std::vector<ContainerState> containers;

  ContainerState& container(const Symbol& name);
};

/// What one scrape of kube-state-metrics says about the pods, read from the
/// series the aggregates need, in the names of both KSM lines:
///  - kube_pod_status_phase{namespace,pod,phase} (1 for the pod's phase);
///  - kube_pod_container_info{namespace,pod,container} (the containers);
///  - kube_pod_container_status_terminated{namespace,pod,container};
///  - v2 (KSM >= 1.5, the only form from 2.0):
///    kube_pod_container_resource_{requests,limits}{resource="cpu"|"memory",
///    unit="core"|"byte"};
///  - v1 (KSM < 2.0): kube_pod_container_resource_{requests,limits}_cpu_cores
///    and ..._memory_bytes.
/// Other series are ignored, as are NaN values and staleness markers.
/// Init containers are not counted: kube-state-metrics reports them in
/// kube_pod_init_container_* series, which this does not read.
///
/// Owned by one thread; not thread-safe.
class PodInventory {
 public:
  PodInventory();

  /// Reads one sample; returns true when it was one of the series above.
  bool add(const Sample& sample);

  /// Every pod seen, in no particular order.
  std::vector<const PodState*> pods() const;
  std::size_t podCount() const { return pods_.size(); }

 private:
  struct PodKey {
    Symbol namespace_name;
    Symbol pod_name;
    friend bool operator==(const PodKey&, const PodKey&) = default;
  };
  struct PodKeyHash {
    std::size_t operator()(const PodKey& key) const {
      return std::hash<Symbol>()(key.namespace_name) * 31 + std::hash<Symbol>()(key.pod_name);
    }
  };
  enum Family : std::size_t;

  PodState* pod(const Labels& labels);
  void addResource(PodState& pod, const Labels& labels, Resource resource, double value, bool v2);

  std::vector<Symbol> names_;  // by Family
  std::unordered_map<PodKey, PodState, PodKeyHash> pods_;
  const Symbol namespace_ = Symbol::intern("namespace");
  const Symbol pod_ = Symbol::intern("pod");
  const Symbol container_ = Symbol::intern("container");
  const Symbol phase_ = Symbol::intern("phase");
  const Symbol resource_ = Symbol::intern("resource");
  const Symbol unit_ = Symbol::intern("unit");
};

}  // namespace kubemetrics::scrapers::kube_state_metrics
