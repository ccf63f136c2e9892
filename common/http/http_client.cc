#include "kubemetrics/http_client.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url.hpp>
#include <charconv>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/http/content_encoding.h"
#include "common/http/tls_material.h"
#include "kubemetrics/log.h"

namespace kubemetrics {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace urls = boost::urls;
using tcp = net::ip::tcp;

constexpr std::string_view kComponent = "http_client";
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::uint32_t kHeaderLimit = 64 * 1024;
// Socket operations end by themselves at the tcp_stream expiry (the request
// deadline); this backstop only matters if that ever failed.
constexpr auto kBackstop = std::chrono::seconds(1);

// What a request URL says, taken apart.
struct Target {
  bool tls = false;
  std::string scheme;
  std::string host;                         // without brackets, decoded
  std::optional<net::ip::address> address;  // when the host is an IP literal
  unsigned short port = 0;
  std::string host_header;  // as in the URL: host[:port]
  std::string target;       // path?query, never empty
  std::string userinfo;     // decoded "user:password" for Basic auth, or ""
  std::string authority;    // host:port, for messages
  std::string display;      // scheme://host:port/path, for messages (no query, no userinfo)
};

Result<Target> parseUrl(std::string_view url) {
  auto invalid = [&](std::string_view why) {
    return makeError(ErrorCode::kInvalidArgument,
                     "http client: URL \"" + std::string(url) + "\": " + std::string(why));
  };
  auto parsed = urls::parse_uri(url);
  if (!parsed) return invalid("malformed (" + parsed.error().message() + ")");
  const urls::url_view u = *parsed;
  Target t;
  if (u.scheme_id() == urls::scheme::http) {
    t.tls = false;
    t.scheme = "http";
  } else if (u.scheme_id() == urls::scheme::https) {
    t.tls = true;
    t.scheme = "https";
  } else {
    return invalid("unsupported scheme \"" + std::string(u.scheme()) + "\" (http or https)");
  }
  if (!u.has_authority()) return invalid("missing host");
  switch (u.host_type()) {
    case urls::host_type::ipv4:
    case urls::host_type::ipv6: {
      t.host = u.host_address();
      boost::system::error_code ec;
      t.address = net::ip::make_address(t.host, ec);
      if (ec) return invalid("bad IP address \"" + t.host + "\"");
      break;
    }
    case urls::host_type::name:
      t.host = u.host_name();
      break;
    default:
      return invalid("unsupported host");
  }
  if (t.host.empty()) return invalid("missing host");
  if (t.host.find_first_of(std::string_view("\0\r\n /", 5)) != std::string::npos) {
    return invalid("bad host name");
  }
  // Boost.URL 1.81 reads "host:abc/" as an empty port and a relative path,
  // and port_number() wraps past 65535: check both here.
  const std::string_view path = u.encoded_path();
  if (!path.empty() && path.front() != '/') return invalid("bad port or path");
  if (u.has_port() && !u.port().empty()) {
    const std::string_view digits = u.port();
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535) {
      return invalid("port must be a number from 1 to 65535");
    }
    t.port = static_cast<unsigned short>(port);
  } else {
    t.port = t.tls ? 443 : 80;
  }
  t.host_header = u.encoded_host_and_port();
  if (u.has_port() && u.port().empty()) t.host_header.pop_back();  // "host:" -> "host"
  t.target = u.encoded_target();
  if (t.target.empty() || t.target.front() != '/') t.target.insert(0, "/");
  if (u.has_userinfo()) {
    t.userinfo = u.user();
    if (u.has_password()) t.userinfo += ":" + u.password();
  }
  const std::string bracketed = t.address && t.address->is_v6() ? "[" + t.host + "]" : t.host;
  t.authority = bracketed + ":" + std::to_string(t.port);
  t.display = t.scheme + "://" + t.authority + std::string(u.encoded_path());
  return t;
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127) return false;
    return std::string_view("\"(),/:;<=>?@[\\]{}").find(c) == std::string_view::npos;
  });
}

bool isFieldValue(std::string_view s) {
  return s.find_first_of(std::string_view("\0\r\n", 3)) == std::string_view::npos;
}

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

