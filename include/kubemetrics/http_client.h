#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kubemetrics/deadline.h"
#include "kubemetrics/result.h"

namespace kubemetrics {

/// TLS settings of one upstream (the kubelet, a scrape target, a backend).
struct TlsOptions {
  std::string ca_file;                // PEM bundle to verify the server; empty: system CAs
  bool insecure_skip_verify = false;  // no verification at all (logged by the caller)
  std::string server_name;            // name to verify and send as SNI; empty: the URL's host
  std::string cert_file;              // client certificate (PEM), optional
  std::string key_file;               // its key (PEM), optional
};

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{2000};    // TCP + TLS handshake
  std::size_t max_response_bytes = 64 * 1024 * 1024;  // decoded body; beyond: kResourceExhausted
  bool accept_gzip = true;  // send Accept-Encoding: gzip and decode gzip bodies
  bool keep_alive = true;   // reuse the connection between requests
  TlsOptions tls;
  std::string user_agent = "kubemetrics-agent/0.1.0";
};

struct HttpClientRequest {
  std::string method = "GET";
  std::string url;  // http://host:port/path?query or https://...
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // decoded; empty when the body went to a chunk handler

  /// The first header named `name` (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
};

/// Receives the decoded body piece by piece as it arrives (for streaming
/// parsers); an error return aborts the transfer and send() returns it.
using BodyChunkHandler = std::function<Result<void>(std::string_view chunk)>;

/// A blocking HTTP/1.1 client (Boost.Beast, OpenSSL) for one upstream at a
/// time, with a whole-request deadline. HTTP error statuses are not errors:
/// the response carries them. Errors:
///  - kInvalidArgument: malformed URL or unsupported scheme;
///  - kUnavailable: name resolution, connection refused or reset, TLS
///    handshake failure, with the reason spelled out for TLS ("certificate
///    verify failed: unknown CA", "... hostname mismatch", "... certificate
///    has expired");
///  - kTimeout: the deadline (or connect_timeout) passed;
///  - kResourceExhausted: the body exceeds max_response_bytes;
///  - kDataLoss: the body ended early (truncated) or its gzip is corrupt.
///
/// Not thread-safe: one instance per thread (it keeps a keep-alive
/// connection to the last host), except cancel(). Never talks to any
/// address it was not given.
class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpClientResponse> send(const HttpClientRequest& request, Deadline deadline);
  /// Same, with the body handed to `on_chunk` as it arrives.
  Result<HttpClientResponse> send(const HttpClientRequest& request, Deadline deadline,
                                  const BodyChunkHandler& on_chunk);
  /// From any thread: ends the send() in progress now (kUnavailable,
  /// "cancelled"), as if its deadline had passed; for a shutdown that
  /// cannot wait for a request's own timeout. No effect on later requests.
  void cancel();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kubemetrics
