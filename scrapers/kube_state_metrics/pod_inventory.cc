#include "pod_inventory.h"

#include <cmath>
#include <limits>

namespace kubemetrics::scrapers::kube_state_metrics {

namespace {

Symbol labelValue(const Labels& labels, const Symbol& name) {
  for (const Label& label : labels) {
    if (label.name == name) return label.value;
  }
  return {};
}

constexpr double kMilli = 1000.0;  // cores -> millicores, the collector's CPU unit

}  // namespace

enum PodInventory::Family : std::size_t {
  kPhase,
  kContainerInfo,
  kTerminated,
  kRequestsV2,
  kLimitsV2,
  kRequestsCpuV1,
  kLimitsCpuV1,
  kRequestsMemoryV1,
  kLimitsMemoryV1,
  kFamilies
};

ContainerState::ContainerState() { resources.fill(std::numeric_limits<double>::quiet_NaN()); }

ContainerState& PodState::container(const Symbol& name) {
  for (ContainerState& c : containers) {
    if (c.name == name) return c;
  }
  containers.emplace_back();
  containers.back().name = name;
  return containers.back();
}

PodInventory::PodInventory() {
  names_.resize(kFamilies);
  names_[kPhase] = Symbol::intern("kube_pod_status_phase");
  names_[kContainerInfo] = Symbol::intern("kube_pod_container_info");
  names_[kTerminated] = Symbol::intern("kube_pod_container_status_terminated");
  names_[kRequestsV2] = Symbol::intern("kube_pod_container_resource_requests");
  names_[kLimitsV2] = Symbol::intern("kube_pod_container_resource_limits");
  names_[kRequestsCpuV1] = Symbol::intern("kube_pod_container_resource_requests_cpu_cores");
  names_[kLimitsCpuV1] = Symbol::intern("kube_pod_container_resource_limits_cpu_cores");
  names_[kRequestsMemoryV1] = Symbol::intern("kube_pod_container_resource_requests_memory_bytes");
  names_[kLimitsMemoryV1] = Symbol::intern("kube_pod_container_resource_limits_memory_bytes");
}

PodState* PodInventory::pod(const Labels& labels) {
  PodKey key{labelValue(labels, namespace_), labelValue(labels, pod_)};
  if (key.namespace_name.empty() || key.pod_name.empty()) return nullptr;
  auto [it, inserted] = pods_.try_emplace(key);
  if (inserted) {
    it->second.namespace_name = key.namespace_name;
    it->second.pod_name = key.pod_name;
  }
  return &it->second;
}

void PodInventory::addResource(PodState& pod, const Labels& labels, Resource resource, double value,
                               bool v2) {
  const Symbol container = labelValue(labels, container_);
  if (container.empty()) return;
  ContainerState& c = pod.container(container);
  if (c.from_v2[resource] && !v2) return;  // the v2 series of the same value wins
  c.resources[resource] = value;
  c.from_v2[resource] = v2;
}

bool PodInventory::add(const Sample& sample) {
  std::size_t family = 0;
  while (family < kFamilies && !(sample.name == names_[family])) ++family;
  if (family == kFamilies) return false;
  // A staleness marker (the series vanished) or a NaN says nothing.
  if (std::isnan(sample.value)) return true;
  PodState* p = pod(sample.labels);
  if (p == nullptr) return true;
  switch (static_cast<Family>(family)) {
    case kPhase:
      if (sample.value == 1) p->phase = labelValue(sample.labels, phase_);
      break;
    case kContainerInfo:
    case kTerminated: {
      const Symbol container = labelValue(sample.labels, container_);
      if (container.empty()) break;
      ContainerState& c = p->container(container);
      if (family == kTerminated) c.terminated = sample.value == 1;
      break;
    }
    case kRequestsV2:
    case kLimitsV2: {
      const std::string_view resource = labelValue(sample.labels, resource_).view();
      const std::string_view unit = labelValue(sample.labels, unit_).view();
      const bool request = family == kRequestsV2;
      if (resource == "cpu" && unit == "core") {
        addResource(*p, sample.labels, request ? kCpuRequest : kCpuLimit, sample.value * kMilli,
                    true);
      } else if (resource == "memory" && unit == "byte") {
        addResource(*p, sample.labels, request ? kMemoryRequest : kMemoryLimit, sample.value, true);
      }
      break;
    }
    case kRequestsCpuV1:
      addResource(*p, sample.labels, kCpuRequest, sample.value * kMilli, false);
      break;
    case kLimitsCpuV1:
      addResource(*p, sample.labels, kCpuLimit, sample.value * kMilli, false);
      break;
    case kRequestsMemoryV1:
      addResource(*p, sample.labels, kMemoryRequest, sample.value, false);
      break;
    case kLimitsMemoryV1:
      addResource(*p, sample.labels, kMemoryLimit, sample.value, false);
      break;
    case kFamilies:
      break;
  }
  return true;
}

std::vector<const PodState*> PodInventory::pods() const {
  std::vector<const PodState*> out;
  out.reserve(pods_.size());
  for (const auto& entry : pods_) out.push_back(&entry.second);
  return out;
}

}  // namespace kubemetrics::scrapers::kube_state_metrics
