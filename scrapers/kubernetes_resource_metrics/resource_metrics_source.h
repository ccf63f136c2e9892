#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/http/secret_file.h"
#include "common/kube/api_client.h"
#include "common/kube/pod_metrics.h"
#include "common/scrape/aggregate_series.h"
#include "common/scrape/config.h"
#include "kubemetrics/agent_tags.h"
#include "kubemetrics/clock.h"
#include "kubemetrics/source.h"

namespace kubemetrics::scrapers::kubernetes_resource_metrics {

/// The source name, in SampleBatch::source, self-metrics and logs.
inline constexpr std::string_view kSourceName = "kubernetes_resource_metrics";

/// The resource metrics API path that lists every pod's usage.
inline constexpr std::string_view kPodMetricsPath = "/apis/metrics.k8s.io/v1beta1/pods";

/// The Wavefront collector's usage aggregates: per interval, one LIST of
/// the resource metrics API's PodMetrics (served by metrics-server through
/// the API server) summed by namespace and over the cluster:
///   kubernetes.ns.cpu.usage_rate, kubernetes.ns.memory.working_set
///     (tags type="ns", namespace_name)
///   kubernetes.cluster.cpu.usage_rate, kubernetes.cluster.memory.working_set
///     (tag type="cluster")
/// CPU in millicores, memory in bytes (metrics-server's "memory" is the
/// working set), each with the agent's tags and stamped with the wall-clock
/// time of the LIST. A namespace that has no pod in a LIST gets staleness
/// markers; a failed LIST (any API error, or a body that does not decode)
/// emits no sum and marks every series stale, as a sum over an unknown
/// state would be wrong.
///
/// Self-metrics: kubemetrics_resource_metrics_errors_total{reason}
/// (unauthorized, http_<status>, connect, timeout, decode) and
/// kubemetrics_resource_metrics_pods (pods in the last good LIST). The
/// first failure of a kind is logged with what to check (404: no
/// metrics-server; 403: the RBAC rule), then one line per change of
/// reason and one on recovery.
///
/// Owned by the scheduler thread that calls scrape(); not thread-safe.
/// `token` is the loaded bearer token file (null: no Authorization);
/// `registry`, `tags` (both may be null) and `clock` must outlive it.
class ResourceMetricsSource : public Source {
 public:
  ResourceMetricsSource(scrape::PeriodicSourceConfig config, const kube::KubeApiConfig& api,
                        std::string server, std::unique_ptr<SecretFile> token,
                        prometheus::Registry* registry, const AgentTags* tags, const Clock& clock);

  // kubemetrics::Source
  std::string_view name() const override { return kSourceName; }
  std::chrono::milliseconds interval() const override { return config_.interval; }
  Result<ScrapeStats> scrape(SampleBatch& out, Deadline deadline) override;

 private:
  Result<ScrapeStats> fail(const std::string& reason, const std::string& message,
                           std::int64_t ts_ms, SampleBatch& out);

  scrape::PeriodicSourceConfig config_;
  std::unique_ptr<SecretFile> token_;  // before client_, which reads it
  kube::KubeApiClient client_;
  const Clock& clock_;
  prometheus::Family<prometheus::Counter>* errors_ = nullptr;
  prometheus::Gauge* pods_ = nullptr;
  scrape::AggregateSeriesEmitter series_;
  std::string last_reason_;  // of the failure logged last; "" while healthy
};

}  // namespace kubemetrics::scrapers::kubernetes_resource_metrics
