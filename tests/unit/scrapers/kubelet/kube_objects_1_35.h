#pragma once

// Kubernetes API objects of the node recorded in
// ../shared/fixtures/kubelet/summary_k8s-1.35_containerd_psi_nri.json, built
// by hand as KubePod/KubeNode values (the JSON decoders are not this
// folder's job). Each pod copies the fields of its item in
// kubelet/pods_k8s-1.35_nri.json, the v1 PodList of the same node; the node
// copies ksm/ksm-v2.19.0_k8s-1.35_nri.prom of the same cluster, as the
// capture has no Node object. The capture has no pod with two containers,
// so multiContainerPod() is made up, and says so.

#include <optional>
#include <string>
#include <vector>

#include "kubemetrics/kube_metadata.h"

namespace kubemetrics::scrapers::kubelet::testing {

inline constexpr char kNode135[] = "datagen-1-35";
inline constexpr double kMi = 1024.0 * 1024.0;

inline KubeContainer container(std::string name, KubeResources requests, KubeResources limits,
                               std::string state, std::string reason = "", int restarts = 0) {
  KubeContainer c;
  c.name = std::move(name);
  c.requests = requests;
  c.limits = limits;
  c.state = std::move(state);
  c.reason = std::move(reason);
  c.restart_count = restarts;
  return c;
}

inline KubePod pod(std::string namespace_name, std::string name, std::string phase,
                   std::vector<KubeContainer> containers, std::string node = kNode135) {
  KubePod p;
  p.namespace_name = std::move(namespace_name);
  p.name = std::move(name);
  p.node_name = std::move(node);
  p.phase = std::move(phase);
  p.containers = std::move(containers);
  return p;
}

/// ksm: kube_node_status_{capacity,allocatable}{node="datagen-1-35"}: cpu 14
/// cores, memory 8216887296 bytes (capacity and allocatable are equal on
/// this kind node).
inline KubeNode node135() {
  KubeNode n;
  n.name = kNode135;
  n.capacity = {14000.0, 8216887296.0};
  n.allocatable = {14000.0, 8216887296.0};
  return n;
}

/// kube-system/coredns-7d764666f9-qdcxt (in the summary): container coredns,
/// requests {cpu: 100m, memory: 70Mi}, limits {memory: 170Mi} (no CPU
/// limit), restartCount 0, state.running; phase Running.
inline KubePod coredns() {
  return pod("kube-system", "coredns-7d764666f9-qdcxt", "Running",
             {container("coredns", {100.0, 70 * kMi}, {std::nullopt, 170 * kMi}, "running")});
}

/// scraper/e2e-scraper-5f97dc94d8-vkcjl (in the summary): container
/// e2e-scraper with `resources: {}` (no requests, no limits), state.running;
/// phase Running.
inline KubePod scraperWithoutResources() {
  return pod("scraper", "e2e-scraper-5f97dc94d8-vkcjl", "Running",
             {container("e2e-scraper", {}, {}, "running")});
}

/// kube-system/kube-apiserver-datagen-1-35 (in the summary): container
/// kube-apiserver, requests {cpu: 250m}, no limits, state.running.
inline KubePod apiserver() {
  return pod("kube-system", "kube-apiserver-datagen-1-35", "Running",
             {container("kube-apiserver", {250.0, std::nullopt}, {}, "running")});
}

/// scraper/e2e-container-creating (not in the summary): container alpine,
/// requests = limits = {cpu: 5m, memory: 5M}, restartCount 2,
/// state.terminated.reason Completed; phase Running.
inline KubePod restartingAlpine() {
  return pod("scraper", "e2e-container-creating", "Running",
             {container("alpine", {5.0, 5e6}, {5.0, 5e6}, "terminated", "Completed", 2)});
}

/// scraper/e2e-cronjob-29707813-dhlr2 (not in the summary): container
/// compute-pi-digits, requests {cpu: 40m, memory: 15Mi}, limits {cpu: 80m,
/// memory: 30Mi}, state.terminated.reason Completed; phase Succeeded.
inline KubePod finishedCronJob() {
  return pod("scraper", "e2e-cronjob-29707813-dhlr2", "Succeeded",
             {container("compute-pi-digits", {40.0, 15 * kMi}, {80.0, 30 * kMi}, "terminated",
                        "Completed")});
}

/// scraper/e2e-failjob-64h4g (not in the summary): container main with no
/// resources, state.terminated.reason Error; phase Failed.
inline KubePod failedJob() {
  return pod("scraper", "e2e-failjob-64h4g", "Failed",
             {container("main", {}, {}, "terminated", "Error")});
}

/// Made up (the capture has no multi-container pod): an app container with
/// requests {cpu: 250m, memory: 64Mi}, limits {cpu: 500m, memory: 128Mi},
/// running after 1 restart, and a sidecar with requests {cpu: 50m} and no
/// limits, waiting in CrashLoopBackOff after 3 restarts.
inline KubePod multiContainerPod() {
  return pod("scraper", "made-up-app-with-sidecar", "Running",
             {container("app", {250.0, 64 * kMi}, {500.0, 128 * kMi}, "running", "", 1),
              container("sidecar", {50.0, std::nullopt}, {}, "waiting", "CrashLoopBackOff", 3)});
}

/// The e2e-daemonset pod as another node would list it: never this node's.
inline KubePod otherNodePod() {
  return pod("scraper", "e2e-daemonset-other", "Running",
             {container("compute-pi-digits", {40.0, 15 * kMi}, {80.0, 30 * kMi}, "running")},
             "other-node");
}

/// CPU and memory the pods above request on kNode135 while they hold
/// resources (finishedCronJob and otherNodePod excluded).
inline constexpr double kRequestedCpu = 100 + 250 + 5 + 250 + 50;      // millicores
inline constexpr double kRequestedMemory = 70 * kMi + 5e6 + 64 * kMi;  // bytes

}  // namespace kubemetrics::scrapers::kubelet::testing
