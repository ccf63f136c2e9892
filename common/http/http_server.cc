#include "common/http/http_server.h"

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

#include "common/http/content_encoding.h"
#include "common/http/line_connection.h"
#include "common/http/socket_address.h"
#include "kubemetrics/log.h"
#include "kubemetrics/mutex.h"
#include "kubemetrics/thread_annotations.h"

namespace kubemetrics {
namespace http_internal {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

constexpr std::string_view kComponent = "http";
constexpr std::string_view kServerName = "kubemetrics-agent";
constexpr std::string_view kOtherPath = "other";
constexpr auto kLogInterval = std::chrono::seconds(30);
// After an error response the peer may still be sending a body we refused;
// closing with unread input makes the kernel send RST, which can destroy the
// response before the client reads it. So read and discard for a little while.
constexpr auto kLingerTime = std::chrono::milliseconds(500);
constexpr std::size_t kLingerBytes = 1 << 20;
// stop() closes every socket, after which the io threads run dry on their own;
// this only bounds the wait if something unforeseen still holds work.
constexpr auto kStopGrace = std::chrono::seconds(2);
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);
constexpr std::size_t kWriteSliceBytes = 64 * 1024;

bool isHttpParseError(const beast::error_code& ec) {
  return &ec.category() == &bhttp::make_error_code(bhttp::error::bad_target).category();
}

bool hasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

}  // namespace

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
  void handOver(std::uint64_t id, beast::tcp_stream&& stream, std::string_view first_bytes);
  LogLimiter& logLimiter() { return log_limiter_; }

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
  void runThread();
  void stopLocked() KM_REQUIRES(lifecycle_mu_);

  const HttpServerOptions options_;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  prometheus::Family<prometheus::Histogram>* durations_ = nullptr;
  prometheus::Counter* rejected_ = nullptr;
  prometheus::Histogram* other_duration_ = nullptr;
  // Written by add()/start() before any io thread exists, read-only after:
  // no lock on the request path.
  std::unordered_map<std::string, Route> routes_;
  LogLimiter log_limiter_{kLogInterval};
  std::atomic<unsigned short> port_{0};
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
  Session(Server& server, tcp::socket&& socket)
      : server_(server), stream_(std::move(socket)), executor_(stream_.get_executor()) {}
  ~Session() {
    if (id_ != 0) server_.forgetSession(id_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void setId(std::uint64_t id) { id_ = id; }
  void start() {
    const bool sniff = static_cast<bool>(server_.options().lines.accept);
    net::dispatch(executor_,
                  beast::bind_front_handler(sniff ? &Session::sniff : &Session::readHeader,
                                            shared_from_this()));
  }
  /// From any thread: drops the connection, cancelling what is pending.
  void close() override {
    net::post(executor_, [self = shared_from_this()] { self->closeNow(); });
  }

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
  void sniff();
  void onSniff(beast::error_code ec, std::size_t bytes);
  void readHeader();
  void onHeader(beast::error_code ec, std::size_t bytes);
  void readBody();
  void onBody(beast::error_code ec, std::size_t bytes);
  void onReadError(beast::error_code ec);
  void onRequest();
  void buildResponse(HttpResponse&& answer, unsigned version, bool keep_alive, bool head,
                     const std::string& accept_encoding);
  void write(bool keep_alive, bool linger);
  void onWrite(bool keep_alive, bool linger, beast::error_code ec, std::size_t bytes);
  void sendErrorAndClose(int status, std::string_view text);
  void lingeringClose();
  void drain();
  void shutdownAndClose();
  void closeNow();

  Server& server_;
  beast::tcp_stream stream_;
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
  bool handed_over_ = false;
};

void Session::sniff() {
  stream_.expires_after(server_.options().idle_timeout);
  stream_.async_read_some(buffer_.prepare(1024),
                          beast::bind_front_handler(&Session::onSniff, shared_from_this()));
}

void Session::onSniff(beast::error_code ec, std::size_t bytes) {
  if (ec) return closeNow();
  buffer_.commit(bytes);
  const auto data = buffer_.cdata();
  const std::string_view head(static_cast<const char*>(data.data()), data.size());
  switch (sniffProtocol(head)) {
    case Protocol::kUndecided:
      return sniff();
    case Protocol::kHttp:
      return readHeader();
    case Protocol::kLines:
      handed_over_ = true;
      server_.handOver(std::exchange(id_, 0), std::move(stream_), head);
      return;
  }
}

void Session::readHeader() {
  const HttpServerOptions& options = server_.options();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser_->body_limit(static_cast<std::uint64_t>(options.max_body_bytes));
  stream_.expires_after(options.idle_timeout);
  bhttp::async_read_header(stream_, buffer_, *parser_,
                           beast::bind_front_handler(&Session::onHeader, shared_from_this()));
}

void Session::onHeader(beast::error_code ec, std::size_t /*bytes*/) {
  if (ec) return onReadError(ec);
  const auto& request = parser_->get();
  // Clients such as curl hold a large body back until told to go on.
  if (!parser_->is_done() && request.version() >= 11 &&
      beast::iequals(request[bhttp::field::expect], "100-continue")) {
    continue_.emplace(bhttp::status::continue_, request.version());
    stream_.expires_after(server_.options().idle_timeout);
    bhttp::async_write(stream_, *continue_,
                       [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                         if (write_ec) return self->closeNow();
                         self->readBody();
                       });
    return;
  }
  readBody();
}

void Session::readBody() {
  if (parser_->is_done()) return onRequest();
  stream_.expires_after(server_.options().idle_timeout);
  bhttp::async_read(stream_, buffer_, *parser_,
                    beast::bind_front_handler(&Session::onBody, shared_from_this()));
}

void Session::onBody(beast::error_code ec, std::size_t /*bytes*/) {
  if (ec) return onReadError(ec);
  onRequest();
}

void Session::onReadError(beast::error_code ec) {
  if (ec == bhttp::error::end_of_stream) return shutdownAndClose();  // peer done
  if (ec == bhttp::error::header_limit) {
    return sendErrorAndClose(431, "request header fields too large\n");
  }
  if (ec == bhttp::error::body_limit) return sendErrorAndClose(413, "request body too large\n");
  // partial_message: the peer closed mid-request, so nobody would read a 400.
  if (isHttpParseError(ec) && ec != bhttp::error::partial_message) {
    return sendErrorAndClose(400, "bad request\n");
  }
  closeNow();  // timeout, reset, or closed by stop()
}

void Session::onRequest() {
  const auto started = std::chrono::steady_clock::now();
  auto& message = parser_->get();
  HttpRequest request;
  request.method = std::string(message.method_string());
  std::string_view target = message.target();
  // absolute-form ("http://host/path"), as sent to proxies: route on the path.
  if (!target.empty() && target.front() != '/') {
    const std::size_t scheme = target.find("://");
    if (scheme != std::string_view::npos) {
      const std::size_t slash = target.find('/', scheme + 3);
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
  }
  const std::size_t question = target.find('?');
  request.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) request.query = std::string(target.substr(question + 1));
  std::string accept_encoding;
  request.headers.reserve(static_cast<std::size_t>(std::distance(message.begin(), message.end())));
  for (const auto& field : message) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    if (field.name() == bhttp::field::accept_encoding) {
      if (!accept_encoding.empty()) accept_encoding += ", ";
      accept_encoding += field.value();
    }
  }
  request.body = std::move(message.body());
  request.peer_address = peerAddress(stream_);
  const bool keep_alive = message.keep_alive() && !server_.stopping();
  const bool head = message.method() == bhttp::verb::head;
  const unsigned version = message.version();

  Answering context{
      version, keep_alive, head, std::move(accept_encoding), server_.pathLabel(request.path),
      started};
  if (server_.isAsync(request.path)) {
    // Nothing is read from the connection until the answer is written, as
    // for a synchronous handler; only the io thread is free meanwhile.
    auto pending = std::make_shared<PendingAnswer>();
    {
      MutexLock lock(pending->mu);
      pending->session = shared_from_this();
    }
    server_.trackPending(id_, pending);
    Server& server = server_;
    server_.handleAsync(request, [pending, context, &server](HttpResponse response) {
      // Posted under the lock: stop() takes the session under it too, so
      // either this post reaches the io_context before the server releases
      // it, or the session is gone and the answer is dropped.
      MutexLock lock(pending->mu);
      std::shared_ptr<Session> session = std::move(pending->session);
      if (!session) return;  // answered already, or the server stopped
      net::post(session->executor_,
                [session, context, &server, response = std::move(response)]() mutable {
                  session->answer(server.checked(std::move(response), context.path_label), context);
                });
    });
    return;
  }
  Server::Handled handled = server_.handle(request);
  answer(std::move(handled.response), context);
}

