#pragma once

#include <memory>
#include <vector>

#include "aggregates.h"
#include "common/scrape/prometheus_target.h"
#include "kubemetrics/config.h"

namespace kubemetrics::scrapers::kube_state_metrics {

/// Defaults of `sources.kube_state_metrics`: the in-cluster Service of
/// kube-state-metrics, every 60s, job="kube-state-metrics".
scrape::TargetConfig defaultKsmConfig();

/// The kube-state-metrics source: the scrape of one PrometheusTarget and,
/// with `aggregates` on, the Wavefront collector's namespace and cluster
/// aggregates (kubernetes.ns.*, kubernetes.cluster.*; see AggregateEmitter)
/// computed from that same scrape and appended to its batch, so they go
/// through the pipeline and every exporter like the scraped series. A
/// failed scrape forwards the target's report (up = 0) and marks every
/// aggregate series stale: a sum over part of the cluster would be wrong.
///
/// Owned by the scheduler thread that calls scrape(); not thread-safe.
class KsmSource : public Source {
 public:
  /// `tags` may be null (no agent tags on the aggregates; tests).
  KsmSource(std::unique_ptr<scrape::PrometheusTarget> target, bool aggregates,
            const AgentTags* tags);

  // kubemetrics::Source
  std::string_view name() const override { return target_->name(); }
  std::chrono::milliseconds interval() const override { return target_->interval(); }
  std::chrono::milliseconds phase() const override { return target_->phase(); }
  Result<ScrapeStats> scrape(SampleBatch& out, Deadline deadline) override;

 private:
  std::unique_ptr<scrape::PrometheusTarget> target_;
  bool aggregates_;
  AggregateEmitter emitter_;
};

/// `sources.kube_state_metrics`: one KsmSource. kube-state-metrics
/// describes the whole cluster, so only the agent with `role: cluster` (one
/// replica) scrapes it; with `role: node` and `enabled: true` this logs once
/// that the source is skipped and creates nothing, so DaemonSet pods never
/// request it. With a null context only validates.
SourceFactory buildSources;

}  // namespace kubemetrics::scrapers::kube_state_metrics
