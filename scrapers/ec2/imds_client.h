#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "kubemetrics/deadline.h"
#include "kubemetrics/http_client.h"
#include "kubemetrics/result.h"

namespace prometheus {
class Counter;
class Gauge;
class Registry;
}  // namespace prometheus

namespace kubemetrics::scrapers::ec2 {

/// Sends one HTTP request; the seam between the IMDS logic and the wire, so
/// the logic is testable without sockets. Errors as HttpClient::send.
/// Used from one thread at a time.
class ImdsTransport {
 public:
  virtual ~ImdsTransport() = default;
  virtual Result<HttpClientResponse> send(const HttpClientRequest& request, Deadline deadline) = 0;
};

/// The production transport: an HttpClient (keep-alive, no gzip, 1 MiB body
/// cap) with `connect_timeout`. Not thread-safe, like HttpClient.
std::unique_ptr<ImdsTransport> makeHttpTransport(std::chrono::milliseconds connect_timeout);

/// Which protocol the client speaks.
enum class ImdsVersion {
  kUnknown,  // nothing asked yet
  kV2,       // session token (PUT /latest/api/token)
  kV1,       // plain GETs, after the token request was refused or timed out
};
std::string_view toString(ImdsVersion version);

struct ImdsClientOptions {
  std::string endpoint;                    // "http://169.254.169.254", no trailing '/'
  std::chrono::milliseconds timeout{300};  // bound of each request
  std::chrono::seconds token_ttl{21600};   // asked lifetime of a token
};

/// A GET answer: HTTP status (404 = the item does not exist now) and body.
struct ImdsResponse {
  int status = 0;
  std::string body;
};

/// A client of the EC2 instance metadata service. IMDSv2 first: a session
/// token from `PUT /latest/api/token` (header
/// X-aws-ec2-metadata-token-ttl-seconds), sent as X-aws-ec2-metadata-token
/// on every GET, cached and renewed before it expires (and at once when a
/// GET answers 401: the service restarted or the clock lied). When the PUT
/// is refused (any non-200 status: 403, 405, ...) or times out, it falls
/// back to IMDSv1 and logs once why, with the fix: in a container behind
/// one network hop the PUT's answer never arrives when the instance's
/// HttpPutResponseHopLimit is 1. In IMDSv1 mode a 401 (v2 became required)
/// makes it try the token again.
///
/// Every request is bounded by `timeout` (and the caller's deadline).
/// Owned by one thread (the source's); not thread-safe. version() etc. are
/// for that thread too; the source copies them into its status snapshot.
class ImdsClient {
 public:
  /// `self_metrics` (optional, must outlive the client) receives
  /// kubemetrics_ec2_imds_* families.
  ImdsClient(ImdsClientOptions options, std::unique_ptr<ImdsTransport> transport,
             prometheus::Registry* self_metrics = nullptr);
  ~ImdsClient();
  ImdsClient(const ImdsClient&) = delete;
  ImdsClient& operator=(const ImdsClient&) = delete;

  /// GETs `path` ("/latest/meta-data/instance-id"). Any HTTP status comes
  /// back as a response except 401 after a retry with a fresh token, which
  /// is kPermissionDenied. Errors: kUnavailable (connection refused or
  /// reset: no IMDS there), kTimeout (no answer within the timeout),
  /// kResourceExhausted / kDataLoss from the transport.
  Result<ImdsResponse> get(std::string_view path, Deadline deadline);

  ImdsVersion version() const { return version_; }
  /// Why the client uses IMDSv1 ("" in v2): "token request refused (HTTP 403)".
  const std::string& fallbackReason() const { return fallback_reason_; }
  const std::string& endpoint() const { return options_.endpoint; }
  /// HTTP answers received (any status) since construction.
  std::uint64_t responses() const { return responses_; }
  /// Tokens obtained since construction.
  std::uint64_t tokensFetched() const { return tokens_fetched_; }

 private:
  // Makes sure a usable token is held, or switches to v1. Errors only when
  // IMDS is not reachable at all.
  Result<void> ensureToken(Deadline deadline);
  Result<HttpClientResponse> send(HttpClientRequest& request, Deadline deadline);
  void fallBackToV1(std::string reason);
  void setVersion(ImdsVersion version);

  const ImdsClientOptions options_;
  std::unique_ptr<ImdsTransport> transport_;
  ImdsVersion version_ = ImdsVersion::kUnknown;
  std::string token_;
  SteadyClock::time_point token_renew_at_{};
  std::string fallback_reason_;
  bool fallback_logged_ = false;
  std::uint64_t tokens_fetched_ = 0;
  std::uint64_t responses_ = 0;

  prometheus::Counter* requests_ok_ = nullptr;
  prometheus::Counter* requests_failed_ = nullptr;
  prometheus::Counter* token_fetches_ = nullptr;
  prometheus::Counter* fallbacks_ = nullptr;
  prometheus::Gauge* version_gauge_ = nullptr;
};

}  // namespace kubemetrics::scrapers::ec2