void Session::answer(HttpResponse&& response, const Answering& context) {
  const int status = response.status;
  buildResponse(std::move(response), context.version, context.keep_alive, context.head,
                context.accept_encoding);
  server_.record(context.path_label, status, std::chrono::steady_clock::now() - context.started);
  write(context.keep_alive, /*linger=*/false);
}

void Session::buildResponse(HttpResponse&& answer, unsigned version, bool keep_alive, bool head,
                            const std::string& accept_encoding) {
  serializer_.reset();  // it refers to response_
  response_ = {};
  response_.version(version);
  response_.result(static_cast<unsigned>(answer.status));
  response_.set(bhttp::field::server, kServerName);
  if (!answer.content_type.empty() && !hasLineBreak(answer.content_type)) {
    response_.set(bhttp::field::content_type, answer.content_type);
  }
  bool already_encoded = false;
  for (const auto& [name, value] : answer.headers) {
    // Framing belongs to the server; a line break would split the header.
    if (name.empty() || hasLineBreak(name) || hasLineBreak(value) ||
        beast::iequals(name, "content-length") || beast::iequals(name, "transfer-encoding") ||
        beast::iequals(name, "connection")) {
      continue;
    }
    if (beast::iequals(name, "content-encoding")) already_encoded = true;
    response_.insert(name, value);
  }
  const bool bodyless = answer.status < 200 || answer.status == 204 || answer.status == 304;
  if (bodyless) answer.body.clear();
  const HttpServerOptions& options = server_.options();
  if (!bodyless && !already_encoded && answer.body.size() >= options.gzip_min_bytes) {
    // Caches must not hand a gzip body to a client that did not ask for one.
    response_.insert(bhttp::field::vary, "Accept-Encoding");
    if (acceptsGzip(accept_encoding)) {
      if (auto compressed = gzipCompress(answer.body)) {
        answer.body = std::move(*compressed);
        response_.set(bhttp::field::content_encoding, "gzip");
      } else if (server_.logLimiter().allow("gzip")) {
        logWarn(kComponent) << compressed.error().message() << "; sending uncompressed";
      }
    }
  }
  response_.keep_alive(keep_alive);
  if (head) {
    // The headers a GET would get, Content-Length included, and no body.
    if (!bodyless) response_.content_length(answer.body.size());
    return;
  }
  response_.body() = std::move(answer.body);
  response_.prepare_payload();
}

