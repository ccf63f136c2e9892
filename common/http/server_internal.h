#pragma once

// Internal to common/http: the implementation behind HttpServer's pointer,
// shared by http_server.cc (the server: accept, routes, stop) and
// http_session.cc (one HTTP connection). Nothing outside common/http
// includes it.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/http/body_buffer_pool.h"
#include "common/http/content_encoding.h"
#include "common/http/http_server.h"
#include "common/http/line_connection.h"
#include "common/http/server_stream.h"
#include "common/http/socket_address.h"
#include "common/http/tls_material.h"
#include "kubemetrics/log.h"
#include "kubemetrics/mutex.h"
#include "kubemetrics/thread_annotations.h"

namespace kubemetrics::http_internal {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

inline constexpr std::string_view kComponent = "http";
inline constexpr std::string_view kServerName = "kubemetrics-agent";
inline constexpr std::string_view kOtherPath = "other";
inline constexpr auto kLogInterval = std::chrono::seconds(30);
// After an error response the peer may still be sending a body we refused;
// closing with unread input makes the kernel send RST, which can destroy the
// response before the client reads it. So read and discard for a little while.
inline constexpr auto kLingerTime = std::chrono::milliseconds(500);
inline constexpr std::size_t kLingerBytes = 1 << 20;
// stop() closes every socket, after which the io threads run dry on their own;
// this only bounds the wait if something unforeseen still holds work.
inline constexpr auto kStopGrace = std::chrono::seconds(2);
inline constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);
// A response goes out in slices, so one big page does not hold the io
// thread (and the /healthz answers queued behind it) for a whole send.
inline constexpr std::size_t kWriteSliceBytes = 64 * 1024;
// How often a request waiting for room under max_body_bytes_in_flight looks.
inline constexpr auto kBodyBudgetPoll = std::chrono::milliseconds(10);

class Session;

// One answer an AsyncHttpHandler owes. The responder holds it; the server
// keeps a weak reference so that stop() can release the session while the
// server still exists, and a responder called later finds nobody to answer.
struct PendingAnswer {
  Mutex mu;
  std::shared_ptr<Session> session KM_GUARDED_BY(mu);
};

// The implementation of HttpServer. Members are declared so that the io
// objects are destroyed first: handlers still queued in the io_context own
// sessions, and a session's destructor calls forgetSession().
class Server {
 public:
  Server(HttpServerOptions options, prometheus::Registry* metrics);
  ~Server() { stop(); }

  void add(std::string path, HttpHandler handler);
  void addAsync(std::string path, AsyncHttpHandler handler);
  Result<void> start(std::string_view listen_address);
  unsigned short port() const { return port_.load(std::memory_order_acquire); }
  void stop();

  // For sessions.
  const HttpServerOptions& options() const { return options_; }
  net::io_context& ioContext() { return ioc_; }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  struct Handled {
    HttpResponse response;
    std::string_view path_label;  // a registered path or kOtherPath; outlives the server
  };
  /// Runs the route for `request`; never throws.
  Handled handle(const HttpRequest& request);
  /// Whether `path` is served by an AsyncHttpHandler.
  bool isAsync(const std::string& path) const;
  /// Runs the async route for `request`, which answers through `respond`
  /// (at once with a 500 when the handler throws); never throws.
  void handleAsync(const HttpRequest& request, const HttpResponder& respond);
  /// A handler's answer, or a 500 (logged) for a status outside 200-599.
  HttpResponse checked(HttpResponse response, std::string_view label);
  /// A 500 for a handler that failed as `failure` says (logged, rate limited).
  HttpResponse failed(std::string_view label, const std::string& failure);
  /// Remembers session `id`'s pending answer for stop().
  void trackPending(std::uint64_t id, const std::shared_ptr<PendingAnswer>& pending);
  /// The metric label for a request target's path.
  std::string_view pathLabel(std::string_view path) const;
  void record(std::string_view path_label, int status, std::chrono::steady_clock::duration took);
  void forgetSession(std::uint64_t id);
  /// Session `id` turned out to speak options().lines: a LineConnection
  /// takes over its socket under the same id.
  void handOver(std::uint64_t id, ServerStream&& stream, std::string_view first_bytes,
                std::string_view peer_address);
  /// A TLS handshake with `peer_address` failed (counted, logged rate limited).
  void tlsHandshakeFailed(std::string_view peer_address, const beast::error_code& ec);
  LogLimiter& logLimiter() { return log_limiter_; }
  /// Spare body strings: a session reads each large body into one and
  /// gives it back once the request is handled.
  BodyBufferPool& bodyBuffers() { return body_buffers_; }
  /// Takes `bytes` of max_body_bytes_in_flight; false when that would go
  /// over it while other bodies hold some.
  bool reserveBodyBytes(std::uint64_t bytes);
  void releaseBodyBytes(std::uint64_t bytes);

