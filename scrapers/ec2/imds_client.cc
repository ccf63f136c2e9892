#include "imds_client.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "kubemetrics/log.h"

namespace kubemetrics::scrapers::ec2 {
namespace {

constexpr std::string_view kTokenPath = "/latest/api/token";
constexpr std::string_view kTokenHeader = "X-aws-ec2-metadata-token";
constexpr std::string_view kTtlHeader = "X-aws-ec2-metadata-token-ttl-seconds";

// How long before its expiry a token is renewed: a quarter of its life, at
// most a minute, so a GET never races the expiry (and a 1 s test token is
// renewed after 750 ms).
std::chrono::milliseconds renewMargin(std::chrono::seconds ttl) {
  return std::min<std::chrono::milliseconds>(
      std::chrono::duration_cast<std::chrono::milliseconds>(ttl) / 4, std::chrono::seconds(60));
}

}  // namespace

std::string_view toString(ImdsVersion version) {
  switch (version) {
    case ImdsVersion::kV2:
      return "IMDSv2";
    case ImdsVersion::kV1:
      return "IMDSv1";
    case ImdsVersion::kUnknown:
      break;
  }
  return "unknown";
}

ImdsClient::ImdsClient(ImdsClientOptions options, std::unique_ptr<ImdsTransport> transport,
                       prometheus::Registry* self_metrics)
    : options_(std::move(options)), transport_(std::move(transport)) {
  if (self_metrics == nullptr) return;
  try {
    auto& requests = prometheus::BuildCounter()
                         .Name("kubemetrics_ec2_imds_requests_total")
                         .Help(
                             "Requests to the EC2 instance metadata service, by result "
                             "(ok: any HTTP answer; error: refused, reset or timed out).")
                         .Register(*self_metrics);
    requests_ok_ = &requests.Add({{"result", "ok"}});
    requests_failed_ = &requests.Add({{"result", "error"}});
    token_fetches_ = &prometheus::BuildCounter()
                          .Name("kubemetrics_ec2_imds_tokens_total")
                          .Help("IMDSv2 session tokens obtained (PUT /latest/api/token).")
                          .Register(*self_metrics)
                          .Add({});
    fallbacks_ = &prometheus::BuildCounter()
                      .Name("kubemetrics_ec2_imds_v1_fallbacks_total")
                      .Help(
                          "Times the IMDSv2 token request was refused or timed out and "
                          "IMDSv1 was used instead.")
                      .Register(*self_metrics)
                      .Add({});
    version_gauge_ = &prometheus::BuildGauge()
                          .Name("kubemetrics_ec2_imds_version")
                          .Help(
                              "IMDS protocol in use: 2, 1 (fallback), or 0 before the first "
                              "answer.")
                          .Register(*self_metrics)
                          .Add({});
  } catch (const std::exception& e) {
    // Two clients on one registry (tests) would clash; the client works
    // without its self-metrics.
    logWarn("ec2") << "self-metrics not registered: " << e.what();
  }
}

ImdsClient::~ImdsClient() = default;

void ImdsClient::setVersion(ImdsVersion version) {
  version_ = version;
  if (version_gauge_) {
    version_gauge_->Set(version == ImdsVersion::kV2 ? 2 : version == ImdsVersion::kV1 ? 1 : 0);
  }
}

Result<HttpClientResponse> ImdsClient::send(HttpClientRequest& request, Deadline deadline) {
  const auto now = SteadyClock::now();
  if (now >= deadline) {
    return makeError(ErrorCode::kTimeout,
                     "IMDS " + request.method + " " + request.url + ": no time left in the scrape");
  }
  auto response = transport_->send(request, std::min(deadline, now + options_.timeout));
  if (response) {
    ++responses_;
    if (requests_ok_) requests_ok_->Increment();
  } else if (requests_failed_) {
    requests_failed_->Increment();
  }
  return response;
}

void ImdsClient::fallBackToV1(std::string reason) {
  token_.clear();
  fallback_reason_ = std::move(reason);
  setVersion(ImdsVersion::kV1);
  if (fallbacks_) fallbacks_->Increment();
}

Result<void> ImdsClient::ensureToken(Deadline deadline) {
  const auto began = SteadyClock::now();
  if (version_ == ImdsVersion::kV2 && !token_.empty() && began < token_renew_at_) return {};
  HttpClientRequest request;
  request.method = "PUT";
  request.url = options_.endpoint + std::string(kTokenPath);
  request.headers.emplace_back(std::string(kTtlHeader), std::to_string(options_.token_ttl.count()));
  auto response = send(request, deadline);
  if (!response) {
    if (response.error().code() == ErrorCode::kTimeout) {
      fallBackToV1("token request (PUT " + std::string(kTokenPath) + ") timed out after " +
                   std::to_string(options_.timeout.count()) + " ms");
      return {};
    }
    token_.clear();
    return tl::unexpected(response.error());
  }
  if (response->status == 200 && !response->body.empty()) {
    token_ = std::move(response->body);
    token_renew_at_ = began + options_.token_ttl - renewMargin(options_.token_ttl);
    fallback_reason_.clear();
    setVersion(ImdsVersion::kV2);
    ++tokens_fetched_;
    if (token_fetches_) token_fetches_->Increment();
    return {};
  }
  fallBackToV1("token request (PUT " + std::string(kTokenPath) + ") refused (HTTP " +
               std::to_string(response->status) + ")");
  return {};
}

Result<ImdsResponse> ImdsClient::get(std::string_view path, Deadline deadline) {
  for (int attempt = 0;; ++attempt) {
    if (version_ != ImdsVersion::kV1) {
      if (auto ok = ensureToken(deadline); !ok) return tl::unexpected(ok.error());
    }
    const bool v1 = version_ == ImdsVersion::kV1;
    HttpClientRequest request;
    request.url = options_.endpoint + std::string(path);
    if (!v1) request.headers.emplace_back(std::string(kTokenHeader), token_);
    auto response = send(request, deadline);
    if (!response) {
      if (v1 && !fallback_logged_) {
        // Nothing answered the v1 GET either: IMDS is absent, not
        // restricted. Do not stick to v1; the next call starts with v2.
        setVersion(ImdsVersion::kUnknown);
      }
      return tl::unexpected(response.error());
    }
    if (response->status == 401 && attempt == 0) {
      // v2: the token expired early or the service restarted; v1: IMDSv2
      // became required. Either way a fresh token may fix it.
      token_.clear();
      if (v1) setVersion(ImdsVersion::kUnknown);
      continue;
    }
    if (response->status == 401) {
      std::string message = "IMDS GET " + std::string(path) + ": 401 Unauthorized";
      if (v1) {
        message += " (IMDSv2 is required, but " + fallback_reason_ +
                   "; in a container this means the instance's metadata hop limit is 1: run `aws "
                   "ec2 modify-instance-metadata-options --instance-id <id> "
                   "--http-put-response-hop-limit 2` or use hostNetwork: true)";
      }
      return makeError(ErrorCode::kPermissionDenied, message);
    }
    if (v1 && !fallback_logged_) {
      fallback_logged_ = true;
      logWarn("ec2") << "IMDSv2 " << fallback_reason_ << " at " << options_.endpoint
                     << "; using IMDSv1. In a container this is what happens when the "
                        "instance's metadata hop limit (HttpPutResponseHopLimit) is 1: the "
                        "token's answer dies one hop short of the pod. Fix: `aws ec2 "
                        "modify-instance-metadata-options --instance-id <id> "
                        "--http-put-response-hop-limit 2 --http-endpoint enabled` (or the "
                        "launch template's MetadataOptions), or run the pod with hostNetwork: "
                        "true.";
    }
    return ImdsResponse{response->status, std::move(response->body)};
  }
}

}  // namespace kubemetrics::scrapers::ec2