void Session::write(bool keep_alive, bool linger) {
  stream_.expires_after(server_.options().idle_timeout);
  // On loopback or a fast network one send() takes a whole large body (a
  // 1 MB /metrics page costs milliseconds of kernel time), and fifty such
  // answers queued on the io threads would delay a /healthz probe by their
  // sum. In slices, every connection's next slice queues behind the others'
  // handlers, so a small request waits for about one slice per busy
  // connection instead.
  serializer_.emplace(response_);
  serializer_->limit(kWriteSliceBytes);
  bhttp::async_write(
      stream_, *serializer_,
      beast::bind_front_handler(&Session::onWrite, shared_from_this(), keep_alive, linger));
}

void Session::onWrite(bool keep_alive, bool linger, beast::error_code ec, std::size_t /*bytes*/) {
  if (ec) return closeNow();
  if (linger) return lingeringClose();
  if (!keep_alive || server_.stopping()) return shutdownAndClose();
  readHeader();
}

void Session::sendErrorAndClose(int status, std::string_view text) {
  unsigned version = 11;
  std::string_view label = kOtherPath;
  if (parser_ && parser_->is_header_done()) {
    version = parser_->get().version();
    const std::string_view target = parser_->get().target();
    label = server_.pathLabel(target.substr(0, target.find('?')));
  }
  HttpResponse answer;
  answer.status = status;
  answer.body = std::string(text);
  buildResponse(std::move(answer), version, /*keep_alive=*/false, /*head=*/false, "");
  server_.record(label, status, std::chrono::steady_clock::duration::zero());
  write(/*keep_alive=*/false, /*linger=*/true);
}

void Session::lingeringClose() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  drained_ = 0;
  stream_.expires_after(kLingerTime);
  drain();
}

void Session::drain() {
  stream_.async_read_some(net::buffer(drain_buffer_),
                          [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
                            self->drained_ += bytes;
                            if (ec || self->drained_ >= kLingerBytes) return self->closeNow();
                            self->drain();
                          });
}

void Session::shutdownAndClose() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.close();
}