bool isGzipCoding(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  return beast::iequals(value, "gzip") || beast::iequals(value, "x-gzip");
}

// A closed or reset connection: on a reused keep-alive connection before any
// byte of the response, the server had dropped it while idle.
bool isConnectionClosed(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::connection_aborted ||
         ec == net::error::broken_pipe || ec == ssl::error::stream_truncated;
}

bool isParseError(const beast::error_code& ec) {
  return &ec.category() == &bhttp::make_error_code(bhttp::error::bad_target).category();
}

// Hands the decoded body to the caller's string or chunk handler, decoding
// gzip on the way and enforcing the limit on the decoded size.
class BodySink {
 public:
  BodySink(std::size_t limit, bool gzip, const BodyChunkHandler* handler, std::string* out)
      : limit_(limit), handler_(handler), out_(out) {
    if (gzip) decoder_.emplace();
  }

  /// True when the last error came from the caller's chunk handler.
  bool handlerFailed() const { return handler_failed_; }

  Result<void> put(std::string_view raw) {
    if (!decoder_) return deliver(raw);
    return decoder_->feed(raw, [this](std::string_view decoded) { return deliver(decoded); });
  }

  Result<void> finish() const {
    if (decoder_) return decoder_->finish();
    return {};
  }

  std::size_t delivered() const { return delivered_; }

 private:
  Result<void> deliver(std::string_view decoded) {
    if (decoded.size() > limit_ - delivered_) {
      return makeError(ErrorCode::kResourceExhausted, "response body exceeds max_response_bytes (" +
                                                          std::to_string(limit_) +
                                                          " bytes, decoded)");
    }
    delivered_ += decoded.size();
    if (handler_) {
      auto handled = (*handler_)(decoded);
      handler_failed_ = !handled;
      return handled;
    }
    out_->append(decoded);
    return {};
  }

  const std::size_t limit_;
  const BodyChunkHandler* handler_;
  std::string* out_;
  std::optional<http_internal::GzipDecoder> decoder_;
  std::size_t delivered_ = 0;
  bool handler_failed_ = false;
};

}  // namespace

std::string_view HttpClientResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (beast::iequals(key, name)) return value;
  }
  return {};
}

class HttpClient::Impl {
 public:
  explicit Impl(HttpClientOptions options) : options_(std::move(options)) {}
  ~Impl() { closeConnection(); }

  Result<HttpClientResponse> send(const HttpClientRequest& request, Deadline deadline,
                                  const BodyChunkHandler* on_chunk) {
    std::string context = "http client: " + request.method + " " + request.url;
    try {
      auto target = parseUrl(request.url);
      if (!target) return tl::unexpected(target.error());
      context = "http client: " + request.method + " " + target->display;
      handler_error_ = false;
      // A cancel() from before this request is not for it.
      cancel_requested_.store(false, std::memory_order_relaxed);
      auto result = sendTo(*target, request, deadline, on_chunk);
      if (!result && cancel_requested_.load(std::memory_order_relaxed)) {
        closeConnection();
        return makeError(ErrorCode::kUnavailable,
                         context + ": cancelled (" + result.error().message() + ")");
      }
      if (!result) {
        closeConnection();
        // The chunk handler's own error goes back as it was returned.
        if (handler_error_) return result;
        return makeError(result.error().code(), context + ": " + result.error().message());
      }
      return result;
    } catch (const std::exception& e) {
      closeConnection();
      return makeError(ErrorCode::kInternal, context + ": unexpected exception: " + e.what());
    } catch (...) {
      closeConnection();
      return makeError(ErrorCode::kInternal, context + ": unexpected exception");
    }
  }

  // Any thread. The handler runs inside run() on the owner's thread, where
  // closing the socket (or cancelling a resolve) is safe; a handler left
  // queued between requests finds the flag cleared by the next send().
  void cancel() {
    cancel_requested_.store(true, std::memory_order_relaxed);
    net::post(ioc_, [this] {
      if (!cancel_requested_.load(std::memory_order_relaxed)) return;
      resolver_.cancel();
      if (conn_) {
        beast::error_code ignored;
        conn_->tcp().socket().close(ignored);
      }
    });
  }

