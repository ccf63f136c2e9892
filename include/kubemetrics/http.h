#pragma once

#include <functional>
#include <future>
#include <memory>
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

/// Completes one request of an AsyncHttpHandler. Call it once, from any
/// thread; later calls are ignored. Dropping it uncalled closes the
/// connection without an answer.
using HttpResponder = std::function<void(HttpResponse)>;

/// A handler that may answer later, from another thread, so that slow work
/// (rendering a large /metrics page) does not hold one of the server's few
/// io threads and delay /healthz behind it. The call itself must return
/// quickly; `request` is valid only during it. Must be thread-safe.
using AsyncHttpHandler = std::function<void(const HttpRequest&, HttpResponder)>;

/// Where components register the paths they serve (the Prometheus exporter's
/// /metrics, a /status page). Registration happens at start-up, before the
/// server accepts connections; not thread-safe.
class HttpRoutes {
 public:
  virtual ~HttpRoutes() = default;
  virtual void add(std::string path, HttpHandler handler) = 0;
  /// Registers a handler that answers through its HttpResponder. This
  /// default serves it synchronously (the calling thread waits for the
  /// answer; a responder dropped uncalled becomes an exception, i.e. a 500) for
  /// route tables that only hold HttpHandlers; HttpServer overrides it and
  /// frees the io thread while the answer is pending.
  virtual void addAsync(std::string path, AsyncHttpHandler handler) {
    add(std::move(path), [handler = std::move(handler)](const HttpRequest& request) {
      auto answer = std::make_shared<std::promise<HttpResponse>>();
      std::future<HttpResponse> future = answer->get_future();
      // The responder holds the only reference: dropped uncalled, it breaks
      // the promise and get() throws instead of waiting forever.
      handler(request, [answer = std::move(answer)](HttpResponse response) {
        try {
          answer->set_value(std::move(response));
        } catch (const std::future_error&) {
          // A second call: ignored, as documented.
        }
      });
      return future.get();
    });
  }
};

}  // namespace kubemetrics