void Session::closeNow() {
  if (handed_over_) return;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

Server::Server(HttpServerOptions options, prometheus::Registry* metrics)
    : options_(std::move(options)),
      ioc_(static_cast<int>(std::clamp<std::size_t>(options_.threads, 1, 256))),
      acceptor_(net::make_strand(ioc_)),
      accept_retry_timer_(acceptor_.get_executor()) {
  if (metrics == nullptr) return;
  // prometheus-cpp throws when a name is taken by a family of another type.
  try {
    requests_ = &prometheus::BuildCounter()
                     .Name("kubemetrics_http_requests_total")
                     .Help("HTTP requests served by the agent, by path and status code.")
                     .Register(*metrics);
    durations_ = &prometheus::BuildHistogram()
                      .Name("kubemetrics_http_request_duration_seconds")
                      .Help("Time from a request's header to its encoded response, by path.")
                      .Register(*metrics);
    rejected_ = &prometheus::BuildCounter()
                     .Name("kubemetrics_http_connections_rejected_total")
                     .Help(
                         "Connections closed at once because max_connections were open, by "
                         "server (the agent's, or a listener's).")
                     .Register(*metrics)
                     .Add({{"server", options_.name}});
  } catch (const std::exception& e) {
    logWarn(kComponent) << "self-metrics disabled: " << e.what();
    requests_ = nullptr;
    durations_ = nullptr;
    rejected_ = nullptr;
  }
}

void Server::add(std::string path, HttpHandler handler) {
  MutexLock lock(lifecycle_mu_);
  if (state_ != State::kIdle) {
    logError(kComponent) << "route " << path << " added after start; ignored";
    return;
  }
  routes_[std::move(path)] = Route{std::move(handler), {}, nullptr};
}

void Server::addAsync(std::string path, AsyncHttpHandler handler) {
  MutexLock lock(lifecycle_mu_);
  if (state_ != State::kIdle) {
    logError(kComponent) << "route " << path << " added after start; ignored";
    return;
  }
  routes_[std::move(path)] = Route{{}, std::move(handler), nullptr};
}

Result<void> Server::start(std::string_view listen_address) {
  MutexLock lock(lifecycle_mu_);
  if (state_ != State::kIdle) {
    return makeError(ErrorCode::kInvalidArgument, "http server: start() after start() or stop()");
  }
  auto endpoint = parseListenAddress(listen_address);
  if (!endpoint) return tl::unexpected(endpoint.error());

  beast::error_code ec;
  tcp::endpoint bound;
  const char* step = "open a socket for";
  auto ok = [&](const char* next) {
    if (ec) return false;
    step = next;
    return true;
  };
  acceptor_.open(endpoint->protocol(), ec);
  // SO_REUSEADDR lets a restarted agent bind while old connections sit in
  // TIME_WAIT; Linux still refuses a port another socket listens on.
  if (ok("set SO_REUSEADDR for")) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ok("bind")) acceptor_.bind(*endpoint, ec);
  if (ok("listen on")) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ok("read the bound port of")) bound = acceptor_.local_endpoint(ec);
  if (ec) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return makeError(ErrorCode::kUnavailable, "http server: cannot " + std::string(step) + " " +
                                                  std::string(listen_address) + ": " +
                                                  ec.message());
  }

  try {
    if (durations_ != nullptr) {
      const prometheus::Histogram::BucketBoundaries buckets{
          0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
      for (auto& [path, route] : routes_)
        route.duration = &durations_->Add({{"path", path}}, buckets);
      other_duration_ = &durations_->Add({{"path", std::string(kOtherPath)}}, buckets);
    }
  } catch (const std::exception& e) {
    logWarn(kComponent) << "request duration metric disabled: " << e.what();
    for (auto& entry : routes_) entry.second.duration = nullptr;
    other_duration_ = nullptr;
  }

  port_.store(bound.port(), std::memory_order_release);
  work_.emplace(net::make_work_guard(ioc_));
  doAccept();  // no io thread runs yet, so this needs no strand
  state_ = State::kServing;
  const std::size_t thread_count = std::clamp<std::size_t>(options_.threads, 1, 256);
  try {
    for (std::size_t i = 0; i < thread_count; ++i) threads_.emplace_back([this] { runThread(); });
  } catch (const std::system_error& e) {
    stopLocked();
    return makeError(ErrorCode::kInternal,
                     std::string("http server: cannot start io threads: ") + e.what());
  }
  logInfo(kComponent) << "listening on " << bound.address().to_string() << ':' << bound.port();
  return {};
}

void Server::doAccept() {
  acceptor_.async_accept(net::make_strand(ioc_),
                         beast::bind_front_handler(&Server::onAccept, this));
}

