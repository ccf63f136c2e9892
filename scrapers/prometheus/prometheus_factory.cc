// The factory lives apart from the target so that tests using the parser or
// the target alone do not depend on the registry's view of the config.
#include "scrapers/prometheus/prometheus_target.h"

namespace kubemetrics::prometheus_scrape {

Result<std::vector<SourcePtr>> buildPrometheusSources(ConfigNode& node,
                                                      const ComponentContext* context) {
  std::vector<TargetConfig> targets = parseTargetList(node);
  node.finish();
  std::vector<SourcePtr> sources;
  if (context == nullptr) return sources;
  for (TargetConfig& target : targets) {
    std::string name = "prometheus/" + target.name;
    sources.push_back(std::make_unique<PrometheusTarget>(std::move(target), std::move(name),
                                                         &context->metrics, &context->tags));
  }
  return sources;
}

}  // namespace kubemetrics::prometheus_scrape
