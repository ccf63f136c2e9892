// `sources.kubernetes_apiserver`: the control-plane preset, the Kubernetes
// API server's /metrics scraped with the agent's own API credentials.
#include "common/scrape/config.h"
#include "common/scrape/prometheus_target.h"
#include "common/scrape/shard.h"
#include "kubemetrics/component.h"
#include "kubemetrics/log.h"

namespace kubemetrics::scrapers::kubernetes_apiserver {

SourceFactory buildSources;

namespace {
constexpr std::string_view kSourceName = "kubernetes_apiserver";
}  // namespace

/// One PrometheusTarget, job="kubernetes-apiservers", on the `kubernetes:`
/// server (in-cluster: the `kubernetes` Service's address) with its token
/// and CA. Only with role: cluster, and only on the replica whose shard
/// owns the URL (scrape::shardOf), so N replicas scrape it once. Needs RBAC
/// `nonResourceURLs: ["/metrics"], verbs: ["get"]`. With a null context
/// only validates.
Result<std::vector<SourcePtr>> buildSources(ConfigNode& node, const ComponentContext* context) {
  // Defaults: off, every 30s, timeout 10s.
  const scrape::PeriodicSourceConfig config =
      scrape::parsePeriodicSourceConfig(node, scrape::PeriodicSourceConfig{});
  std::vector<SourcePtr> sources;
  if (context == nullptr || !config.enabled) return sources;
  if (context->agent.role != "cluster") {
    logInfo(kSourceName) << "enabled but skipped: only agents with role: cluster scrape the API "
                            "server (this one has role: "
                         << context->agent.role << ")";
    return sources;
  }
  Result<KubeApiAccess> access = context->kube.apiAccess();
  if (!access) {
    return needsKubernetesApi(node.pathOf("enabled"), access.error());
  }
  scrape::TargetConfig target;
  target.name = "kubernetes-apiservers";
  target.url = access->server + "/metrics";
  target.interval = config.interval;
  target.timeout = config.timeout;
  target.bearer_token_file = access->bearer_token_file;
  target.ca_file = access->ca_file;
  target.insecure_skip_verify = access->insecure_skip_verify;
  const int owner = scrape::shardOf(target.url, context->agent.total_shards);
  if (owner != context->agent.shard) {
    logInfo(kSourceName) << target.url << " is scraped by the replica of shard " << owner
                         << " (this one is shard " << context->agent.shard << ")";
    return sources;
  }
  sources.push_back(std::make_unique<scrape::PrometheusTarget>(
      std::move(target), std::string(kSourceName), &context->metrics, &context->tags));
  return sources;
}

}  // namespace kubemetrics::scrapers::kubernetes_apiserver
