#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kubemetrics {

/// A request as the agent's HTTP server hands it to a route handler.
struct HttpRequest {
  std::string method;  // "GET"
  std::string path;    // "/metrics", without the query
  std::string query;   // "a=b&c=d", without '?'
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string peer_address;  // the client's IP ("10.0.0.5", "::1"); "" when unknown

  /// The first header named `name` (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
};

/// A handler's answer. The server adds Content-Length, and gzip-encodes the
/// body when the client accepts it.
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Called on one of the server's threads, possibly concurrently with other
/// calls: handlers must be thread-safe.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

/// Where components register the paths they serve (the Prometheus exporter's
/// /metrics, a /status page). Registration happens at start-up, before the
/// server accepts connections; not thread-safe.
class HttpRoutes {
 public:
  virtual ~HttpRoutes() = default;
  virtual void add(std::string path, HttpHandler handler) = 0;
};

}  // namespace kubemetrics
