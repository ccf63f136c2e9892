#include "kubelet_source.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <exception>
#include <fstream>
#include <sstream>
#include <utility>

#include "kubemetrics/log.h"

namespace kubemetrics::scrapers::kubelet {

namespace {

constexpr std::string_view kReasonNames[] = {
    "unauthorized", "forbidden", "http_status", "tls",          "timeout",
    "unavailable",  "too_large", "truncated",   "invalid_json", "token_file",
};
static_assert(std::size(kReasonNames) == static_cast<std::size_t>(FailureReason::kCount));

constexpr std::string_view kRbacHint =
    "the agent's service account needs RBAC permission `get` on resource `nodes/stats` "
    "(ClusterRole rule: apiGroups [\"\"], resources [\"nodes/stats\"], verbs [\"get\"])";

bool looksLikeTls(std::string_view message) {
  for (std::string_view word : {"certificate", "TLS", "tls", "SSL", "ssl", "handshake"}) {
    if (message.find(word) != std::string_view::npos) return true;
  }
  return false;
}

// Reads the whole token file, without the trailing newline editors add.
bool readToken(const std::string& path, std::string& token) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return false;
  token = text.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  return true;
}

HttpClientOptions clientOptions(const KubeletConfig& config) {
  HttpClientOptions options;
  options.connect_timeout = std::min(options.connect_timeout, config.timeout);
  options.max_response_bytes = config.max_response_bytes;
  options.tls.ca_file = config.insecure_skip_verify ? std::string() : config.ca_file;
  options.tls.insecure_skip_verify = config.insecure_skip_verify;
  return options;
}

}  // namespace

std::string_view failureReasonName(FailureReason reason) {
  return kReasonNames[static_cast<std::size_t>(reason)];
}

KubeletSummarySource::KubeletSummarySource(std::string name, KubeletConfig config,
                                           std::string node_name,
                                           prometheus::Registry* self_metrics, KubeMetadata* kube)
    : name_(std::move(name)),
      config_(std::move(config)),
      client_(clientOptions(config_)),
      emitter_(EmitOptions{config_.sys_containers, std::move(node_name)}),
      kube_(kube) {
  if (config_.insecure_skip_verify && config_.url.starts_with("https://")) {
    logWarn(name_) << "insecure_skip_verify is on: the kubelet's certificate is NOT verified, "
                      "so anyone on the path to "
                   << config_.url
                   << " can read the service-account token; prefer ca_file with a CA that "
                      "signs the kubelet's serving certificate (serverTLSBootstrap)";
  }
  if (self_metrics == nullptr) return;
  // Start-up only; a clash with an existing family of another type is a bug
  // elsewhere, which must not keep the kubelet's metrics from flowing.
  try {
    auto& errors = prometheus::BuildCounter()
                       .Name("kubemetrics_kubelet_errors_total")
                       .Help("Failed kubelet Summary API scrapes, by reason.")
                       .Register(*self_metrics);
    for (std::size_t i = 0; i < failure_metrics_.size(); ++i) {
      failure_metrics_[i] =
          &errors.Add({{"source", name_}, {"reason", std::string(kReasonNames[i])}});
    }
    rate_cache_metric_ = &prometheus::BuildGauge()
                              .Name("kubemetrics_kubelet_rate_cache_series")
                              .Help("Counter series the kubelet source keeps to compute rates.")
                              .Register(*self_metrics)
                              .Add({{"source", name_}});
    pods_metric_ = &prometheus::BuildGauge()
                        .Name("kubemetrics_kubelet_pods")
                        .Help("Pods in the last successful kubelet Summary API scrape.")
                        .Register(*self_metrics)
                        .Add({{"source", name_}});
  } catch (const std::exception& e) {
    logError(name_) << "cannot register the kubelet self-metrics: " << e.what();
    failure_metrics_.fill(nullptr);
    rate_cache_metric_ = pods_metric_ = nullptr;
  }
}

KubeletSummarySource::~KubeletSummarySource() = default;

tl::unexpected<Error> KubeletSummarySource::fail(FailureReason reason, ErrorCode code,
                                                 std::string message) {
  const auto i = static_cast<std::size_t>(reason);
  ++failures_[i];
  if (failure_metrics_[i] != nullptr) failure_metrics_[i]->Increment();
  return makeError(code, std::move(message));
}

