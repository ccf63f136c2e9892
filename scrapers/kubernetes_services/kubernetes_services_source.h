#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/scrape/discovery_config.h"
#include "common/scrape/target_group.h"
#include "kubemetrics/agent_tags.h"
#include "kubemetrics/kube_services.h"
#include "kubemetrics/source.h"

namespace kubemetrics::scrapers::kubernetes_services {

/// The source name, in SampleBatch::source, self-metrics and logs.
inline constexpr std::string_view kSourceName = "kubernetes_services";

/// This replica's part of the targets: shard `shard` of `total_shards`
/// (scrape::shardOf() of the target URL). Plain value type.
struct ShardSpec {
  int shard = 0;
  int total_shards = 1;
};

/// Scrapes the endpoints of the Services annotated
/// `prometheus.io/scrape: "true"` (see discoverTargets()) that fall in this
/// replica's shard, each as a Prometheus target labelled
/// job="kubernetes-service-endpoints", instance=address:port, namespace,
/// service and pod (the endpoint's targetRef), with up and scrape_*.
///
/// Each scrape() first reconciles the targets with the latest
/// KubeServiceSnapshot when its version changed (an endpoint added or
/// removed is seen at the next interval after its watch event). Until the
/// first LISTs completed the targets stay as they are. A target that goes
/// away (endpoint removed or not ready, Service no longer annotated,
/// another shard's after a resharding) is retired with staleness markers
/// for all its series (scrape::TargetGroup).
///
/// Self-metrics: kubemetrics_kubernetes_services_targets (this shard's),
/// kubemetrics_kubernetes_services_discovered_targets (all shards),
/// kubemetrics_kubernetes_services_skipped_services,
/// kubemetrics_kubernetes_services_scrape_errors_total.
///
/// Owned by the scheduler thread that calls scrape(); not thread-safe.
/// `catalog`, `registry` and `tags` (the last two may be null) must
/// outlive it.
class KubernetesServicesSource : public Source {
 public:
  KubernetesServicesSource(scrape::DiscoveryConfig config, ShardSpec shard,
                           KubeServiceCatalog* catalog, prometheus::Registry* registry,
                           const AgentTags* tags);
  ~KubernetesServicesSource() override;

  // kubemetrics::Source
  std::string_view name() const override { return kSourceName; }
  std::chrono::milliseconds interval() const override { return config_.interval; }
  Result<ScrapeStats> scrape(SampleBatch& out, Deadline deadline) override;

  /// The current targets' keys ("<ns>/<service>\n<url>"), sorted.
  std::vector<std::string> targetKeysForTest() const { return targets_.keys(); }

 private:
  void reconcile();

  scrape::DiscoveryConfig config_;
  ShardSpec shard_;
  KubeServiceCatalog* catalog_;
  std::uint64_t seen_version_ = 0;
  bool seen_any_ = false;
  std::map<std::string, std::string> skipped_;  // service -> reason, as last logged
  prometheus::Gauge* targets_gauge_ = nullptr;
  prometheus::Gauge* discovered_gauge_ = nullptr;
  prometheus::Gauge* skipped_gauge_ = nullptr;
  prometheus::Counter* errors_ = nullptr;
  scrape::TargetGroup targets_;  // after errors_, which it uses
};

}  // namespace kubemetrics::scrapers::kubernetes_services