 private:
  struct Route {
    HttpHandler handler;     // either this
    AsyncHttpHandler async;  // or this
    prometheus::Histogram* duration = nullptr;
  };
  enum class State { kIdle, kServing, kStopped };
  enum class Admission { kAdmitted, kStopping, kFull };

  void doAccept();
  void onAccept(beast::error_code ec, tcp::socket socket);
  Admission admit(const std::shared_ptr<Session>& session);
  /// Closes the connections that have waited longest for a request header
  /// (options_.evict_idle_at_limit), freeing their slots; false when every
  /// connection is busy. The connections it looked at are left in `looked`:
  /// the last reference to one may be there, and its destructor takes mu_,
  /// so the caller drops them after unlocking.
  bool evictLongestIdleLocked(std::vector<std::shared_ptr<Connection>>& looked) KM_REQUIRES(mu_);
  void runThread();
  void stopLocked() KM_REQUIRES(lifecycle_mu_);

  const HttpServerOptions options_;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  prometheus::Family<prometheus::Histogram>* durations_ = nullptr;
  prometheus::Counter* rejected_ = nullptr;
  prometheus::Counter* evicted_ = nullptr;
  prometheus::Counter* handshake_failures_ = nullptr;
  prometheus::Histogram* other_duration_ = nullptr;
  // Written by add()/start() before any io thread exists, read-only after:
  // no lock on the request path.
  std::unordered_map<std::string, Route> routes_;
  LogLimiter log_limiter_{kLogInterval};
  // Up to kSpareBodies bodies of up to 4 MiB stay allocated: 32 MiB at most.
  static constexpr std::size_t kSpareBodies = 8;
  BodyBufferPool body_buffers_{kSpareBodies, 4u << 20};
  std::atomic<unsigned short> port_{0};
  std::atomic<std::uint64_t> body_bytes_in_flight_{0};
  // With options_.tls: used on the acceptor's strand only (onAccept).
  std::optional<TlsMaterial> tls_;
  std::atomic<bool> stopping_{false};

  Mutex mu_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> sessions_ KM_GUARDED_BY(mu_);
  std::uint64_t next_session_id_ KM_GUARDED_BY(mu_) = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<PendingAnswer>> pending_ KM_GUARDED_BY(mu_);

  // Serialises start() and stop(); state_ is also read by add().
  Mutex lifecycle_mu_;
  State state_ KM_GUARDED_BY(lifecycle_mu_) = State::kIdle;
  std::vector<std::thread> threads_;
  // exited_ is atomic so the wait predicate needs no lock annotation; it
  // is still changed under exited_mu_ so the waiter cannot miss a notify.
  Mutex exited_mu_;
  std::condition_variable_any exited_cv_;
  std::atomic<std::size_t> exited_{0};

  net::io_context ioc_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  // The acceptor and its retry timer share one strand, so stop() can close
  // the acceptor from another thread by posting to it.
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_timer_;
};

