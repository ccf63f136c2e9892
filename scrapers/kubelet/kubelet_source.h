#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "emitter.h"
#include "kubemetrics/component.h"
#include "kubemetrics/config.h"
#include "kubemetrics/http_client.h"
#include "kubemetrics/kube_metadata.h"
#include "kubemetrics/source.h"
#include "parser.h"
#include "resource_emitter.h"

namespace prometheus {
class Counter;
class Gauge;
class Registry;
}  // namespace prometheus

namespace kubemetrics::scrapers::kubelet {

/// Why a scrape failed; the `reason` label of kubemetrics_kubelet_errors_total.
enum class FailureReason : std::size_t {
  kUnauthorized,  // 401: token missing, expired or rejected
  kForbidden,     // 403: the service account lacks get on nodes/stats
  kHttpStatus,    // any other non-200 answer
  kTls,           // TLS handshake or certificate verification failed
  kTimeout,       // the request deadline passed
  kUnavailable,   // connect refused/reset, name resolution
  kTooLarge,      // body over max_response_bytes
  kTruncated,     // body ended early
  kInvalidJson,   // not a Summary document
  kTokenFile,     // bearer_token_file unreadable
  kCount,
};
std::string_view failureReasonName(FailureReason reason);

/// The `kubelet` source: GET the kubelet's /stats/summary over HTTPS with the
/// service-account bearer token (re-read from its file on every scrape, as
/// projected tokens rotate), parse it (SummaryParser) and emit node, pod,
/// container and volume metrics (SummaryEmitter). Given the Kubernetes API's
/// metadata, each successful scrape also emits the requests, limits,
/// capacity and status metrics of the latest snapshot (ResourceEmitter),
/// stamped with the same time.
///
/// Every failure (see FailureReason) returns an Error whose message says
/// what to fix (for 401/403, the RBAC permission on nodes/stats; for TLS,
/// the client's reason such as unknown CA), counts
/// kubemetrics_kubelet_errors_total{source,reason}, appends nothing, and
/// leaves the rate cache alone, so the next scrape simply tries again.
///
/// Owned by the scheduler thread: scrape() is never called concurrently, so
/// the HTTP client, parser, buffers and rate cache need no lock.
class KubeletSummarySource final : public Source {
 public:
  /// `config.url` must already be expanded (see expandNodeIp). `self_metrics`
  /// (optional, must outlive the source) receives the self-metrics. `kube`
  /// (optional, must outlive the source; thread-safe) turns on the metrics
  /// from the Kubernetes API.
  KubeletSummarySource(std::string name, KubeletConfig config, std::string node_name,
                       prometheus::Registry* self_metrics = nullptr, KubeMetadata* kube = nullptr);
  ~KubeletSummarySource() override;
  KubeletSummarySource(const KubeletSummarySource&) = delete;
  KubeletSummarySource& operator=(const KubeletSummarySource&) = delete;

  // kubemetrics::Source
  std::string_view name() const override { return name_; }
  std::chrono::milliseconds interval() const override { return config_.interval; }
  Result<ScrapeStats> scrape(SampleBatch& out, Deadline deadline) override;

  /// Failures of `reason` since construction.
  std::uint64_t failures(FailureReason reason) const {
    return failures_[static_cast<std::size_t>(reason)];
  }
  std::size_t rateCacheSize() const { return emitter_.rateCacheSize(); }
  /// Pods and containers the last successful scrape saw.
  const EmitStats& lastEmitStats() const { return last_stats_; }

 private:
  tl::unexpected<Error> fail(FailureReason reason, ErrorCode code, std::string message);
  Result<void> fetch(Deadline deadline);

  const std::string name_;
  const KubeletConfig config_;
  HttpClient client_;
  SummaryParser parser_;
  SummaryEmitter emitter_;
  KubeMetadata* const kube_;
  ResourceEmitter resource_emitter_;
  Summary summary_;
  std::string body_;  // response text plus kJsonPadding, reused between scrapes
  std::string token_;
  EmitStats last_stats_;
  std::array<std::uint64_t, static_cast<std::size_t>(FailureReason::kCount)> failures_{};
  std::array<prometheus::Counter*, static_cast<std::size_t>(FailureReason::kCount)>
      failure_metrics_{};
  prometheus::Gauge* rate_cache_metric_ = nullptr;
  prometheus::Gauge* pods_metric_ = nullptr;
};

/// The registry factory for `sources.kubelet`: parses the config (reporting
/// errors through `node`); with a null context (validation only) or
/// `enabled: false` returns no source, else one KubeletSummarySource named
/// "kubelet", given the context's KubeMetadata when `kubernetes_metrics` is
/// true, or auto and the API is available. Errors (kInvalidArgument): the URL
/// needs NODE_IP and it is unset; ca_file unreadable while verification is
/// on; `kubernetes_metrics: true` and no Kubernetes API.
SourceFactory buildSources;

}  // namespace kubemetrics::scrapers::kubelet
