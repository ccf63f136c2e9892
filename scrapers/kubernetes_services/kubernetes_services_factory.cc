// `sources.kubernetes_services`: Prometheus scrape targets discovered from
// annotated Services, through every endpoint of their EndpointSlices.
#include "common/scrape/discovery_config.h"
#include "kubemetrics/component.h"
#include "kubemetrics/log.h"
#include "kubernetes_services_source.h"

namespace kubemetrics::scrapers::kubernetes_services {

SourceFactory buildSources;

/// One source for this replica's shard. With a null context only
/// validates; disabled or with role: node, the Kubernetes API is not asked
/// for.
Result<std::vector<SourcePtr>> buildSources(ConfigNode& node, const ComponentContext* context) {
  scrape::DiscoveryConfig config = scrape::parseDiscoveryConfig(node);
  std::vector<SourcePtr> sources;
  if (context == nullptr || !config.enabled) return sources;
  if (context->agent.role != "cluster") {
    // Services span the cluster: every DaemonSet agent would scrape each
    // endpoint once more.
    logInfo(kSourceName) << "enabled but skipped: only agents with role: cluster discover "
                            "services (this one has role: "
                         << context->agent.role << ")";
    return sources;
  }
  Result<KubeServiceCatalog*> catalog =
      context->kube.acquireServices("sources.kubernetes_services");
  if (!catalog) {
    return needsKubernetesApi(node.pathOf("enabled"), catalog.error());
  }
  logInfo(kSourceName) << "scraping the endpoints of annotated services in shard "
                       << context->agent.shard << " of " << context->agent.total_shards;
  sources.push_back(std::make_unique<KubernetesServicesSource>(
      std::move(config), ShardSpec{context->agent.shard, context->agent.total_shards}, *catalog,
      &context->metrics, &context->tags));
  return sources;
}

}  // namespace kubemetrics::scrapers::kubernetes_services
