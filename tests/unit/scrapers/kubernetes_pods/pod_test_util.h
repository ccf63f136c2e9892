#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kubemetrics/kube_metadata.h"

namespace kubemetrics::scrapers::kubernetes_pods {

/// A running pod as the API client reports one (kubemetrics/kube_metadata.h
/// KubePod, the fields of a v1 Pod): on `node`, with `ip`, `annotations`
/// and containers given as name -> declared TCP ports.
inline KubePod makePod(std::string namespace_name, std::string name, std::string node,
                       std::string ip, std::map<std::string, std::string, std::less<>> annotations,
                       std::vector<std::pair<std::string, std::vector<int>>> containers = {}) {
  KubePod pod;
  pod.namespace_name = std::move(namespace_name);
  pod.name = std::move(name);
  pod.uid = pod.namespace_name + "-" + pod.name + "-uid";
  pod.node_name = std::move(node);
  pod.phase = "Running";
  pod.pod_ip = std::move(ip);
  pod.annotations = std::move(annotations);
  for (auto& [container_name, ports] : containers) {
    KubeContainer container;
    container.name = container_name;
    container.state = "running";
    for (int port : ports) container.ports.push_back(KubeContainerPort{"", port, "TCP"});
    pod.containers.push_back(std::move(container));
  }
  return pod;
}

/// The snapshot of a first LIST that returned `pods`.
inline KubeSnapshot snapshotOf(std::vector<KubePod> pods) {
  KubeSnapshot snapshot;
  snapshot.version = 1;
  snapshot.synced = true;
  for (KubePod& pod : pods) {
    const std::string key = pod.namespace_name + "/" + pod.name;
    snapshot.pods[key] = std::make_shared<const KubePod>(std::move(pod));
  }
  return snapshot;
}

}  // namespace kubemetrics::scrapers::kubernetes_pods