 private:
  // One open connection, plain or TLS, to one scheme://host:port (the key).
  struct Connection {
    std::string key;
    std::shared_ptr<ssl::context> tls_context;  // declared first: outlives the stream
    std::optional<beast::tcp_stream> plain;
    std::optional<ssl::stream<beast::tcp_stream>> tls;

    beast::tcp_stream& tcp() { return tls ? tls->next_layer() : *plain; }
  };

  // The outcome of one try on one connection; `stale` when a reused
  // connection turned out closed before any byte of the response.
  struct Attempt {
    Result<HttpClientResponse> result;
    bool stale = false;
  };

  Result<HttpClientResponse> sendTo(const Target& t, const HttpClientRequest& request,
                                    Deadline deadline, const BodyChunkHandler* on_chunk);
  Result<bhttp::request<bhttp::string_body>> buildRequest(const Target& t,
                                                          const HttpClientRequest& request) const;
  Result<void> connect(const Target& t, const std::string& key, Deadline deadline);
  Result<std::vector<tcp::endpoint>> resolve(const Target& t, Deadline until);
  Attempt headerFailure(beast::error_code ec, bool nothing_read, std::uint64_t content_length,
                        const std::string& authority) const;
  Attempt bodyFailure(beast::error_code ec, std::size_t delivered,
                      const std::string& content_length, const std::string& authority) const;
  template <class Stream>
  Attempt exchange(Stream& stream, bhttp::request<bhttp::string_body>& request, bool head,
                   Deadline deadline, const BodyChunkHandler* on_chunk);
  template <class Initiate>
  beast::error_code run(Deadline deadline, Initiate&& initiate);
  bool idleConnectionUsable();
  void closeConnection() {
    if (!conn_) return;
    beast::error_code ignored;
    conn_->tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    conn_->tcp().socket().close(ignored);
    // Handlers of operations cut short by close() hold no references to
    // the connection (run() always waits for its operation), so it can go.
    conn_.reset();
  }

  const HttpClientOptions options_;
  // Declared so that the connection goes before the contexts it uses.
  net::io_context ioc_{1};
  tcp::resolver resolver_{ioc_};
  TlsMaterial tls_{options_.tls};
  std::unique_ptr<Connection> conn_;
  std::unique_ptr<char[]> read_buffer_ = std::make_unique<char[]>(kReadChunk);
  bool handler_error_ = false;  // the last send() failed in the caller's chunk handler
  std::atomic<bool> cancel_requested_{false};
};

