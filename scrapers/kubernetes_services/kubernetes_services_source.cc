#include "kubernetes_services_source.h"

#include <utility>

#include "common/scrape/scrape_annotations.h"
#include "common/scrape/shard.h"
#include "kubemetrics/log.h"
#include "service_targets.h"

namespace kubemetrics::scrapers::kubernetes_services {
namespace {

prometheus::Gauge* gauge(prometheus::Registry* registry, const char* name, const char* help) {
  if (registry == nullptr) return nullptr;
  return &prometheus::BuildGauge().Name(name).Help(help).Register(*registry).Add({});
}

}  // namespace

KubernetesServicesSource::KubernetesServicesSource(scrape::DiscoveryConfig config, ShardSpec shard,
                                                   KubeServiceCatalog* catalog,
                                                   prometheus::Registry* registry,
                                                   const AgentTags* tags)
    : config_(std::move(config)),
      shard_(shard),
      catalog_(catalog),
      targets_gauge_(gauge(registry, "kubemetrics_kubernetes_services_targets",
                           "Service endpoints this replica scrapes (its shard).")),
      discovered_gauge_(gauge(registry, "kubemetrics_kubernetes_services_discovered_targets",
                              "Service endpoints discovered, every shard's.")),
      skipped_gauge_(gauge(registry, "kubemetrics_kubernetes_services_skipped_services",
                           "Services annotated prometheus.io/scrape=\"true\" with an invalid "
                           "annotation.")),
      errors_(registry == nullptr
                  ? nullptr
                  : &prometheus::BuildCounter()
                         .Name("kubemetrics_kubernetes_services_scrape_errors_total")
                         .Help("Failed scrapes of service endpoints (each is also up = 0).")
                         .Register(*registry)
                         .Add({})),
      targets_(std::string(kSourceName), "service endpoint targets", tags, errors_) {
  if (config_.target.insecure_skip_verify) {
    logWarn(kSourceName) << "tls.insecure_skip_verify is on: the certificates of https "
                            "endpoints are not verified";
  }
}

KubernetesServicesSource::~KubernetesServicesSource() = default;

void KubernetesServicesSource::reconcile() {
  const std::shared_ptr<const KubeServiceSnapshot> snapshot = catalog_->snapshot();
  if (snapshot == nullptr || !snapshot->synced) return;
  if (seen_any_ && snapshot->version == seen_version_) return;
  seen_any_ = true;
  seen_version_ = snapshot->version;

  Discovery found = discoverTargets(*snapshot, config_.namespaces);
  std::vector<scrape::DiscoveredTarget> mine;
  for (EndpointTarget& endpoint : found.targets) {
    if (scrape::shardOf(endpoint.url, shard_.total_shards) != shard_.shard) continue;
    scrape::DiscoveredTarget target{endpoint.key, config_.target, ""};
    target.config.name = std::string(kJobName);
    target.config.url = endpoint.url;
    target.config.labels = {{"namespace", endpoint.namespace_name}, {"service", endpoint.service}};
    if (!endpoint.pod.empty()) target.config.labels.emplace("pod", endpoint.pod);
    target.name = std::string(kSourceName) + "/" + endpoint.namespace_name + "/" +
                  endpoint.service + "/" + target.config.instance();
    mine.push_back(std::move(target));
  }
  if (discovered_gauge_ != nullptr) {
    discovered_gauge_->Set(static_cast<double>(found.targets.size()));
  }
  targets_.update(std::move(mine));

  std::map<std::string, std::string> skipped;
  for (SkippedService& service : found.skipped) {
    auto it = skipped_.find(service.service);
    if (it == skipped_.end() || it->second != service.reason) {
      logInfo(kSourceName) << "service " << service.service << " is annotated "
                           << scrape::kScrapeAnnotation
                           << "=\"true\" but not scraped: " << service.reason;
    }
    skipped.emplace(std::move(service.service), std::move(service.reason));
  }
  skipped_ = std::move(skipped);
  if (skipped_gauge_ != nullptr) skipped_gauge_->Set(static_cast<double>(skipped_.size()));
}

Result<ScrapeStats> KubernetesServicesSource::scrape(SampleBatch& out, Deadline deadline) {
  reconcile();
  if (targets_gauge_ != nullptr) targets_gauge_->Set(static_cast<double>(targets_.size()));
  return targets_.scrape(out, deadline);
}

}  // namespace kubemetrics::scrapers::kubernetes_services
