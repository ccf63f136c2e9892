#include "resource_emitter.h"

#include <string>

namespace kubemetrics::scrapers::kubelet {

enum ResourceEmitter::Metric : std::size_t {
  kContainerCpuRequest,
  kContainerCpuLimit,
  kContainerMemoryRequest,
  kContainerMemoryLimit,
  kContainerRestartCount,
  kContainerStatus,
  kPodCpuRequest,
  kPodCpuLimit,
  kPodMemoryRequest,
  kPodMemoryLimit,
  kPodRestartCount,
  kPodPhase,
  kNodeCpuCapacity,
  kNodeCpuAllocatable,
  kNodeCpuReservation,
  kNodeCpuUtilization,
  kNodeMemoryCapacity,
  kNodeMemoryAllocatable,
  kNodeMemoryReservation,
  kNodeMemoryUtilization,
  kMetricCount,
};

namespace {

struct MetricSpec {
  std::string_view name;
  std::string_view help;
};

// The collector's metric names ("cpu/request" on a pod_container set becomes
// kubernetes.pod_container.cpu.request in its Wavefront sink). Indexed by
// ResourceEmitter::Metric.
constexpr MetricSpec kSpecs[] = {
    {"kubernetes.pod_container.cpu.request", "CPU request of the container spec, millicores."},
    {"kubernetes.pod_container.cpu.limit", "CPU limit of the container spec, millicores."},
    {"kubernetes.pod_container.memory.request", "Memory request of the container spec, bytes."},
    {"kubernetes.pod_container.memory.limit", "Memory limit of the container spec, bytes."},
    {"kubernetes.pod_container.restart_count", "Container restarts (restartCount)."},
    {"kubernetes.pod_container.status",
     "Container state: 1 running, 2 waiting, 3 terminated (tags status, reason)."},
    {"kubernetes.pod.cpu.request", "Sum of the containers' CPU requests, millicores."},
    {"kubernetes.pod.cpu.limit", "Sum of the containers' CPU limits (unset counts 0), millicores."},
    {"kubernetes.pod.memory.request", "Sum of the containers' memory requests, bytes."},
    {"kubernetes.pod.memory.limit",
     "Sum of the containers' memory limits (unset counts 0), bytes."},
    {"kubernetes.pod.restart_count", "Sum of the containers' restarts."},
    {"kubernetes.pod.status.phase",
     "Pod phase: 1 Pending, 2 Running, 3 Succeeded, 4 Failed, 5 Unknown (tag phase)."},
    {"kubernetes.node.cpu.node_capacity", "CPU capacity of the node, millicores."},
    {"kubernetes.node.cpu.node_allocatable", "CPU allocatable of the node, millicores."},
    {"kubernetes.node.cpu.node_reservation",
     "CPU requests of the node's pods not Succeeded or Failed / allocatable (ratio)."},
    {"kubernetes.node.cpu.node_utilization", "Node cpu.usage_rate / allocatable (ratio)."},
    {"kubernetes.node.memory.node_capacity", "Memory capacity of the node, bytes."},
    {"kubernetes.node.memory.node_allocatable", "Memory allocatable of the node, bytes."},
    {"kubernetes.node.memory.node_reservation",
     "Memory requests of the node's pods not Succeeded or Failed / allocatable (ratio)."},
    {"kubernetes.node.memory.node_utilization", "Node memory.working_set / allocatable (ratio)."},
};
static_assert(std::size(kSpecs) == ResourceEmitter::kMetricCount);

// The collector's util.ConvertPodPhase: anything it does not know is Unknown.
double phaseValue(std::string_view phase) {
  if (phase == "Pending") return 1;
  if (phase == "Running") return 2;
  if (phase == "Succeeded") return 3;
  if (phase == "Failed") return 4;
  return 5;
}

// The collector's NewContainerStateInfo: 0 for a status without a state.
double stateValue(std::string_view state) {
  if (state == "running") return 1;
  if (state == "waiting") return 2;
  if (state == "terminated") return 3;
  return 0;
}

// Pods that finished hold no resources: the collector's node_aggregator
// leaves them out of the node's requests.
bool holdsResources(const KubePod& pod) {
  return pod.phase != "Succeeded" && pod.phase != "Failed";
}

// A sum over containers in which an unset value counts as 0, as the
// collector's pod_aggregator adds the 0 it writes for an unset request or
// limit; absent when no container sets it.
struct Sum {
  double total = 0;
  bool any = false;
  void add(const std::optional<double>& v) {
    if (!v) return;
    total += *v;
    any = true;
  }
};

}  // namespace

ResourceEmitter::ResourceEmitter() : used_(kMetricCount, false) {
  names_.reserve(kMetricCount);
  for (const MetricSpec& spec : kSpecs) names_.push_back(Symbol::intern(spec.name));
}

void ResourceEmitter::add(Metric metric, const Labels& labels, double value, SampleBatch& out) {
  out.samples.push_back(Sample{names_[metric], labels, value, ts_ms_});
  used_[metric] = true;
}

void ResourceEmitter::emitPod(const KubePod& pod, std::string_view node_name, SampleBatch& out) {
  builder_.clear();
  builder_.set(nodename_.view(), node_name)
      .set(type_, pod_type_)
      .set(namespace_name_.view(), pod.namespace_name)
      .set(pod_name_.view(), pod.name);
  const Labels pod_labels = builder_.build();

  Sum cpu_request, cpu_limit, memory_request, memory_limit;
  double restarts = 0;
  bool any_status = false;
  for (const KubeContainer& container : pod.containers) {
    builder_.reset(pod_labels);
    builder_.set(type_, container_type_).set(container_name_.view(), container.name);
    const Labels labels = builder_.build();
    const KubeResources& requests = container.requests;
    const KubeResources& limits = container.limits;
    if (requests.cpu_millicores) add(kContainerCpuRequest, labels, *requests.cpu_millicores, out);
    if (limits.cpu_millicores) add(kContainerCpuLimit, labels, *limits.cpu_millicores, out);
    if (requests.memory_bytes) add(kContainerMemoryRequest, labels, *requests.memory_bytes, out);
    if (limits.memory_bytes) add(kContainerMemoryLimit, labels, *limits.memory_bytes, out);
    cpu_request.add(requests.cpu_millicores);
    cpu_limit.add(limits.cpu_millicores);
    memory_request.add(requests.memory_bytes);
    memory_limit.add(limits.memory_bytes);

    // No state means no containerStatuses entry yet: the collector writes
    // neither restart_count nor status for such a container.
    if (container.state.empty()) continue;
    any_status = true;
    restarts += container.restart_count;
    add(kContainerRestartCount, labels, container.restart_count, out);
    const double state = stateValue(container.state);
    builder_.reset(labels);
    if (state > 0) {
      builder_.set(status_.view(), container.state).set(reason_.view(), container.reason);
    }
    add(kContainerStatus, builder_.build(), state, out);
  }

  if (cpu_request.any) add(kPodCpuRequest, pod_labels, cpu_request.total, out);
  if (cpu_limit.any) add(kPodCpuLimit, pod_labels, cpu_limit.total, out);
  if (memory_request.any) add(kPodMemoryRequest, pod_labels, memory_request.total, out);
  if (memory_limit.any) add(kPodMemoryLimit, pod_labels, memory_limit.total, out);
  if (any_status) add(kPodRestartCount, pod_labels, restarts, out);
  builder_.reset(pod_labels);
  builder_.set(phase_.view(), pod.phase);
  add(kPodPhase, builder_.build(), phaseValue(pod.phase), out);
}

std::size_t ResourceEmitter::emit(const KubeSnapshot& snapshot, const NodeUsage& usage,
                                  std::int64_t ts_ms, SampleBatch& out) {
  // Before the first LIST an absent pod may only be unknown yet, and the
  // reservation would be a sum over part of the node.
  if (!snapshot.synced || snapshot.node == nullptr) return 0;
  ts_ms_ = ts_ms;
  used_.assign(kMetricCount, false);
  const std::size_t before = out.samples.size();
  const KubeNode& node = *snapshot.node;
  const std::string_view node_name = usage.node_name.empty() ? node.name : usage.node_name;

  Sum cpu_requested, memory_requested;
  for (const auto& [key, pod] : snapshot.pods) {
    if (pod == nullptr || pod->node_name != node.name) continue;
    emitPod(*pod, node_name, out);
    if (!holdsResources(*pod)) continue;
    for (const KubeContainer& container : pod->containers) {
      cpu_requested.add(container.requests.cpu_millicores);
      memory_requested.add(container.requests.memory_bytes);
    }
  }

  builder_.clear();
  builder_.set(nodename_.view(), node_name).set(type_, node_type_);
  const Labels labels = builder_.build();
  auto node_family = [&](const std::optional<double>& capacity,
                         const std::optional<double>& allocatable, double requested, double used,
                         Metric capacity_metric) {
    const auto at = [&](int offset) { return static_cast<Metric>(capacity_metric + offset); };
    if (capacity) add(at(0), labels, *capacity, out);
    if (!allocatable) return;
    add(at(1), labels, *allocatable, out);
    // The collector computes both ratios only for a non-zero allocatable.
    if (*allocatable <= 0) return;
    add(at(2), labels, requested / *allocatable, out);
    if (present(used)) add(at(3), labels, used / *allocatable, out);
  };
  node_family(node.capacity.cpu_millicores, node.allocatable.cpu_millicores, cpu_requested.total,
              usage.cpu_usage_rate, kNodeCpuCapacity);
  node_family(node.capacity.memory_bytes, node.allocatable.memory_bytes, memory_requested.total,
              usage.memory_working_set, kNodeMemoryCapacity);

  for (std::size_t m = 0; m < kMetricCount; ++m) {
    if (!used_[m]) continue;
    out.metadata.push_back(
        MetricMetadata{names_[m], MetricType::kGauge, std::string(kSpecs[m].help), ""});
  }
  return out.samples.size() - before;
}

}  // namespace kubemetrics::scrapers::kubelet
