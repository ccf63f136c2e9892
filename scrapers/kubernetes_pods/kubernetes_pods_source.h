#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "common/scrape/prometheus_target.h"
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
/// The targets are scraped one after the other within the scheduler's
/// deadline; each gets at most its `timeout` and an equal share of the time
/// left for the targets not scraped yet (time a fast target leaves over
/// goes to the ones after it), so one slow pod cannot starve the rest.
/// scrape() fails only when every target failed; a failed target is still
/// reported by its up = 0, counted in
/// kubemetrics_kubernetes_pods_scrape_errors_total and logged (once a minute
/// per kind of error).
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
  using TargetPtr = std::unique_ptr<scrape::PrometheusTarget>;

  // Brings targets_ in line with the snapshot; the targets that went away
  // are moved to `gone`.
  void reconcile(std::vector<TargetPtr>& gone);

  KubernetesPodsConfig config_;
  std::string node_;
  KubeMetadata* kube_;
  const AgentTags* tags_;
  std::uint64_t seen_version_ = 0;
  bool seen_any_ = false;
  bool waiting_logged_ = false;
  std::map<std::string, TargetPtr> targets_;    // by PodTarget::key
  std::map<std::string, std::string> skipped_;  // pod -> reason, as last logged
  LogLimiter log_limiter_{std::chrono::minutes(1)};
  prometheus::Gauge* targets_gauge_ = nullptr;
  prometheus::Gauge* skipped_gauge_ = nullptr;
  prometheus::Counter* errors_ = nullptr;
};

}  // namespace kubemetrics::scrapers::kubernetes_pods