void Server::onAccept(beast::error_code ec, tcp::socket socket) {
  if (ec) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;  // stop()
    std::uint64_t suppressed = 0;
    if (log_limiter_.allow("accept", &suppressed)) {
      logWarn(kComponent) << "accept failed: " << ec.message() << " (" << suppressed
                          << " more suppressed)";
    }
    // Out of descriptors or memory: retrying at once would spin.
    if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
        ec == net::error::no_memory) {
      accept_retry_timer_.expires_after(kAcceptRetryDelay);
      accept_retry_timer_.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && acceptor_.is_open()) doAccept();
      });
      return;
    }
    return doAccept();
  }
  auto session = std::make_shared<Session>(*this, std::move(socket));
  switch (admit(session)) {
    case Admission::kAdmitted:
      session->start();
      break;
    case Admission::kFull: {
      // Dropping the session closes the socket: the peer sees the close at
      // once instead of waiting in the backlog.
      if (rejected_ != nullptr) rejected_->Increment();
      std::uint64_t suppressed = 0;
      if (log_limiter_.allow("max_connections", &suppressed)) {
        logWarn(kComponent) << "max_connections (" << options_.max_connections
                            << ") open; closing new connections (" << suppressed
                            << " more suppressed)";
      }
      break;
    }
    case Admission::kStopping:
      break;
  }
  doAccept();
}

Server::Admission Server::admit(const std::shared_ptr<Session>& session) {
  // stop() sets stopping_ under mu_ before it snapshots sessions_, so a
  // session is either in that snapshot or refused here; none slips through.
  MutexLock lock(mu_);
  if (stopping_.load(std::memory_order_relaxed)) return Admission::kStopping;
  if (sessions_.size() >= options_.max_connections) return Admission::kFull;
  const std::uint64_t id = next_session_id_++;
  session->setId(id);
  sessions_.emplace(id, session);
  return Admission::kAdmitted;
}

void Server::forgetSession(std::uint64_t id) {
  MutexLock lock(mu_);
  sessions_.erase(id);
  pending_.erase(id);
}

void Server::trackPending(std::uint64_t id, const std::shared_ptr<PendingAnswer>& pending) {
  MutexLock lock(mu_);
  pending_[id] = pending;
}

void Server::handOver(std::uint64_t id, beast::tcp_stream&& stream, std::string_view first_bytes) {
  std::unique_ptr<LineConsumer> consumer;
  try {
    consumer = options_.lines.accept(peerAddress(stream));
  } catch (const std::exception& e) {
    logError(kComponent) << "line connection refused: " << e.what();
  }
  auto connection = consumer ? std::make_shared<LineConnection>(
                                   std::move(stream), first_bytes, std::move(consumer),
                                   options_.lines.max_line_bytes, options_.idle_timeout,
                                   [this, id] { forgetSession(id); })
                             : nullptr;
  bool admitted = false;
  {
    MutexLock lock(mu_);
    // stop() may have taken its snapshot of sessions_ already: then this
    // connection is not started, and closes as it goes.
    admitted = connection && !stopping_.load(std::memory_order_relaxed);
    if (admitted) sessions_[id] = connection;
  }
  if (admitted) {
    connection->start();
  } else if (!connection) {
    forgetSession(id);
  }
}

void Server::runThread() {
  // Handlers here catch what they can; anything else that escapes run() is
  // logged and the thread goes back to work rather than taking the agent down.
  for (;;) {
    try {
      ioc_.run();
      break;
    } catch (const std::exception& e) {
      logError(kComponent) << "io thread: unexpected exception: " << e.what();
    } catch (...) {
      logError(kComponent) << "io thread: unexpected exception";
    }
  }
  MutexLock lock(exited_mu_);
  ++exited_;
  exited_cv_.notify_all();
}

std::string_view Server::pathLabel(std::string_view path) const {
  const auto it = routes_.find(std::string(path));
  return it == routes_.end() ? kOtherPath : std::string_view(it->first);
}

Server::Handled Server::handle(const HttpRequest& request) {
  const auto it = routes_.find(request.path);
  if (it == routes_.end()) {
    HttpResponse response;
    response.status = 404;
    response.body = "not found\n";
    return {std::move(response), kOtherPath};
  }
  const std::string_view label = it->first;
  try {
    return {checked(it->second.handler(request), label), label};
  } catch (const std::exception& e) {
    return {failed(label, std::string("threw: ") + e.what()), label};
  } catch (...) {
    return {failed(label, "threw a non-std exception"), label};
  }
}

