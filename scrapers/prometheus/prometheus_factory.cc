// `sources.prometheus`: any Prometheus/OpenMetrics targets the user lists,
// each scraped by the shared scrape target (common/scrape).
#include "common/scrape/prometheus_target.h"
#include "kubemetrics/component.h"

namespace kubemetrics::scrapers::prometheus {

SourceFactory buildSources;

/// One target per list element. With a null context only validates.
Result<std::vector<SourcePtr>> buildSources(ConfigNode& node, const ComponentContext* context) {
  std::vector<scrape::TargetConfig> targets = scrape::parseTargetList(node);
  node.finish();
  std::vector<SourcePtr> sources;
  if (context == nullptr) return sources;
  for (scrape::TargetConfig& target : targets) {
    std::string name = "prometheus/" + target.name;
    sources.push_back(std::make_unique<scrape::PrometheusTarget>(
        std::move(target), std::move(name), &context->metrics, &context->tags));
  }
  return sources;
}

}  // namespace kubemetrics::scrapers::prometheus