Result<void> KubeletSummarySource::fetch(Deadline deadline) {
  HttpClientRequest request;
  request.url = config_.url;
  request.headers.emplace_back("Accept", "application/json");
  if (!config_.bearer_token_file.empty()) {
    if (!readToken(config_.bearer_token_file, token_)) {
      return fail(FailureReason::kTokenFile, ErrorCode::kPermissionDenied,
                  "cannot read bearer_token_file " + config_.bearer_token_file +
                      " (the service-account token the kubelet requires)");
    }
    request.headers.emplace_back("Authorization", "Bearer " + token_);
  }
  body_.clear();
  Result<HttpClientResponse> response =
      client_.send(request, deadline, [this](std::string_view chunk) -> Result<void> {
        body_.append(chunk);
        return {};
      });
  if (!response) {
    const Error& error = response.error();
    const std::string where = "GET " + config_.url + ": ";
    switch (error.code()) {
      case ErrorCode::kTimeout:
        return fail(FailureReason::kTimeout, ErrorCode::kTimeout,
                    where + "timed out (timeout " + std::to_string(config_.timeout.count()) +
                        "ms): " + error.message());
      case ErrorCode::kResourceExhausted:
        return fail(FailureReason::kTooLarge, ErrorCode::kResourceExhausted,
                    where + error.message() + " (max_response_bytes)");
      case ErrorCode::kDataLoss:
        return fail(FailureReason::kTruncated, ErrorCode::kDataLoss,
                    where + "response truncated: " + error.message());
      default:
        break;
    }
    if (looksLikeTls(error.message())) {
      return fail(FailureReason::kTls, ErrorCode::kUnavailable,
                  where + "TLS failure: " + error.message() +
                      (config_.insecure_skip_verify
                           ? std::string()
                           : " (ca_file " + config_.ca_file +
                                 " must hold the CA that signed the kubelet's serving "
                                 "certificate)"));
    }
    return fail(FailureReason::kUnavailable, error.code(), where + error.message());
  }
  const int status = response->status;
  if (status == 401) {
    return fail(FailureReason::kUnauthorized, ErrorCode::kPermissionDenied,
                "kubelet answered 401 Unauthorized to GET " + config_.url + ": the bearer token " +
                    (config_.bearer_token_file.empty()
                         ? std::string("is missing (bearer_token_file is empty)")
                         : "from " + config_.bearer_token_file + " was rejected") +
                    "; " + std::string(kRbacHint));
  }
  if (status == 403) {
    return fail(
        FailureReason::kForbidden, ErrorCode::kPermissionDenied,
        "kubelet answered 403 Forbidden to GET " + config_.url + ": " + std::string(kRbacHint));
  }
  if (status != 200) {
    std::string excerpt = body_.substr(0, 200);
    return fail(FailureReason::kHttpStatus,
                status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kInvalidArgument,
                "kubelet answered HTTP " + std::to_string(status) + " to GET " + config_.url +
                    (excerpt.empty() ? std::string() : ": " + excerpt));
  }
  return {};
}

Result<ScrapeStats> KubeletSummarySource::scrape(SampleBatch& out, Deadline deadline) {
  deadline = std::min(deadline, deadlineIn(config_.timeout));
  if (Result<void> fetched = fetch(deadline); !fetched) return tl::unexpected(fetched.error());
  const std::size_t size = body_.size();
  body_.resize(size + kJsonPadding, '\0');
  Result<void> parsed = parser_.parse(body_.data(), size, body_.size(), summary_);
  if (!parsed) {
    return fail(FailureReason::kInvalidJson, ErrorCode::kDataLoss,
                "GET " + config_.url + ": " + parsed.error().message() + " (" +
                    std::to_string(size) + " bytes)");
  }
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  last_stats_ = emitter_.emit(summary_, now_ms, out);
  if (kube_ != nullptr) {
    // The snapshot is an immutable copy: reading it needs no lock here.
    const std::shared_ptr<const KubeSnapshot> snapshot = kube_->snapshot();
    if (snapshot != nullptr) {
      const NodeUsage usage{last_stats_.node_name, last_stats_.node_cpu_usage_rate,
                            last_stats_.node_memory_working_set};
      last_stats_.samples += resource_emitter_.emit(*snapshot, usage, now_ms, out);
    }
  }
  if (rate_cache_metric_ != nullptr) {
    rate_cache_metric_->Set(static_cast<double>(emitter_.rateCacheSize()));
  }
  if (pods_metric_ != nullptr) pods_metric_->Set(static_cast<double>(last_stats_.pods));
  return ScrapeStats{last_stats_.samples};
}

}  // namespace kubemetrics::scrapers::kubelet
