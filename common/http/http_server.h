#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "kubemetrics/http.h"
#include "kubemetrics/result.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace kubemetrics {
namespace http_internal {
class Server;
}  // namespace http_internal

/// Takes the lines of one connection that speaks a newline-delimited text
/// protocol on an HttpServer's port: like the Wavefront proxy's port 2878,
/// which serves plain lines and HTTP on one port, the server tells the two
/// apart by a connection's first bytes. Made per connection by
/// LineProtocol::accept; every call comes from that connection's strand, one
/// at a time, so a consumer needs no lock of its own.
class LineConsumer {
 public:
  virtual ~LineConsumer() = default;
  /// Complete lines, each ending in '\n', as many as one read brought.
  virtual void consume(std::string_view lines) = 0;
  /// A line longer than LineProtocol::max_line_bytes began; `head` is its
  /// first bytes. The server discards the rest of it, up to the next '\n'.
  virtual void overlong(std::string_view head) = 0;
  /// Hands on what consume() collected. False when that cannot be done now:
  /// the connection then stops reading (the kernel's receive window pushes
  /// back on the sender) and calls flush() again after a pause, up to 1 s.
  virtual bool flush() = 0;
  /// The connection ends (peer closed, error, idle timeout, server stop).
  /// `partial` is an unterminated last line, which is lost; `flushed` is
  /// false when the last flush() failed, so what was collected is lost too.
  /// Called once; no call follows.
  virtual void finish(std::string_view partial, bool flushed) = 0;
};

/// The text protocol an HttpServer also serves on its port. Value type.
struct LineProtocol {
  /// Makes the consumer of one new line connection, given the peer's IP
  /// address ("10.0.0.5"). Empty (the default): the port serves HTTP only.
  /// Called on an io thread; must be thread-safe.
  std::function<std::unique_ptr<LineConsumer>(std::string_view peer_address)> accept;
  std::size_t max_line_bytes = 32 * 1024;
};

/// TLS of an HttpServer's port (every connection, HTTP and lines). The
/// files are PEM; they are read at start() and again when they change, from
/// the next connection on. Plain value type.
struct ServerTlsOptions {
  std::string cert_file;  // certificate chain; empty: no TLS
  std::string key_file;   // its private key
  // When set, a client must present a certificate signed by this CA
  // (mutual TLS); empty: any client.
  std::string client_ca_file;

  bool enabled() const { return !cert_file.empty(); }
};

/// HttpServer's limits and tuning. Plain value type.
struct HttpServerOptions {
  std::size_t threads = 2;                        // io threads; 0 is taken as 1
  std::size_t max_header_bytes = 16 * 1024;       // request line + headers; 431 beyond
  std::size_t max_body_bytes = 16 * 1024 * 1024;  // request body; 413 beyond
  std::chrono::milliseconds idle_timeout{60000};  // per read/write: keep-alive idle and slow peers
  std::size_t gzip_min_bytes = 1024;              // gzip responses at least this big, when asked
  std::size_t max_connections = 512;              // beyond: accepted, closed at once, counted
  // At max_connections, a new connection closes the connections that have
  // waited longest for their next request header (the oldest quarter of
  // them) instead of being refused,
  // so idle clients cannot lock out short-lived ones (the kubelet's probes).
  // A connection in the middle of a request, or a line connection, is never
  // closed for it.
  bool evict_idle_at_limit = false;
  // Request bodies being read or handled at once, in bytes (a body's
  // Content-Length, or max_body_bytes for a chunked one); 0: no bound. A
  // request over it waits, its body unread (TCP holds the sender back), up
  // to body_budget_wait, then gets 503 with Retry-After. One request is
  // always let through, whatever its size.
  std::uint64_t max_body_bytes_in_flight = 0;
  // For a handler that decodes a request's Content-Encoding and holds the
  // decoded body too (up to this many bytes): a request with a
  // Content-Encoding other than identity takes its body plus this much of
  // max_body_bytes_in_flight, so small compressed bodies cannot multiply
  // the memory the budget allows (a compression bomb). 0: the body only.
  std::uint64_t decoded_body_bytes = 0;
  // Well inside a remote-write sender's timeout (30 s for Prometheus), so
  // it retries rather than fails.
  std::chrono::milliseconds body_budget_wait{5000};
  LineProtocol lines;          // plain-text connections besides HTTP
  ServerTlsOptions tls;        // TLS on the port; off by default
  std::string name = "agent";  // label `server` of kubemetrics_http_connections_rejected_total
  // Linux nice value of the io threads (0: as the process). A listener's
  // threads decode bulk pushes: at 10 they yield the CPU to the agent's own
  // server, whose /healthz answers the kubelet's probes.
  int io_thread_nice = 0;
};

