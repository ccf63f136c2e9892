#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/rate/counter_rate.h"
#include "kubemetrics/labels.h"
#include "kubemetrics/sample.h"
#include "summary_model.h"

namespace kubemetrics::scrapers::kubelet {

/// What one emit() saw.
struct EmitStats {
  std::size_t samples = 0;     // samples appended
  std::size_t pods = 0;        // pods in the summary
  std::size_t containers = 0;  // pod containers emitted (duplicates by name dropped)
  // The node's `nodename` tag (the summary's nodeName, else the fallback).
  std::string node_name;
  // What the node-level samples said, for ratios computed elsewhere
  // (ResourceEmitter's node_utilization); kAbsent when not emitted, as
  // cpu.usage_rate on the first scrape.
  double node_cpu_usage_rate = kAbsent;      // millicores
  double node_memory_working_set = kAbsent;  // bytes
};

struct EmitOptions {
  bool sys_containers = false;  // emit kubernetes.sys_container.*
  // `nodename` when the summary has none (some kubelets leave it empty).
  std::string fallback_node_name;
};

/// Turns a parsed Summary into samples named and tagged as the Wavefront
/// Kubernetes collector names them: kubernetes.<type>.<family> with type in
/// node, pod, pod_container, sys_container and tags nodename, type,
/// namespace_name, pod_name, container_name, plus resource_id (filesystems)
/// and interface_name (per-interface network). Each sample carries the
/// `time` of the block it came from (the scrape time when the block has
/// none). Absent fields emit nothing. The full catalogue is docs/metrics.md.
///
/// Rates (cpu.usage_rate in millicores, network.*_rate and
/// memory.*page_faults_rate per second) come from the cumulative counters
/// between two emit() calls, with the pod's or container's start time as
/// the restart marker; every emit() ends a scrape of the rate cache, so
/// entries of pods that went away are dropped at once.
///
/// Owned by one source thread; not thread-safe.
class SummaryEmitter {
 public:
  explicit SummaryEmitter(EmitOptions options = {});

  /// Appends the samples of `summary` to `out` (samples and, for each family
  /// used, its metadata). `now_ms` (Unix epoch ms) stamps blocks without a
  /// `time`.
  EmitStats emit(const Summary& summary, std::int64_t now_ms, SampleBatch& out);

  /// Series in the rate cache (self-metric kubemetrics_kubelet_rate_cache_series).
  std::size_t rateCacheSize() const { return rates_.size(); }

  enum Kind : std::size_t { kNode, kPod, kPodContainer, kSysContainer, kKindCount };
  enum Metric : std::size_t;

 private:
  struct Scope;

  void add(Scope& scope, Metric metric, const Labels& labels, double value, std::int64_t ts);
  // The rate emitted, kAbsent when none (first sight of the counter).
  double addRate(Scope& scope, Metric rate_metric, const Labels& labels, double counter,
                 std::int64_t ts, double scale);
  void emitUsage(Scope& scope, const UsageStats& usage);
  void emitNetwork(Scope& scope, const NetworkStats& network);
  void emitFs(Scope& scope, const FsStats& fs, std::string_view resource_id);
  void emitContainer(Scope& scope, const ContainerStats& container);
  Labels withLabel(const Labels& base, const Symbol& name, std::string_view value);
  std::int64_t stamp(std::int64_t block_ms) const { return block_ms != 0 ? block_ms : now_ms_; }

  const EmitOptions options_;
  // names_[kind][metric]: "kubernetes.node.cpu.usage", ... interned once.
  std::vector<std::vector<Symbol>> names_;
  std::vector<std::vector<bool>> used_;  // family emitted in this emit()
  std::array<Symbol, kKindCount> kind_values_;
  const Symbol nodename_ = Symbol::intern("nodename");
  const Symbol type_ = Symbol::intern("type");
  const Symbol namespace_name_ = Symbol::intern("namespace_name");
  const Symbol pod_name_ = Symbol::intern("pod_name");
  const Symbol container_name_ = Symbol::intern("container_name");
  const Symbol resource_id_ = Symbol::intern("resource_id");
  const Symbol interface_name_ = Symbol::intern("interface_name");
  const Symbol make_ = Symbol::intern("make");
  const Symbol model_ = Symbol::intern("model");
  const Symbol accelerator_id_ = Symbol::intern("accelerator_id");

  CounterRates rates_;
  LabelsBuilder builder_;
  std::string text_;                // scratch for "Volume:<name>"
  double node_cpu_rate_ = kAbsent;  // cpu.usage_rate of the node in this emit()
  std::int64_t now_ms_ = 0;
};

}  // namespace kubemetrics::scrapers::kubelet
