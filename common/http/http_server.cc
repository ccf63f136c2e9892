#include "common/http/http_server.h"

#include <sys/resource.h>
#include <unistd.h>

#include "common/http/server_internal.h"
#include "common/http/socket_address.h"
#include "kubemetrics/log.h"

namespace kubemetrics {
namespace http_internal {

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
    if (options_.evict_idle_at_limit) {
      evicted_ = &prometheus::BuildCounter()
                      .Name("kubemetrics_http_idle_connections_evicted_total")
                      .Help(
                          "Connections waiting for a request header that were closed to make "
                          "room for a new one at max_connections, by server.")
                      .Register(*metrics)
                      .Add({{"server", options_.name}});
    }
    if (options_.tls.enabled()) {
      handshake_failures_ =
          &prometheus::BuildCounter()
               .Name("kubemetrics_http_tls_handshake_failures_total")
               .Help(
                   "TLS handshakes that failed on a server's port (a client that does not "
                   "speak TLS, trusts another CA, or has no valid client certificate), by "
                   "server.")
               .Register(*metrics)
               .Add({{"server", options_.name}});
    }
  } catch (const std::exception& e) {
    logWarn(kComponent) << "self-metrics disabled: " << e.what();
    requests_ = nullptr;
    durations_ = nullptr;
    rejected_ = nullptr;
    evicted_ = nullptr;
    handshake_failures_ = nullptr;
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
  if (options_.tls.enabled()) {
    // Read now, so a missing or bad certificate stops the start.
    tls_.emplace(options_.tls);
    if (auto context = tls_->context(); !context) {
      tls_.reset();
      return makeError(ErrorCode::kInvalidArgument,
                       "http server " + options_.name + ": " + context.error().message());
    }
  }

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
  std::shared_ptr<Session> session;
  if (tls_) {
    // A certificate that changed since the last connection is read again here.
    auto context = tls_->context();
    if (!context) return doAccept();  // cannot happen: start() built one, which is kept
    session = std::make_shared<Session>(*this, ServerStream(std::move(socket), *context));
  } else {
    session = std::make_shared<Session>(*this, ServerStream(std::move(socket)));
  }
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
  // Declared before the lock so that it is destroyed after the unlock.
  std::vector<std::shared_ptr<Connection>> looked;
  // stop() sets stopping_ under mu_ before it snapshots sessions_, so a
  // session is either in that snapshot or refused here; none slips through.
  MutexLock lock(mu_);
  if (stopping_.load(std::memory_order_relaxed)) return Admission::kStopping;
  if (sessions_.size() >= options_.max_connections &&
      !(options_.evict_idle_at_limit && evictLongestIdleLocked(looked))) {
    return Admission::kFull;
  }
  const std::uint64_t id = next_session_id_++;
  session->setId(id);
  sessions_.emplace(id, session);
  return Admission::kAdmitted;
}

bool Server::evictLongestIdleLocked(std::vector<std::shared_ptr<Connection>>& looked) {
  // At most max_connections entries, scanned only when they are all taken.
  looked.reserve(sessions_.size());
  struct Idle {
    std::int64_t since;
    std::uint64_t id;
    Connection* connection;
  };
  std::vector<Idle> idle;
  for (const auto& [id, weak] : sessions_) {
    auto connection = weak.lock();
    if (!connection) continue;
    if (const std::int64_t since = connection->idleSinceNs(); since != 0) {
      idle.push_back({since, id, connection.get()});
    }
    looked.push_back(std::move(connection));
  }
  // Ids break ties in admission order.
  std::sort(idle.begin(), idle.end(), [](const Idle& a, const Idle& b) {
    return a.since != b.since ? a.since < b.since : a.id < b.id;
  });
  // The oldest quarter of the idle ones goes at once, so that a flood of
  // connections is accepted at the pace of accept() rather than one scan
  // per connection: the kubelet's probe waits in the same accept queue.
  const std::size_t quota = std::max<std::size_t>(1, idle.size() / 4);
  std::size_t evicted = 0;
  for (const Idle& candidate : idle) {
    if (evicted == quota) break;
    if (candidate.connection->requestWaiting()) continue;
    // Its slot is free from now on; the session ends on its own strand.
    sessions_.erase(candidate.id);
    candidate.connection->close();
    ++evicted;
  }
  if (evicted_ != nullptr) evicted_->Increment(static_cast<double>(evicted));
  return evicted != 0;
}

bool Server::reserveBodyBytes(std::uint64_t bytes) {
  const std::uint64_t limit = options_.max_body_bytes_in_flight;
  if (limit == 0) return true;
  std::uint64_t held = body_bytes_in_flight_.load(std::memory_order_relaxed);
  do {
    if (held != 0 && held + bytes > limit) return false;
  } while (
      !body_bytes_in_flight_.compare_exchange_weak(held, held + bytes, std::memory_order_relaxed));
  return true;
}

void Server::releaseBodyBytes(std::uint64_t bytes) {
  if (options_.max_body_bytes_in_flight != 0) {
    body_bytes_in_flight_.fetch_sub(bytes, std::memory_order_relaxed);
  }
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

void Server::tlsHandshakeFailed(std::string_view peer_address, const beast::error_code& ec) {
  if (handshake_failures_ != nullptr) handshake_failures_->Increment();
  std::uint64_t suppressed = 0;
  if (log_limiter_.allow("tls_handshake", &suppressed)) {
    logWarn(kComponent) << options_.name << " server: TLS handshake with " << peer_address
                        << " failed: " << ec.message() << " (" << suppressed << " more suppressed)";
  }
}

void Server::handOver(std::uint64_t id, ServerStream&& stream, std::string_view first_bytes,
                      std::string_view peer_address) {
  std::unique_ptr<LineConsumer> consumer;
  try {
    consumer = options_.lines.accept(peer_address);
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
  // Best effort: an error leaves the priority as it was.
  if (options_.io_thread_nice != 0) {
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), options_.io_thread_nice);
  }
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
