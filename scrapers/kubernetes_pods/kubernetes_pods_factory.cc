// `sources.kubernetes_pods`: Prometheus scrape targets discovered from the
// annotations of this node's pods (the Kubernetes API's pod metadata).
#include "kubemetrics/component.h"
#include "kubemetrics/log.h"
#include "kubernetes_pods_source.h"

namespace kubemetrics::scrapers::kubernetes_pods {

SourceFactory buildSources;

/// One source for the whole node. With a null context only validates;
/// disabled or with role: cluster, the Kubernetes API is not asked for.
Result<std::vector<SourcePtr>> buildSources(ConfigNode& node, const ComponentContext* context) {
  KubernetesPodsConfig config = parseKubernetesPodsConfig(node);
  std::vector<SourcePtr> sources;
  if (context == nullptr || !config.enabled) return sources;
  if (context->agent.role != "node") {
    // The DaemonSet's agent on each node scrapes that node's pods; the
    // cluster replica would scrape its own node's pods a second time.
    logInfo(kSourceName) << "enabled but skipped: only agents with role: node discover pods "
                            "(this one has role: "
                         << context->agent.role << ")";
    return sources;
  }
  Result<KubeMetadata*> kube = context->kube.acquire("sources.kubernetes_pods");
  if (!kube) {
    return needsKubernetesApi(node.pathOf("enabled"), kube.error());
  }
  sources.push_back(std::make_unique<KubernetesPodsSource>(
      std::move(config), context->agent.node, *kube, &context->metrics, &context->tags));
  return sources;
}

}  // namespace kubemetrics::scrapers::kubernetes_pods