// One connection: reads requests one at a time (pipelined ones wait in
// buffer_), answers each, and keeps the connection while both sides want it.
// Every member is used only on the session's strand; the owner is whichever
// pending handler holds the shared_ptr.
class Session : public Connection, public std::enable_shared_from_this<Session> {
 public:
  Session(Server& server, ServerStream&& stream)
      : server_(server),
        stream_(std::move(stream)),
        executor_(stream_.get_executor()),
        peer_address_(peerAddress(stream_.tcp())),
        native_fd_(stream_.tcp().socket().native_handle()) {}
  ~Session() override {
    releaseBody();
    if (id_ != 0) server_.forgetSession(id_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void setId(std::uint64_t id) { id_ = id; }
  void start() {
    net::dispatch(executor_, beast::bind_front_handler(
                                 stream_.tls() ? &Session::handshake : &Session::firstRead,
                                 shared_from_this()));
  }
  /// From any thread: drops the connection, cancelling what is pending.
  void close() override {
    net::post(executor_, [self = shared_from_this()] { self->closeNow(); });
  }
  std::int64_t idleSinceNs() const override {
    return idle_since_ns_.load(std::memory_order_relaxed);
  }
  bool requestWaiting() const override;

  /// What an answer needs of the request it answers.
  struct Answering {
    unsigned version;
    bool keep_alive;
    bool head;
    std::string accept_encoding;
    std::string_view path_label;
    std::chrono::steady_clock::time_point started;
  };
  /// Writes `answer` for the request described by `context`; on the strand.
  void answer(HttpResponse&& response, const Answering& context);

 private:
  void handshake();
  void onHandshake(beast::error_code ec);
  // The first read of a connection: sniff() with a line protocol, else readHeader().
  void firstRead();
  void sniff();
  void onSniff(beast::error_code ec, std::size_t bytes);
  void readHeader();
  void onHeader(beast::error_code ec, std::size_t bytes);
  // With the header read: takes the body's share of max_body_bytes_in_flight
  // (waiting for it, see awaitBodyBudget) and goes on to read the body.
  void admitBody();
  void awaitBodyBudget(std::uint64_t bytes, std::chrono::steady_clock::time_point deadline);
  void onBodyAdmitted();
  void releaseBody();
  // Busy (false), or idle (true) since now unless it already was idle.
  void setIdle(bool idle);
  static std::int64_t idleStamp() {
    return std::chrono::steady_clock::now().time_since_epoch().count() | 1;  // never 0
  }
  void readBody();
  void onBody(beast::error_code ec, std::size_t bytes);
  // A large Content-Length body, read straight into the request's body.
  void readWholeBody(std::size_t length);
  void onWholeBody(beast::error_code ec, std::size_t bytes);
  void onReadError(beast::error_code ec);
  void onRequest();
  void buildResponse(HttpResponse&& answer, unsigned version, bool keep_alive, bool head,
                     const std::string& accept_encoding);
  void write(bool keep_alive, bool linger);
  void onWrite(bool keep_alive, bool linger, beast::error_code ec, std::size_t bytes);
  void sendErrorAndClose(int status, std::string_view text,
                         std::vector<std::pair<std::string, std::string>> headers = {});
  void lingeringClose();
  void drain();
  void shutdownAndClose();
  void closeNow();

  Server& server_;
  ServerStream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::empty_body>> continue_;
  bhttp::response<bhttp::string_body> response_;
  // Writes response_ in slices of kWriteSliceBytes; see write().
  std::optional<bhttp::response_serializer<bhttp::string_body>> serializer_;
  std::array<char, 16 * 1024> drain_buffer_{};
  std::size_t drained_ = 0;
  std::uint64_t id_ = 0;
  // The strand, kept apart from stream_, which a line connection takes over.
  net::any_io_executor executor_;
  // Read once: every request of a keep-alive connection has the same peer.
  const std::string peer_address_;
  bool handed_over_ = false;
  // This request's share of max_body_bytes_in_flight, held until the next
  // request header is read or the connection ends.
  std::uint64_t reserved_body_bytes_ = 0;
  std::optional<net::steady_timer> body_budget_timer_;
  // See idleSinceNs(); written on the strand, read by the acceptor. Set at
  // construction, in the acceptor's handler, so connections accepted one
  // after the other are idle in that order whenever their strands run.
  std::atomic<std::int64_t> idle_since_ns_{idleStamp()};
  // The socket's descriptor, for requestWaiting() on another thread; -1 once
  // closed. Should the strand close it just after the acceptor read it,
  // the peek either finds no such socket or one that is not idle, and
  // either way the choice of a connection to close stays harmless.
  std::atomic<int> native_fd_;
};

}  // namespace kubemetrics::http_internal
