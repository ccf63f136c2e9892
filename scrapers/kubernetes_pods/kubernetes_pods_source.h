#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "common/scrape/target_group.h"
#include "config.h"
#include "kubemetrics/agent_tags.h"
#include "kubemetrics/kube_metadata.h"
#include "kubemetrics/log.h"
#include "kubemetrics/source.h"

namespace kubemetrics::scrapers::kubernetes_pods {

/// The source name, in SampleBatch::source, self-metrics and logs.
inline constexpr std::string_view kSourceName = "kubernetes_pods";

/// Scrapes the pods of this node annotated `prometheus.io/scrape: "true"`
/// (see discoverTargets()), each as a Prometheus target
/// (scrape::PrometheusTarget, one per target, labelled job="kubernetes-pods",
/// instance=podIP:port, namespace, pod and container, with up and scrape_*).
///
/// Each scrape() first reconciles the targets with the latest KubeSnapshot
/// when its version changed since the last one (so a pod added, changed or
/// deleted is seen at the next interval after its watch event; snapshot()
/// is one shared-pointer copy, so there is nothing to gain from a
/// subscription, and KubeMetadata has no unsubscribe for a source that is
/// destroyed first). Until the first LIST completed (snapshot not synced)
/// the targets stay as they are. A target that goes away (pod deleted, no
/// longer annotated, moved to a namespace not allowed, new pod IP, port or
/// path) is retired: its series, up and scrape_* included, get staleness
/// markers in that scrape's batch, after the samples of the live targets.
///
/// The targets are scraped as a scrape::TargetGroup (one after the other,
/// each with a fair share of the deadline); a failed target is counted in
/// kubemetrics_kubernetes_pods_scrape_errors_total.
///
/// Per-target self-metrics (kubemetrics_prometheus_*{target}) are not kept:
/// pod churn would grow them without bound; `up` and the scrape_* series
/// say the same per target.
///
/// Owned by the scheduler thread that calls scrape(); not thread-safe.
/// `kube`, `registry` and `tags` (the last two may be null) must outlive it.
class KubernetesPodsSource : public Source {
 public:
  KubernetesPodsSource(KubernetesPodsConfig config, std::string node, KubeMetadata* kube,
                       prometheus::Registry* registry, const AgentTags* tags);
  ~KubernetesPodsSource() override;

  // kubemetrics::Source
  std::string_view name() const override { return kSourceName; }
  std::chrono::milliseconds interval() const override { return config_.interval; }
  Result<ScrapeStats> scrape(SampleBatch& out, Deadline deadline) override;

  /// The current targets' keys (PodTarget::key), sorted.
  std::vector<std::string> targetKeysForTest() const;

 private:
  // Brings the targets in line with the snapshot.
  void reconcile();

  KubernetesPodsConfig config_;
  std::string node_;
  KubeMetadata* kube_;
  std::uint64_t seen_version_ = 0;
  bool seen_any_ = false;
  bool waiting_logged_ = false;
  std::map<std::string, std::string> skipped_;  // pod -> reason, as last logged
  prometheus::Gauge* targets_gauge_ = nullptr;
  prometheus::Gauge* skipped_gauge_ = nullptr;
  prometheus::Counter* errors_ = nullptr;
  scrape::TargetGroup targets_;  // after errors_, which it uses
};

}  // namespace kubemetrics::scrapers::kubernetes_pods
