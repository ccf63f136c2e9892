#include <sys/ioctl.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <string_view>

#include "common/http/content_encoding.h"
#include "common/http/server_internal.h"
#include "common/http/socket_address.h"
#include "kubemetrics/log.h"

namespace kubemetrics::http_internal {
namespace {

bool isHttpParseError(const beast::error_code& ec) {
  return &ec.category() == &bhttp::make_error_code(bhttp::error::bad_target).category();
}

bool hasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

}  // namespace

void Session::handshake() {
  stream_.tcp().expires_after(server_.options().idle_timeout);
  stream_.asyncHandshake(beast::bind_front_handler(&Session::onHandshake, shared_from_this()));
}

void Session::onHandshake(beast::error_code ec) {
  if (ec) {
    server_.tlsHandshakeFailed(peer_address_, ec);
    return closeNow();
  }
  firstRead();
}

void Session::firstRead() {
  setIdle(true);
  if (server_.options().lines.accept) return sniff();
  readHeader();
}

void Session::sniff() {
  stream_.tcp().expires_after(server_.options().idle_timeout);
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
      setIdle(false);
      native_fd_.store(-1, std::memory_order_relaxed);
      handed_over_ = true;
      server_.handOver(std::exchange(id_, 0), std::move(stream_), head, peer_address_);
      return;
  }
}

void Session::readHeader() {
  releaseBody();  // the previous request's, answered by now
  setIdle(true);
  const HttpServerOptions& options = server_.options();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser_->body_limit(static_cast<std::uint64_t>(options.max_body_bytes));
  stream_.tcp().expires_after(options.idle_timeout);
  bhttp::async_read_header(stream_, buffer_, *parser_,
                           beast::bind_front_handler(&Session::onHeader, shared_from_this()));
}

void Session::onHeader(beast::error_code ec, std::size_t /*bytes*/) {
  setIdle(false);
  if (ec) return onReadError(ec);
  admitBody();
}

bool Session::requestWaiting() const {
  const int fd = native_fd_.load(std::memory_order_relaxed);
  int unread = 0;
  return fd >= 0 && ::ioctl(fd, FIONREAD, &unread) == 0 && unread > 0;
}

void Session::setIdle(bool idle) {
  if (!idle) {
    idle_since_ns_.store(0, std::memory_order_relaxed);
  } else if (idle_since_ns_.load(std::memory_order_relaxed) == 0) {  // only the strand writes
    idle_since_ns_.store(idleStamp(), std::memory_order_relaxed);
  }
}

void Session::admitBody() {
  const HttpServerOptions& options = server_.options();
  if (options.max_body_bytes_in_flight != 0 && !parser_->is_done()) {
    const auto length = parser_->content_length();
    std::uint64_t bytes = length ? *length : options.max_body_bytes;
    if (options.decoded_body_bytes != 0) {
      const auto encoding = parser_->get()[bhttp::field::content_encoding];
      if (!encoding.empty() && !boost::beast::iequals(encoding, "identity")) {
        bytes += options.decoded_body_bytes;
      }
    }
    if (!server_.reserveBodyBytes(bytes)) {
      return awaitBodyBudget(bytes, std::chrono::steady_clock::now() + options.body_budget_wait);
    }
    reserved_body_bytes_ = bytes;
  }
  onBodyAdmitted();
}

void Session::awaitBodyBudget(std::uint64_t bytes, std::chrono::steady_clock::time_point deadline) {
  if (!body_budget_timer_) body_budget_timer_.emplace(executor_);
  body_budget_timer_->expires_after(kBodyBudgetPoll);
  body_budget_timer_->async_wait(
      [self = shared_from_this(), bytes, deadline](const beast::error_code& ec) {
        if (ec || self->server_.stopping()) return self->closeNow();
        if (self->server_.reserveBodyBytes(bytes)) {
          self->reserved_body_bytes_ = bytes;
          return self->onBodyAdmitted();
        }
        if (std::chrono::steady_clock::now() < deadline) {
          return self->awaitBodyBudget(bytes, deadline);
        }
        std::uint64_t suppressed = 0;
        if (self->server_.logLimiter().allow("body_budget", &suppressed)) {
          logWarn(kComponent) << self->server_.options().name << " server: request bodies of "
                              << self->server_.options().max_body_bytes_in_flight
                              << " bytes in flight for "
                              << self->server_.options().body_budget_wait.count()
                              << " ms; answering 503 to " << self->peer_address_ << " ("
                              << suppressed << " more suppressed)";
        }
        self->sendErrorAndClose(503, "too many request bodies in flight; retry later\n",
                                {{"Retry-After", "1"}});
      });
}

void Session::releaseBody() {
  if (reserved_body_bytes_ == 0) return;
  server_.releaseBodyBytes(std::exchange(reserved_body_bytes_, 0));
}