/// The agent's HTTP/1.0 and 1.1 server (Boost.Beast): /metrics, /healthz,
/// /readyz and the push listeners' endpoints. Components register exact paths
/// (query string ignored for routing) through HttpRoutes::add() before
/// start(); the server adds Content-Length, Server, keep-alive handling and
/// gzip when the client accepts it. Unknown path -> 404; a handler that
/// throws or returns a status outside 200-599 -> 500 (logged, rate
/// limited); malformed request -> 400, header over the limit -> 431, body
/// over the limit -> 413, then the connection is closed. With
/// options.lines, a connection whose first bytes are not an HTTP method and
/// a space is a line connection (LineConsumer) instead; it counts toward
/// max_connections and idle_timeout like any other.
///
/// With a prometheus::Registry it counts kubemetrics_http_requests_total
/// {path, code}, kubemetrics_http_request_duration_seconds{path} and
/// kubemetrics_http_connections_rejected_total{server}; paths that are not registered
/// are labelled "other" so clients cannot grow the label set.
///
/// Thread-safety: add() and start() are for the owning thread, before
/// serving; port() and stop() are thread-safe once start() has returned.
/// Handlers run on the server's io threads, several at a time, so they must
/// be thread-safe; a handler that blocks holds one io thread (an async one,
/// see addAsync, does not). The registry,
/// if any, must outlive the server.
class HttpServer final : public HttpRoutes {
 public:
  explicit HttpServer(HttpServerOptions options = {}, prometheus::Registry* metrics = nullptr);
  /// Stops (see stop()).
  ~HttpServer() override;

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // kubemetrics::HttpRoutes
  /// Registers `path` ("/metrics"); a second add() of the same path replaces
  /// the first. Ignored (logged) after start().
  void add(std::string path, HttpHandler handler) override;
  /// Like add(), for a handler that answers through its HttpResponder: the
  /// io thread serves other connections while the answer is pending, and
  /// the connection's response is written when the responder is called
  /// (from any thread). After stop(), a pending answer is dropped.
  void addAsync(std::string path, AsyncHttpHandler handler) override;

  /// Binds `listen_address` ("0.0.0.0:9464", "127.0.0.1:0", "[::1]:9464",
  /// ":9464" for all IPv4 addresses; port 0 picks a free port) and starts
  /// serving. kInvalidArgument for a malformed address or a second start();
  /// kUnavailable, naming the address, when it cannot be bound (in use,
  /// not local, no permission).
  Result<void> start(std::string_view listen_address);

  /// The bound port once start() succeeded, else 0.
  unsigned short port() const;

  /// Closes the listener and every connection (idle keep-alive ones too),
  /// waits for running handlers to return and joins the io threads. Does not
  /// wait for clients. Idempotent; the destructor calls it. Must not be
  /// called from a handler (it joins the thread running it).
  void stop();

 private:
  // Behind a pointer so users of this header do not compile Boost.Beast.
  std::unique_ptr<http_internal::Server> impl_;
};

}  // namespace kubemetrics