bool Server::isAsync(const std::string& path) const {
  const auto it = routes_.find(path);
  return it != routes_.end() && it->second.async;
}

void Server::handleAsync(const HttpRequest& request, const HttpResponder& respond) {
  const auto it = routes_.find(request.path);
  const std::string_view label = it->first;
  std::string failure;
  try {
    it->second.async(request, respond);
    return;
  } catch (const std::exception& e) {
    failure = std::string("threw: ") + e.what();
  } catch (...) {
    failure = "threw a non-std exception";
  }
  respond(failed(label, failure));
}

HttpResponse Server::checked(HttpResponse response, std::string_view label) {
  if (response.status >= 200 && response.status <= 599) return response;
  return failed(label, "returned status " + std::to_string(response.status));
}

HttpResponse Server::failed(std::string_view label, const std::string& failure) {
  std::uint64_t suppressed = 0;
  if (log_limiter_.allow(label, &suppressed)) {
    logError(kComponent) << "handler for " << label << ' ' << failure << " (" << suppressed
                         << " more suppressed)";
  }
  HttpResponse response;
  response.status = 500;
  response.body = "internal server error\n";
  return response;
}

void Server::record(std::string_view path_label, int status,
                    std::chrono::steady_clock::duration took) {
  if (requests_ == nullptr) return;
  try {
    requests_->Add({{"path", std::string(path_label)}, {"code", std::to_string(status)}})
        .Increment();
    prometheus::Histogram* histogram = other_duration_;
    if (path_label != kOtherPath) {
      const auto it = routes_.find(std::string(path_label));
      if (it != routes_.end()) histogram = it->second.duration;
    }
    if (histogram != nullptr) {
      histogram->Observe(std::chrono::duration<double>(took).count());
    }
  } catch (const std::exception& e) {
    if (log_limiter_.allow("metrics")) logWarn(kComponent) << "self-metrics: " << e.what();
  }
}

void Server::stop() {
  MutexLock lock(lifecycle_mu_);
  stopLocked();
}

void Server::stopLocked() {
  if (state_ == State::kStopped) return;
  const bool serving = state_ == State::kServing;
  state_ = State::kStopped;
  std::vector<std::shared_ptr<Connection>> open;
  {
    MutexLock lock(mu_);
    stopping_.store(true, std::memory_order_release);
    open.reserve(sessions_.size());
    for (const auto& [id, weak] : sessions_) {
      if (auto session = weak.lock()) open.push_back(std::move(session));
    }
  }
  if (!serving) return;
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_timer_.cancel();
  });
  for (const auto& session : open) session->close();
  // Released outside mu_: the last reference runs ~Session, which takes mu_.
  open.clear();
  work_.reset();
  {
    MutexLock lock(exited_mu_);
    if (!exited_cv_.wait_for(lock, kStopGrace, [&] { return exited_.load() == threads_.size(); })) {
      logWarn(kComponent)
          << "stop: io threads still busy after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(kStopGrace).count()
          << " ms; abandoning their pending work";
      ioc_.stop();
    }
  }
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  // Answers still pending: their sessions go now, while the server exists
  // (a session's destructor calls forgetSession()); a responder called
  // later finds no session.
  std::vector<std::shared_ptr<PendingAnswer>> pending;
  {
    MutexLock lock(mu_);
    for (const auto& [id, weak] : pending_) {
      if (auto answer = weak.lock()) pending.push_back(std::move(answer));
    }
    pending_.clear();
  }
  for (const auto& answer : pending) {
    std::shared_ptr<Session> session;
    {
      MutexLock lock(answer->mu);
      session = std::move(answer->session);
    }
    // Released here, outside both locks.
  }
  logInfo(kComponent) << "stopped";
}

}  // namespace http_internal

HttpServer::HttpServer(HttpServerOptions options, prometheus::Registry* metrics)
    : impl_(std::make_unique<http_internal::Server>(std::move(options), metrics)) {}

HttpServer::~HttpServer() = default;

void HttpServer::add(std::string path, HttpHandler handler) {
  impl_->add(std::move(path), std::move(handler));
}

Result<void> HttpServer::start(std::string_view listen_address) {
  return impl_->start(listen_address);
}

void HttpServer::addAsync(std::string path, AsyncHttpHandler handler) {
  impl_->addAsync(std::move(path), std::move(handler));
}

unsigned short HttpServer::port() const { return impl_->port(); }

void HttpServer::stop() { impl_->stop(); }

}  // namespace kubemetrics
