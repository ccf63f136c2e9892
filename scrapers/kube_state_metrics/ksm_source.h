#pragma once

#include <vector>

#include "common/scrape/prometheus_target.h"
#include "kubemetrics/config.h"

namespace kubemetrics::scrapers::kube_state_metrics {

/// Defaults of `sources.kube_state_metrics`: the in-cluster Service of
/// kube-state-metrics, every 60s, job="kube-state-metrics".
scrape::TargetConfig defaultKsmConfig();

/// `sources.kube_state_metrics`: one PrometheusTarget for kube-state-metrics.
/// kube-state-metrics describes the whole cluster, so only the agent with
/// `role: cluster` (one replica) scrapes it; with `role: node` and
/// `enabled: true` this logs once that the source is skipped and creates
/// nothing, so DaemonSet pods never request it. With a null context only
/// validates.
SourceFactory buildSources;

}  // namespace kubemetrics::scrapers::kube_state_metrics
