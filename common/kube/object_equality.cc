#include "common/kube/object_equality.h"

#include <algorithm>

namespace kubemetrics::kube {

bool sameResources(const KubeResources& a, const KubeResources& b) {
  return a.cpu_millicores == b.cpu_millicores && a.memory_bytes == b.memory_bytes;
}

bool sameContainer(const KubeContainer& a, const KubeContainer& b) {
  const auto samePort = [](const KubeContainerPort& x, const KubeContainerPort& y) {
    return x.name == y.name && x.port == y.port && x.protocol == y.protocol;
  };
  return a.name == b.name &&
         std::equal(a.ports.begin(), a.ports.end(), b.ports.begin(), b.ports.end(), samePort) &&
         sameResources(a.requests, b.requests) && sameResources(a.limits, b.limits) &&
         a.restart_count == b.restart_count && a.state == b.state && a.reason == b.reason;
}

bool samePod(const KubePod& a, const KubePod& b) {
  return a.namespace_name == b.namespace_name && a.name == b.name && a.uid == b.uid &&
         a.node_name == b.node_name && a.phase == b.phase && a.pod_ip == b.pod_ip &&
         a.labels == b.labels && a.annotations == b.annotations &&
         a.workload_kind == b.workload_kind && a.workload_name == b.workload_name &&
         std::equal(a.containers.begin(), a.containers.end(), b.containers.begin(),
                    b.containers.end(), sameContainer);
}

bool sameNode(const KubeNode& a, const KubeNode& b) {
  return a.name == b.name && a.labels == b.labels && a.role == b.role &&
         sameResources(a.capacity, b.capacity) && sameResources(a.allocatable, b.allocatable);
}

}  // namespace kubemetrics::kube