// Runs the io_context until the operation that `initiate` starts completes.
// Socket operations are bounded by the tcp_stream expiry, so this returns by
// the deadline; the handler refers to locals, so it must never outlive them.
template <class Initiate>
beast::error_code HttpClient::Impl::run(Deadline deadline, Initiate&& initiate) {
  bool done = false;
  beast::error_code result;
  initiate([&done, &result](beast::error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  Deadline backstop = deadline + kBackstop;
  bool closed_at_backstop = false;
  while (!done) {
    if (ioc_.stopped()) ioc_.restart();
    if (ioc_.run_one_until(backstop) == 0 && !done) {
      if (ioc_.stopped()) return net::error::operation_aborted;  // no work left: cannot happen
      if (SteadyClock::now() >= backstop && conn_) {
        // Closing cancels the operation; its handler then runs promptly.
        beast::error_code ignored;
        conn_->tcp().socket().close(ignored);
        backstop = Deadline::max();
        closed_at_backstop = true;
      }
    }
  }
  // A process starved of CPU can pass the backstop before the expiry's own
  // handler runs; the operation then fails on the closed socket (operation
  // aborted, or "Bad file descriptor" between two steps of a composed read),
  // which is the deadline's doing and is reported as such.
  if (closed_at_backstop && result) return beast::error::timeout;
  return result;
}

Result<HttpClientResponse> HttpClient::Impl::sendTo(const Target& t,
                                                    const HttpClientRequest& request,
                                                    Deadline deadline,
                                                    const BodyChunkHandler* on_chunk) {
  auto built = buildRequest(t, request);
  if (!built) return tl::unexpected(built.error());
  bhttp::request<bhttp::string_body>& req = *built;
  const bool head = req.method() == bhttp::verb::head;
  if (SteadyClock::now() >= deadline) {
    return makeError(ErrorCode::kTimeout, "deadline passed before the request started");
  }
  const std::string key = t.scheme + "://" + t.authority;
  if (conn_ && (conn_->key != key || !idleConnectionUsable())) closeConnection();
  for (int attempt = 0;; ++attempt) {
    const bool reused = conn_ != nullptr;
    if (!conn_) {
      if (auto connected = connect(t, key, deadline); !connected) {
        return tl::unexpected(connected.error());
      }
    }
    Attempt outcome = conn_->tls ? exchange(*conn_->tls, req, head, deadline, on_chunk)
                                 : exchange(*conn_->plain, req, head, deadline, on_chunk);
    if (outcome.stale && reused && attempt == 0) {
      // The server closed the idle keep-alive connection just as we used it.
      logDebug(kComponent) << "keep-alive connection to " << t.authority
                           << " was closed by the server; reconnecting";
      closeConnection();
      continue;
    }
    return std::move(outcome.result);
  }
}

Result<bhttp::request<bhttp::string_body>> HttpClient::Impl::buildRequest(
    const Target& t, const HttpClientRequest& request) const {
  if (!isToken(request.method)) {
    return makeError(ErrorCode::kInvalidArgument, "bad method \"" + request.method + "\"");
  }
  bhttp::request<bhttp::string_body> req;
  req.version(11);
  const bhttp::verb verb = bhttp::string_to_verb(request.method);
  if (verb == bhttp::verb::unknown) {
    req.method_string(request.method);
  } else {
    req.method(verb);
  }
  req.target(t.target);
  for (const auto& [name, value] : request.headers) {
    if (!isToken(name) || !isFieldValue(value)) {
      return makeError(ErrorCode::kInvalidArgument, "bad header \"" + name + "\"");
    }
    // Framing is the client's job: it sets Content-Length from the body.
    if (beast::iequals(name, "Content-Length") || beast::iequals(name, "Transfer-Encoding")) {
      continue;
    }
    req.insert(name, value);
  }
  if (req.find(bhttp::field::host) == req.end()) req.set(bhttp::field::host, t.host_header);
  if (req.find(bhttp::field::user_agent) == req.end() && !options_.user_agent.empty()) {
    req.set(bhttp::field::user_agent, options_.user_agent);
  }
  if (options_.accept_gzip && req.find(bhttp::field::accept_encoding) == req.end()) {
    req.set(bhttp::field::accept_encoding, "gzip");
  }
  if (!t.userinfo.empty() && req.find(bhttp::field::authorization) == req.end()) {
    req.set(bhttp::field::authorization, "Basic " + base64(t.userinfo));
  }
  if (!options_.keep_alive) req.set(bhttp::field::connection, "close");
  req.body() = request.body;
  const bool wants_length = !request.body.empty() || verb == bhttp::verb::post ||
                            verb == bhttp::verb::put || verb == bhttp::verb::patch;
  if (wants_length) req.content_length(request.body.size());
  return req;
}

Result<std::vector<tcp::endpoint>> HttpClient::Impl::resolve(const Target& t, Deadline until) {
  if (t.address) return std::vector<tcp::endpoint>{tcp::endpoint(*t.address, t.port)};
  // The handler owns its state: when the lookup outlives `until`, it stays
  // queued (getaddrinfo cannot be interrupted) and runs harmlessly later.
  struct State {
    bool done = false;
    beast::error_code ec;
    std::vector<tcp::endpoint> endpoints;
  };
  auto state = std::make_shared<State>();
  resolver_.async_resolve(t.host, std::to_string(t.port),
                          [state](beast::error_code ec, const tcp::resolver::results_type& r) {
                            state->ec = ec;
                            for (const auto& entry : r)
                              state->endpoints.push_back(entry.endpoint());
                            state->done = true;
                          });
  while (!state->done) {
    if (ioc_.stopped()) ioc_.restart();
    if (ioc_.run_one_until(until) == 0 && !state->done && SteadyClock::now() >= until) break;
  }
  if (!state->done) {
    resolver_.cancel();
    return makeError(ErrorCode::kTimeout, "resolving " + t.host + " timed out");
  }
  if (state->ec || state->endpoints.empty()) {
    return makeError(ErrorCode::kUnavailable,
                     "resolving " + t.host + ": " +
                         (state->ec ? state->ec.message() : std::string("no address")));
  }
  return std::move(state->endpoints);
}

Result<void> HttpClient::Impl::connect(const Target& t, const std::string& key, Deadline deadline) {
  const Deadline connect_limit = SteadyClock::now() + options_.connect_timeout;
  const bool by_connect_timeout = connect_limit < deadline;
  const Deadline until = std::min(deadline, connect_limit);
  auto timedOut = [&](std::string_view what) {
    return makeError(
        ErrorCode::kTimeout,
        std::string(what) + " " + t.authority + " timed out" +
            (by_connect_timeout
                 ? " (connect_timeout " + std::to_string(options_.connect_timeout.count()) + " ms)"
                 : " (deadline)"));
  };

  auto endpoints = resolve(t, until);
  if (!endpoints) return tl::unexpected(endpoints.error());

  auto conn = std::make_unique<Connection>();
  conn->key = key;
  std::string verify_name;
  if (t.tls) {
    auto ctx = tls_.context();
    if (!ctx) return tl::unexpected(ctx.error());
    conn->tls_context = *ctx;  // kept while the connection lives, across a reload
    conn->tls.emplace(ioc_, **ctx);
  } else {
    conn->plain.emplace(ioc_);
  }
  // From here on run() may close conn_ at its backstop, so hand it over now.
  conn_ = std::move(conn);
  beast::tcp_stream& stream = conn_->tcp();
  stream.expires_at(until);
  beast::error_code ec =
      run(until, [&](auto handler) { stream.async_connect(*endpoints, std::move(handler)); });
  if (ec == beast::error::timeout) return timedOut("connecting to");
  if (ec) {
    return makeError(ErrorCode::kUnavailable, "connecting to " + t.authority + ": " + ec.message());
  }
  beast::error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  if (!conn_->tls) return {};

  const TlsOptions& tls = options_.tls;
  const std::string& name = tls.server_name.empty() ? t.host : tls.server_name;
  SSL* ssl_handle = conn_->tls->native_handle();
  boost::system::error_code not_ip;
  net::ip::make_address(name, not_ip);
  // RFC 6066: SNI carries host names only, never IP addresses.
  if (not_ip && !SSL_set_tlsext_host_name(ssl_handle, name.c_str())) {
    return makeError(ErrorCode::kInternal, "tls: cannot set SNI " + name);
  }
  if (!tls.insecure_skip_verify) {
    // OpenSSL's own name check (rather than a verify callback) reports the
    // precise X509_V_ERR_* code, which the error message spells out.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
    const int set = not_ip ? X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0)
                           : X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
    if (set != 1) return makeError(ErrorCode::kInternal, "tls: cannot set the name to verify");
    if (not_ip) X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  }
  ec = run(until, [&](auto handler) {
    conn_->tls->async_handshake(ssl::stream_base::client, std::move(handler));
  });
  if (ec == beast::error::timeout) return timedOut("TLS handshake with");
  if (ec) {
    const long verify = SSL_get_verify_result(ssl_handle);
    if (verify != X509_V_OK) {
      return makeError(ErrorCode::kUnavailable,
                       "TLS handshake with " + t.authority + ": certificate verify failed: " +
                           describeVerifyFailure(verify, tls.ca_file, name));
    }
    return makeError(ErrorCode::kUnavailable,
                     "TLS handshake with " + t.authority + ": " + ec.message());
  }
  return {};
}

// Whether the idle keep-alive connection can carry the next request: it is
// open and has nothing to read (no EOF, no stray bytes).
bool HttpClient::Impl::idleConnectionUsable() {
  beast::tcp_stream& stream = conn_->tcp();
  if (!stream.socket().is_open()) return false;
  if (conn_->tls && SSL_pending(conn_->tls->native_handle()) > 0) return false;
  pollfd fd{};
  fd.fd = stream.socket().native_handle();
  fd.events = POLLIN;
  return ::poll(&fd, 1, 0) == 0;
}

// What a failed read of the response header means; `nothing_read`: not a
// byte of the response arrived (a reused connection the server had closed).
HttpClient::Impl::Attempt HttpClient::Impl::headerFailure(beast::error_code ec, bool nothing_read,
                                                          std::uint64_t content_length,
                                                          const std::string& authority) const {
  if (ec == beast::error::timeout) {
    return {makeError(ErrorCode::kTimeout, "deadline exceeded waiting for the response")};
  }
  if (ec == bhttp::error::body_limit) {
    return {makeError(ErrorCode::kResourceExhausted,
                      "response body (Content-Length " + std::to_string(content_length) +
                          ") exceeds max_response_bytes (" +
                          std::to_string(options_.max_response_bytes) + ")")};
  }
  if (ec == bhttp::error::header_limit) {
    return {makeError(ErrorCode::kResourceExhausted, "response header too large")};
  }
  if (isParseError(ec) && ec != bhttp::error::partial_message &&
      ec != bhttp::error::end_of_stream) {
    return {makeError(ErrorCode::kDataLoss, "malformed response header: " + ec.message())};
  }
  if (nothing_read && isConnectionClosed(ec)) {
    return {makeError(ErrorCode::kUnavailable,
                      "connection to " + authority + " closed before a response"),
            true};
  }
  return {makeError(ErrorCode::kUnavailable,
                    "reading the response header from " + authority + ": " + ec.message())};
}

// What a failed read of the response body means, after `delivered` bytes;
// `content_length` as the response gave it ("" when it gave none).
HttpClient::Impl::Attempt HttpClient::Impl::bodyFailure(beast::error_code ec, std::size_t delivered,
                                                        const std::string& content_length,
                                                        const std::string& authority) const {
  const std::string received = std::to_string(delivered) + " bytes received";
  if (ec == beast::error::timeout) {
    return {makeError(ErrorCode::kTimeout,
                      "deadline exceeded while reading the response body (" + received + ")")};
  }
  if (ec == bhttp::error::body_limit) {
    return {makeError(ErrorCode::kResourceExhausted,
                      "response body exceeds max_response_bytes (" +
                          std::to_string(options_.max_response_bytes) + ")")};
  }
  if (ec == bhttp::error::partial_message || isConnectionClosed(ec)) {
    return {makeError(
        ErrorCode::kDataLoss,
        "response body truncated: the connection closed after " + received +
            (content_length.empty() ? std::string() : " of Content-Length " + content_length))};
  }
  if (isParseError(ec)) {
    return {makeError(ErrorCode::kDataLoss, "malformed response body: " + ec.message())};
  }
  return {makeError(ErrorCode::kUnavailable,
                    "reading the response body from " + authority + ": " + ec.message())};
}

template <class Stream>
HttpClient::Impl::Attempt HttpClient::Impl::exchange(Stream& stream,
                                                     bhttp::request<bhttp::string_body>& request,
                                                     bool head, Deadline deadline,
                                                     const BodyChunkHandler* on_chunk) {
  beast::tcp_stream& tcp_stream = conn_->tcp();
  const std::string& authority = conn_->key;
  auto timedOut = [&](std::string_view what) -> Attempt {
    return {makeError(ErrorCode::kTimeout, "deadline exceeded " + std::string(what))};
  };
  tcp_stream.expires_at(deadline);
  beast::error_code ec =
      run(deadline, [&](auto handler) { bhttp::async_write(stream, request, std::move(handler)); });
  if (ec == beast::error::timeout) return timedOut("while sending the request");
  if (ec) {
    return {makeError(ErrorCode::kUnavailable,
                      "sending the request to " + authority + ": " + ec.message()),
            isConnectionClosed(ec)};
  }

  beast::flat_buffer buffer;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser;
  // The raw (possibly gzip) body may be a little larger than the decoded
  // one the limit is about: allow deflate's worst-case overhead.
  const std::size_t limit = options_.max_response_bytes;
  const std::size_t slack = limit / 1024 + 64 * 1024;
  const std::uint64_t raw_limit = limit > std::numeric_limits<std::uint64_t>::max() - slack
                                      ? std::numeric_limits<std::uint64_t>::max()
                                      : static_cast<std::uint64_t>(limit + slack);
  for (;;) {
    parser.emplace();
    parser->header_limit(kHeaderLimit);
    parser->body_limit(raw_limit);
    if (head) parser->skip(true);
    ec = run(deadline, [&](auto handler) {
      bhttp::async_read_header(stream, buffer, *parser, std::move(handler));
    });
    if (ec) {
      // content_length() is defined (and asserted) only once the header is
      // complete, as it is when the error is body_limit.
      const std::uint64_t content_length =
          parser->is_header_done() ? parser->content_length().value_or(0) : 0;
      return headerFailure(ec, !parser->got_some() && buffer.size() == 0, content_length,
                           authority);
    }
    const int status = parser->get().result_int();
    // Interim responses (100 Continue, 103 Early Hints) precede the real one.
    if (status >= 100 && status < 200 && status != 101) continue;
    break;
  }

  HttpClientResponse response;
  auto& message = parser->get();
  response.status = message.result_int();
  for (const auto& field : message) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  const bool gzip =
      options_.accept_gzip && !head && isGzipCoding(message[bhttp::field::content_encoding]);
  BodySink sink(limit, gzip, on_chunk, &response.body);
  if (!gzip && !on_chunk && parser->content_length()) {
    response.body.reserve(
        static_cast<std::size_t>(std::min<std::uint64_t>(*parser->content_length(), limit)));
  }
  char* chunk = read_buffer_.get();
  while (!parser->is_done()) {
    message.body().data = chunk;
    message.body().size = kReadChunk;
    // read_some, not read: read fills the buffer before returning, so a
    // streamed body (a Kubernetes watch) would reach on_chunk only every
    // 64 KiB; each chunk must reach it as it arrives.
    ec = run(deadline, [&](auto handler) {
      bhttp::async_read_some(stream, buffer, *parser, std::move(handler));
    });
    if (ec == bhttp::error::need_buffer) ec = {};
    const std::size_t got = kReadChunk - message.body().size;
    if (got > 0) {
      if (auto put = sink.put(std::string_view(chunk, got)); !put) {
        handler_error_ = sink.handlerFailed();
        return {tl::unexpected(put.error())};
      }
    }
    if (ec == ssl::error::stream_truncated && parser->need_eof()) {
      // Many servers end a close-delimited body without TLS close_notify.
      parser->put_eof(ec);
      if (!ec && parser->is_done()) break;
    }
    if (!ec) continue;
    return bodyFailure(ec, sink.delivered(),
                       message.has_content_length()
                           ? std::string(message[bhttp::field::content_length])
                           : std::string(),
                       authority);
  }
  if (auto finished = sink.finish(); !finished) return {tl::unexpected(finished.error())};

  const bool reusable =
      options_.keep_alive && message.keep_alive() && buffer.size() == 0 && response.status != 101;
  if (!reusable) closeConnection();
  return {std::move(response)};
}

HttpClient::HttpClient(HttpClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpClient::~HttpClient() = default;

Result<HttpClientResponse> HttpClient::send(const HttpClientRequest& request, Deadline deadline) {
  return impl_->send(request, deadline, nullptr);
}

void HttpClient::cancel() { impl_->cancel(); }

Result<HttpClientResponse> HttpClient::send(const HttpClientRequest& request, Deadline deadline,
                                            const BodyChunkHandler& on_chunk) {
  return impl_->send(request, deadline, on_chunk ? &on_chunk : nullptr);
}

}  // namespace kubemetrics
