#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "kubemetrics/config.h"

namespace kubemetrics::scrapers::kubelet {

/// The default URL: the node's own kubelet. NODE_IP comes from the
/// downward API (status.hostIP); the source expands it when it starts.
inline constexpr const char* kDefaultUrl = "https://${NODE_IP}:10250/stats/summary";

/// `sources.kubelet.kubernetes_metrics`: whether the source also emits the
/// requests, limits, node capacity and pod status metrics that come from the
/// Kubernetes API (ResourceEmitter).
enum class KubernetesMetrics {
  kAuto,  // on when the agent can reach the API (KubeMetadataProvider::available())
  kOn,    // on; no API is a start-up error
  kOff,
};

/// `sources.kubelet:`: the kubelet Summary API of this node. Immutable after
/// parsing.
struct KubeletConfig {
  bool enabled = false;
  // Summary API URL; default kDefaultUrl (${NODE_IP} expanded at start).
  std::string url = kDefaultUrl;
  std::chrono::milliseconds interval{30000};  // scrape period; default 30s
  std::chrono::milliseconds timeout{10000};   // whole request; default 10s, < interval
  // Service-account token sent as `Authorization: Bearer`, re-read on every
  // scrape because projected tokens rotate; empty: no Authorization header.
  std::string bearer_token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  // PEM bundle that verifies the kubelet's certificate; empty: system CAs.
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  // No certificate verification at all (logged as a warning at start).
  bool insecure_skip_verify = false;
  // Emit kubernetes.sys_container.* (kubelet, runtime, pods cgroups).
  bool sys_containers = false;
  // Largest response accepted; default 64MiB.
  std::uint64_t max_response_bytes = 64ull * 1024 * 1024;
  // Requests/limits/capacity/status metrics from the Kubernetes API; default auto.
  KubernetesMetrics kubernetes_metrics = KubernetesMetrics::kAuto;
};

/// Reads `sources.kubelet`, recording bad values in the node's document (and
/// keeping the default for them), then reports unknown keys (node.finish()).
KubeletConfig parseKubeletConfig(ConfigNode& node);

/// Replaces ${NODE_IP} in `url` with `node_ip`; an error message when the
/// URL needs it and it is empty.
bool expandNodeIp(std::string& url, const char* node_ip, std::string& error);

}  // namespace kubemetrics::scrapers::kubelet
