// `sources.prometheus`: any Prometheus/OpenMetrics targets the user lists,
// each scraped by the shared scrape target (common/scrape).
#include <map>
#include <string>

#include "common/scrape/prometheus_target.h"
#include "kubemetrics/component.h"

namespace kubemetrics::scrapers::prometheus {

SourceFactory buildSources;

/// One source per target: per list element, or per URL of an element's
/// `urls` (then named after the job and the instance, to stay unique in
/// self-metrics and logs). With a null context only validates.
Result<std::vector<SourcePtr>> buildSources(ConfigNode& node, const ComponentContext* context) {
  std::vector<scrape::TargetConfig> targets = scrape::parseTargetList(node);
  node.finish();
  std::vector<SourcePtr> sources;
  if (context == nullptr) return sources;
  std::map<std::string, int> per_job;
  for (const scrape::TargetConfig& target : targets) ++per_job[target.name];
  for (scrape::TargetConfig& target : targets) {
    std::string name = "prometheus/" + target.name;
    if (per_job[target.name] > 1) name += "/" + target.instance();
    sources.push_back(std::make_unique<scrape::PrometheusTarget>(
        std::move(target), std::move(name), &context->metrics, &context->tags));
  }
  return sources;
}

}  // namespace kubemetrics::scrapers::prometheus