void Session::onBodyAdmitted() {
  // A large body is read into the memory of an earlier one (BodyBufferPool),
  // taken only now that one is coming, so an idle connection holds none.
  // The parser's reader refers to the body string, not to its memory.
  if (const auto length = parser_->content_length();
      length && *length >= BodyBufferPool::kMinKeptBytes && parser_->get().body().empty()) {
    std::string& body = parser_->get().body();
    body = server_.bodyBuffers().take();
    body.reserve(static_cast<std::size_t>(*length));  // as the reader did: one allocation at most
  }
  const auto& request = parser_->get();
  // Clients such as curl hold a large body back until told to go on.
  if (!parser_->is_done() && request.version() >= 11 &&
      beast::iequals(request[bhttp::field::expect], "100-continue")) {
    continue_.emplace(bhttp::status::continue_, request.version());
    stream_.tcp().expires_after(server_.options().idle_timeout);
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
  stream_.tcp().expires_after(server_.options().idle_timeout);
  // content_length() is set only for a Content-Length body (never chunked),
  // and the parser has already held it to body_limit.
  if (const auto length = parser_->content_length();
      length && *length >= BodyBufferPool::kMinKeptBytes) {
    return readWholeBody(static_cast<std::size_t>(*length));
  }
  bhttp::async_read(stream_, buffer_, *parser_,
                    beast::bind_front_handler(&Session::onBody, shared_from_this()));
}

void Session::readWholeBody(std::size_t length) {
  // Beast's parser would read a body 64 KiB at a time into buffer_, then
  // copy each piece into the body, one composed-operation step (handlers,
  // executor hops) per piece: a large remote-write body cost more in that
  // loop than in the kernel. Here the kernel copies straight into the body,
  // each read as large as the socket has data for.
  std::string& body = parser_->get().body();
  body.resize(length);
  const auto buffered = std::min(buffer_.size(), length);
  net::buffer_copy(net::buffer(body.data(), buffered), buffer_.data());
  buffer_.consume(buffered);
  if (buffered == length) return onRequest();
  net::async_read(
      stream_, net::buffer(body.data() + buffered, length - buffered),
      // Ask for everything still missing in each read (transfer_all asks for
      // at most 64 KiB).
      [wanted = length - buffered](const beast::error_code& ec, std::size_t read) -> std::size_t {
        return ec ? 0 : wanted - read;
      },
      beast::bind_front_handler(&Session::onWholeBody, shared_from_this()));
}

void Session::onWholeBody(beast::error_code ec, std::size_t /*bytes*/) {
  // Closed or reset mid-body, or timed out: nobody would read an answer.
  if (ec) return closeNow();
  onRequest();
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
  request.peer_address = peer_address_;
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
      if (!pending->session) return;  // answered already, or the server stopped
      // Nothing of the io_context may be left on this thread once the
      // answer is posted: the answer can run, the session read its next
      // request and the server stop and go before this thread leaves this
      // scope, and whatever it still held would be destroyed after the
      // io_context. A session reference would run ~Session (its socket and
      // timer) then, a copy of the session's strand executor would release
      // the strand (its service). So the answer takes the only session
      // reference, and goes through the io_context's plain executor, whose
      // copies own nothing; on an io thread it moves to the strand. Queued
      // and never run, it is destroyed with the io_context, which is safe.
      net::post(server.ioContext(), [session = std::move(pending->session), context, &server,
                                     response = std::move(response)]() mutable {
        const net::any_io_executor strand = session->executor_;
        net::dispatch(strand, [session = std::move(session), context, &server,
                               response = std::move(response)]() mutable {
          session->answer(server.checked(std::move(response), context.path_label), context);
        });
      });
    });
    return;
  }
  Server::Handled handled = server_.handle(request);
  // The handler had the request by reference for its call only.
  server_.bodyBuffers().give(std::move(request.body));
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
  stream_.tcp().expires_after(server_.options().idle_timeout);
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

void Session::sendErrorAndClose(int status, std::string_view text,
                                std::vector<std::pair<std::string, std::string>> headers) {
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
  answer.headers = std::move(headers);
  buildResponse(std::move(answer), version, /*keep_alive=*/false, /*head=*/false, "");
  server_.record(label, status, std::chrono::steady_clock::duration::zero());
  write(/*keep_alive=*/false, /*linger=*/true);
}

void Session::lingeringClose() {
  beast::error_code ignored;
  stream_.tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
  drained_ = 0;
  stream_.tcp().expires_after(kLingerTime);
  drain();
}

void Session::drain() {
  // Raw TCP, TLS or not: the bytes are discarded unread.
  stream_.tcp().async_read_some(
      net::buffer(drain_buffer_),
      [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
        self->drained_ += bytes;
        if (ec || self->drained_ >= kLingerBytes) return self->closeNow();
        self->drain();
      });
}

void Session::shutdownAndClose() {
  beast::error_code ignored;
  stream_.tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.tcp().close();
}

void Session::closeNow() {
  if (handed_over_) return;
  native_fd_.store(-1, std::memory_order_relaxed);
  beast::error_code ignored;
  stream_.tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.tcp().close();
}

}  // namespace kubemetrics::http_internal
