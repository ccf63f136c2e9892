// The factory lives apart from kubelet_source.cc so that tests (and tools)
// using the source alone do not pull in the ConfigNode implementation.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "kubelet_source.h"
#include "kubemetrics/log.h"

namespace kubemetrics::scrapers::kubelet {

Result<std::vector<SourcePtr>> buildSources(ConfigNode& node, const ComponentContext* context) {
  KubeletConfig config = parseKubeletConfig(node);
  std::vector<SourcePtr> sources;
  if (context == nullptr || !config.enabled) return sources;
  std::string error;
  if (!expandNodeIp(config.url, std::getenv("NODE_IP"), error)) {
    return makeError(ErrorCode::kInvalidArgument, node.pathOf("url") + ": " + error);
  }
  // A missing CA file would only show as a TLS error every interval; at
  // start-up it is one clear message.
  if (!config.insecure_skip_verify && !config.ca_file.empty() &&
      ::access(config.ca_file.c_str(), R_OK) != 0) {
    const int err = errno;
    return makeError(ErrorCode::kInvalidArgument,
                     node.pathOf("ca_file") + ": " + config.ca_file + ": " + std::strerror(err) +
                         " (give the CA that signs the kubelet's certificate, or "
                         "insecure_skip_verify: true)");
  }
  KubeMetadata* kube = nullptr;
  const bool want_kube =
      config.kubernetes_metrics == KubernetesMetrics::kOn ||
      (config.kubernetes_metrics == KubernetesMetrics::kAuto && context->kube.available());
  if (want_kube) {
    Result<KubeMetadata*> acquired = context->kube.acquire("sources.kubelet.kubernetes_metrics");
    if (acquired) {
      kube = *acquired;
    } else if (config.kubernetes_metrics == KubernetesMetrics::kOn) {
      return makeError(ErrorCode::kInvalidArgument,
                       node.pathOf("kubernetes_metrics") + ": " + acquired.error().message() +
                           " (configure kubernetes.api_server, run in a cluster, or set "
                           "kubernetes_metrics: auto)");
    } else {
      // auto: the summary metrics are worth having without the API.
      logWarn("kubelet") << node.pathOf("kubernetes_metrics")
                         << ": auto: the Kubernetes API is configured but cannot be used ("
                         << acquired.error().message()
                         << "); requests, limits and pod status metrics are off";
    }
  }
  sources.push_back(std::make_unique<KubeletSummarySource>(
      "kubelet", std::move(config), context->agent.node, &context->metrics, kube));
  return sources;
}

}  // namespace kubemetrics::scrapers::kubelet
