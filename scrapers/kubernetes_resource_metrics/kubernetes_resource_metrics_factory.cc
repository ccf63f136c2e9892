// `sources.kubernetes_resource_metrics`: the Wavefront collector's usage
// aggregates (kubernetes.ns/cluster.cpu.usage_rate, memory.working_set)
// from the resource metrics API.
#include <memory>

#include "common/config/units.h"
#include "kubemetrics/component.h"
#include "kubemetrics/log.h"
#include "resource_metrics_source.h"

namespace kubemetrics::scrapers::kubernetes_resource_metrics {

SourceFactory buildSources;

/// One ResourceMetricsSource. Only with role: cluster (the LIST covers the
/// whole cluster), and only on the replica of shard 0, so N replicas sum
/// the usage once. Needs RBAC `apiGroups: ["metrics.k8s.io"], resources:
/// ["pods"], verbs: ["list"]` and metrics-server. Defaults: off, every 60s,
/// timeout 10s. With a null context only validates.
Result<std::vector<SourcePtr>> buildSources(ConfigNode& node, const ComponentContext* context) {
  scrape::PeriodicSourceConfig defaults;
  defaults.interval = std::chrono::seconds(60);
  const scrape::PeriodicSourceConfig config = scrape::parsePeriodicSourceConfig(node, defaults);
  std::vector<SourcePtr> sources;
  if (context == nullptr || !config.enabled) return sources;
  if (context->agent.role != "cluster") {
    // Every DaemonSet agent would list the whole cluster's pods.
    logInfo(kSourceName) << "enabled but skipped: only agents with role: cluster sum the "
                            "resource metrics API (this one has role: "
                         << context->agent.role << ")";
    return sources;
  }
  if (context->agent.shard != 0) {
    logInfo(kSourceName) << "summed by the replica of shard 0 (this one is shard "
                         << context->agent.shard << ")";
    return sources;
  }
  Result<KubeApiAccess> access = context->kube.apiAccess();
  if (!access) {
    return needsKubernetesApi(node.pathOf("enabled"), access.error());
  }
  kube::KubeApiConfig api;
  api.api_server = access->server;
  api.bearer_token_file = access->bearer_token_file;
  api.ca_file = access->ca_file;
  api.insecure_skip_verify = access->insecure_skip_verify;
  std::unique_ptr<SecretFile> token;
  if (!api.bearer_token_file.empty()) {
    token = std::make_unique<SecretFile>(api.bearer_token_file, "kubernetes.bearer_token_file");
    if (Result<void> loaded = token->load(); !loaded) {
      return makeError(loaded.error().code(),
                       node.pathOf("enabled") + ": " + loaded.error().message());
    }
  }
  logInfo(kSourceName) << "summing pod usage from " << access->server << kPodMetricsPath
                       << " every " << formatDuration(config.interval);
  sources.push_back(std::make_unique<ResourceMetricsSource>(config, api, access->server,
                                                            std::move(token), &context->metrics,
                                                            &context->tags, context->clock));
  return sources;
}

}  // namespace kubemetrics::scrapers::kubernetes_resource_metrics
