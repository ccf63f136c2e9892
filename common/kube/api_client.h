#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http/secret_file.h"
#include "common/kube/api_config.h"
#include "kubemetrics/deadline.h"
#include "kubemetrics/http_client.h"

namespace kubemetrics::kube {

/// Why a Kubernetes API request failed, as a reflector reacts to it.
enum class ApiFailure {
  kGone,          // HTTP 410 or a watch ERROR event with code 410: re-list
  kUnauthorized,  // HTTP 401, also after re-reading the token
  kHttpStatus,    // any other non-2xx status (403, 429, 5xx, ...)
  kConnect,       // resolve, connect, TLS, reset, truncated body
  kTimeout,       // the request's deadline passed
  kDecode,        // a body or watch line that is not what the API sends
  kStopped,       // cancel() or the line handler asked to stop
};

/// One failed request: what to do about it, the status, and a message
/// naming the request. Plain value type.
struct ApiError {
  ApiFailure failure = ApiFailure::kConnect;
  int http_status = 0;
  std::string message;

  /// The `reason` label of kubemetrics_kubernetes_api_errors_total:
  /// unauthorized, http_<status>, connect, timeout, decode (gone, stopped).
  std::string reason() const;
};

template <typename T>
using ApiResult = tl::expected<T, ApiError>;

/// What a watch's line handler makes of one line.
enum class LineVerdict {
  kApplied,     // an event, taken into account
  kUnparsable,  // not a watch event (maybe the Status body of an error)
  kStop,        // stop reading: the handler saw an ERROR event or a stop
};

/// GET requests to one Kubernetes API server, with the bearer token of a
/// SecretFile (re-read when the file rotates; after a 401 re-read and the
/// request tried once more) and the TLS settings of the `kubernetes:`
/// config. get() returns a whole body (a LIST page); watch() streams a
/// WATCH body line by line.
///
/// Not thread-safe (one HttpClient, one connection): one per reflector
/// thread, except cancel(), which any thread may call.
class KubeApiClient {
 public:
  /// `server` is the base URL (resolveApiServer()); `token` may be null
  /// (no Authorization header) and must outlive the client.
  KubeApiClient(const KubeApiConfig& config, std::string server, SecretFile* token);

  /// GET `path_and_query` ("/api/v1/pods?limit=500"): the body of a 2xx
  /// answer, else an ApiError (410 -> kGone, 401 -> kUnauthorized, others
  /// kHttpStatus with an excerpt of the body). Bodies over 256 MiB are a
  /// kDecode error.
  ApiResult<std::string> get(const std::string& path_and_query, Deadline deadline);

  /// GET a watch stream and hand each line to `on_line` until the server
  /// ends the stream (success), the deadline passes (kTimeout), or
  /// `on_line` answers kStop (kStopped). A line that `on_line` cannot
  /// parse before any event was applied may be the Status body of an error
  /// answer: it is kept (bounded) and the status decides; after an event it
  /// is a kDecode error at once.
  ApiResult<void> watch(const std::string& path_and_query, Deadline deadline,
                        const std::function<LineVerdict(std::string_view line)>& on_line);

  /// From any thread: ends the request in progress now (kStopped). A cancel
  /// that comes before a request starts is lost: callers repeat it until
  /// their thread has seen their own stop flag.
  void cancel();

  const std::string& server() const { return server_; }

 private:
  HttpClientRequest request(const std::string& path_and_query) const;
  ApiError fromHttpError(const Error& error, const std::string& what) const;
  ApiError fromStatus(int status, std::string_view body, const std::string& what) const;

  const std::string server_;
  SecretFile* const token_;
  HttpClient http_;
};

/// Percent-encodes a query parameter value (RFC 3986 unreserved kept).
std::string encodeQueryValue(std::string_view value);

}  // namespace kubemetrics::kube
