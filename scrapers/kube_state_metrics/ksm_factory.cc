#include "ksm_source.h"
#include "kubemetrics/log.h"

namespace kubemetrics::scrapers::kube_state_metrics {

scrape::TargetConfig defaultKsmConfig() {
  scrape::TargetConfig config;
  config.name = "kube-state-metrics";
  config.url = "http://kube-state-metrics.kube-system.svc:8080/metrics";
  config.interval = std::chrono::seconds(60);
  config.timeout = std::chrono::seconds(10);
  // kube-state-metrics serves every object of the cluster: about 100
  // series per pod, so a million covers some 10,000 pods.
  config.max_samples = 1'000'000;
  return config;
}

Result<std::vector<SourcePtr>> buildSources(ConfigNode& node, const ComponentContext* context) {
  const bool enabled = node.getBool("enabled", false);
  // The namespace and cluster aggregates (kubernetes.ns.*, kubernetes.cluster.*):
  // on by default, as the source only ever runs in the cluster role.
  const bool aggregates = node.getBool("aggregates", true);
  // Every key is read (and validated) even when disabled, so a typo shows up
  // before the day the source is switched on.
  scrape::TargetConfig config = scrape::parseTargetConfig(node, defaultKsmConfig(), false);
  std::vector<SourcePtr> sources;
  if (context == nullptr || !enabled) return sources;
  if (context->agent.role != "cluster") {
    logInfo("kube_state_metrics")
        << "enabled but skipped: only the agent with role: cluster scrapes kube-state-metrics "
           "(this one has role: "
        << context->agent.role << ")";
    return sources;
  }
  auto target = std::make_unique<scrape::PrometheusTarget>(std::move(config), "kube_state_metrics",
                                                           &context->metrics, &context->tags);
  sources.push_back(std::make_unique<KsmSource>(std::move(target), aggregates, &context->tags));
  return sources;
}

}  // namespace kubemetrics::scrapers::kube_state_metrics
