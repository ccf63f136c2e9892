#include "resource_metrics_source.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "kubemetrics/log.h"

namespace kubemetrics::scrapers::kubernetes_resource_metrics {

namespace {

// In the order of sumUsage()'s values.
constexpr scrape::AggregateFamily kFamilies[] = {
    {"cpu.usage_rate",
     "CPU used by the pods' containers, millicores (resource metrics API, metrics-server)."},
    {"memory.working_set",
     "Working-set memory of the pods' containers, bytes (resource metrics API, metrics-server)."},
};

// What a user checks first for a reason.
std::string_view hintFor(const std::string& reason) {
  if (reason == "http_404" || reason == "http_503") {
    return " (is metrics-server installed? `kubectl top pods -A` shows whether the resource "
           "metrics API answers)";
  }
  if (reason == "http_403") {
    return " (the agent's ClusterRole needs `list` on pods.metrics.k8s.io, as in "
           "manifests/overlays/sharded/rbac-cluster.yaml)";
  }
  return "";
}

// The pods' usage summed by namespace and over the cluster, in kFamilies'
// order.
scrape::AggregateValues sumUsage(const std::vector<kube::PodUsage>& pods) {
  scrape::AggregateValues values;
  values.cluster.assign(std::size(kFamilies), 0.0);
  for (const kube::PodUsage& pod : pods) {
    std::vector<double>& ns = values.namespaces[pod.namespace_name];
    ns.resize(std::size(kFamilies), 0.0);
    ns[0] += pod.cpu_millicores;
    ns[1] += pod.memory_bytes;
    values.cluster[0] += pod.cpu_millicores;
    values.cluster[1] += pod.memory_bytes;
  }
  return values;
}

}  // namespace

ResourceMetricsSource::ResourceMetricsSource(scrape::PeriodicSourceConfig config,
                                             const kube::KubeApiConfig& api, std::string server,
                                             std::unique_ptr<SecretFile> token,
                                             prometheus::Registry* registry, const AgentTags* tags,
                                             const Clock& clock)
    : config_(config),
      token_(std::move(token)),
      client_(api, std::move(server), token_.get()),
      clock_(clock),
      series_({std::begin(kFamilies), std::end(kFamilies)}, tags) {
  if (registry != nullptr) {
    errors_ = &prometheus::BuildCounter()
                   .Name("kubemetrics_resource_metrics_errors_total")
                   .Help(
                       "Failed LISTs of the resource metrics API (metrics.k8s.io pods), by "
                       "reason; each marks the usage aggregates stale.")
                   .Register(*registry);
    pods_ = &prometheus::BuildGauge()
                 .Name("kubemetrics_resource_metrics_pods")
                 .Help("Pods in the last good LIST of the resource metrics API.")
                 .Register(*registry)
                 .Add({});
  }
}

Result<ScrapeStats> ResourceMetricsSource::fail(const std::string& reason,
                                                const std::string& message, std::int64_t ts_ms,
                                                SampleBatch& out) {
  if (errors_ != nullptr) errors_->Add({{"reason", reason}}).Increment();
  if (reason != last_reason_) {
    logWarn(kSourceName) << message << hintFor(reason)
                         << "; the usage aggregates are marked stale until a LIST succeeds";
    last_reason_ = reason;
  }
  series_.retire(ts_ms, out);
  return makeError(ErrorCode::kUnavailable, message);
}

Result<ScrapeStats> ResourceMetricsSource::scrape(SampleBatch& out, Deadline deadline) {
  const Deadline bounded = std::min(deadline, SteadyClock::now() + config_.timeout);
  kube::ApiResult<std::string> body = client_.get(std::string(kPodMetricsPath), bounded);
  const std::int64_t ts_ms = clock_.wallMs();
  if (!body) return fail(body.error().reason(), body.error().message, ts_ms, out);
  Result<kube::ObjectList<kube::PodUsage>> list = kube::decodePodMetricsList(*body);
  if (!list) {
    return fail("decode", "GET " + std::string(kPodMetricsPath) + ": " + list.error().message(),
                ts_ms, out);
  }
  if (!last_reason_.empty()) {
    logInfo(kSourceName) << "the resource metrics API answers again (" << list->items.size()
                         << " pods)";
    last_reason_.clear();
  }
  if (pods_ != nullptr) pods_->Set(static_cast<double>(list->items.size()));
  return ScrapeStats{series_.emit(sumUsage(list->items), ts_ms, out)};
}

}  // namespace kubemetrics::scrapers::kubernetes_resource_metrics
