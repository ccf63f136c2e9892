#include "kubemetrics/http_client.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/http/content_encoding.h"
#include "support/process.h"
#include "unit/common/http/client_test_support.h"

// HttpClient against cpp-httplib servers on 127.0.0.1 (the well-behaved
// peers; TLS in http_client_tls_test.cc) and a raw-socket server for the
// misbehaving ones (closing early, never answering, truncating).

namespace kubemetrics {
namespace {

using namespace std::chrono_literals;
using testing::get;
using testing::PortRecorder;
using testing::ServerRunner;
using testing::soon;

// A TCP server on 127.0.0.1 that runs `script` on each accepted connection
// (in its own thread), for peers httplib cannot imitate.
class RawServer {
 public:
  using Script = std::function<void(int fd, int index, const std::atomic<bool>& stopping)>;

  explicit RawServer(Script script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0) {
      ADD_FAILURE() << "RawServer: cannot listen";
      return;
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }

  ~RawServer() {
    stopping_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (std::thread& t : connections_) t.join();
    ::close(listen_fd_);
  }

  int port() const { return port_; }
  int connections() const { return accepted_.load(); }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // Reads one request head (up to the blank line); "" when the peer closed.
  static std::string readRequestHead(int fd, std::chrono::milliseconds timeout = 5000ms) {
    std::string data;
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (data.find("\r\n\r\n") == std::string::npos) {
      pollfd p{fd, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return "";
      char buffer[4096];
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return "";
      data.append(buffer, static_cast<std::size_t>(n));
    }
    return data;
  }

  static void writeAll(int fd, const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }

 private:
  void acceptLoop() {
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      const int index = accepted_++;
      std::lock_guard<std::mutex> lock(mu_);
      connections_.emplace_back([this, fd, index] {
        script_(fd, index, stopping_);
        ::close(fd);
      });
    }
  }

  Script script_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> connections_;
};

std::string pattern(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

std::string gzipped(const std::string& data) {
  auto compressed = http_internal::gzipCompress(data);
  EXPECT_TRUE(compressed.has_value());
  return compressed.value_or("");
}

// --- plain HTTP ---------------------------------------------------------

TEST(HttpClientTest, GetSendsHeadersAndQuery) {
  httplib::Server server;
  std::string seen_ua, seen_custom, seen_accept, seen_host, seen_query;
  server.Get("/path", [&](const httplib::Request& req, httplib::Response& res) {
    seen_ua = req.get_header_value("User-Agent");
    seen_custom = req.get_header_value("X-Custom");
    seen_accept = req.get_header_value("Accept-Encoding");
    seen_host = req.get_header_value("Host");
    seen_query = req.get_param_value("q") + "|" + req.get_param_value("n");
    res.set_header("X-Reply", "yes");
    res.set_content("hello", "application/octet-stream");
  });
  ServerRunner runner(server);
  HttpClient client;
  HttpClientRequest request = get(runner.url("/path?q=a%20b&n=2"));
  request.headers = {{"X-Custom", "v1"}};
  auto response = client.send(request, soon());
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello");
  EXPECT_EQ(response->header("x-reply"), "yes");
  EXPECT_EQ(response->header("X-Missing"), "");
  EXPECT_EQ(seen_ua, "kubemetrics-agent/0.1.0");
  EXPECT_EQ(seen_custom, "v1");
  EXPECT_EQ(seen_accept, "gzip");
  EXPECT_EQ(seen_host, "127.0.0.1:" + std::to_string(runner.port()));
  EXPECT_EQ(seen_query, "a b|2");
}

TEST(HttpClientTest, PostSendsBodyWithContentLength) {
  httplib::Server server;
  std::string seen_body, seen_type, seen_length;
  server.Post("/write", [&](const httplib::Request& req, httplib::Response& res) {
    seen_body = req.body;
    seen_type = req.get_header_value("Content-Type");
    seen_length = req.get_header_value("Content-Length");
    res.status = 204;
  });
  ServerRunner runner(server);
  HttpClientOptions options;
  options.accept_gzip = false;
  options.user_agent = "custom/1";
  HttpClient client(options);
  HttpClientRequest request;
  request.method = "POST";
  request.url = runner.url("/write");
  request.headers = {{"Content-Type", "application/x-protobuf"}};
  request.body = std::string("a\0b", 3) + pattern(100000);
  auto response = client.send(request, soon());
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->status, 204);
  EXPECT_EQ(seen_body, request.body);
  EXPECT_EQ(seen_type, "application/x-protobuf");
  EXPECT_EQ(seen_length, std::to_string(request.body.size()));
}

TEST(HttpClientTest, CallerHeadersOverrideDefaults) {
  httplib::Server server;
  std::string seen_ua, seen_accept;
  server.Get("/", [&](const httplib::Request& req, httplib::Response& res) {
    seen_ua = req.get_header_value("User-Agent");
    seen_accept = req.get_header_value("Accept-Encoding");
    res.set_content("ok", "text/plain");
  });
  ServerRunner runner(server);
  HttpClient client;
  HttpClientRequest request = get(runner.url("/"));
  request.headers = {{"user-agent", "mine"}, {"Accept-Encoding", "identity"}};
  auto response = client.send(request, soon());
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(seen_ua, "mine");
  EXPECT_EQ(seen_accept, "identity");
  EXPECT_EQ(response->body, "ok");
}

TEST(HttpClientTest, ErrorStatusesArePassedThrough) {
  httplib::Server server;
  server.Get("/missing", [](const httplib::Request&, httplib::Response& res) {
    res.status = 404;
    res.set_content("not here", "text/plain");
  });
  server.Get("/broken", [](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content("boom", "text/plain");
  });
  ServerRunner runner(server);
  HttpClient client;
  auto missing = client.send(get(runner.url("/missing")), soon());
  ASSERT_TRUE(missing.has_value()) << missing.error().message();
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body, "not here");
  auto broken = client.send(get(runner.url("/broken")), soon());
  ASSERT_TRUE(broken.has_value()) << broken.error().message();
  EXPECT_EQ(broken->status, 500);
  EXPECT_EQ(broken->body, "boom");
}

TEST(HttpClientTest, HeadResponseHasNoBody) {
  httplib::Server server;
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(pattern(1000), "application/octet-stream");
  });
  ServerRunner runner(server);
  HttpClient client;
  HttpClientRequest request = get(runner.url("/"));
  request.method = "HEAD";
  auto head = client.send(request, soon());
  ASSERT_TRUE(head.has_value()) << head.error().message();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  // The connection stays in step: the next request works.
  auto next = client.send(get(runner.url("/")), soon());
  ASSERT_TRUE(next.has_value()) << next.error().message();
  EXPECT_EQ(next->body, pattern(1000));
}

// --- keep-alive --------------------------------------------------------------

TEST(HttpClientTest, KeepAliveReusesTheConnection) {
  httplib::Server server;
  PortRecorder ports;
  server.Get("/", [&](const httplib::Request& req, httplib::Response& res) {
    ports.record(req.remote_port);
    res.set_content("x", "text/plain");
  });
  ServerRunner runner(server);
  HttpClient client;
  for (int i = 0; i < 5; ++i) {
    auto response = client.send(get(runner.url("/")), soon());
    ASSERT_TRUE(response.has_value()) << response.error().message();
  }
  EXPECT_EQ(ports.distinct(), 1u);
}

TEST(HttpClientTest, NoKeepAliveOpensAConnectionPerRequest) {
  httplib::Server server;
  PortRecorder ports;
  std::string seen_connection;
  server.Get("/", [&](const httplib::Request& req, httplib::Response& res) {
    ports.record(req.remote_port);
    seen_connection = req.get_header_value("Connection");
    res.set_content("x", "text/plain");
  });
  ServerRunner runner(server);
  HttpClientOptions options;
  options.keep_alive = false;
  HttpClient client(options);
  for (int i = 0; i < 3; ++i) {
    auto response = client.send(get(runner.url("/")), soon());
    ASSERT_TRUE(response.has_value()) << response.error().message();
  }
  EXPECT_EQ(ports.distinct(), 3u);
  EXPECT_EQ(seen_connection, "close");
}

const std::string kOkResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

TEST(HttpClientTest, ReconnectsAfterTheServerClosedTheIdleConnection) {
  // Each connection answers one request (without Connection: close) and
  // then closes, as a server whose keep-alive timeout passed would.
  RawServer server([](int fd, int, const std::atomic<bool>&) {
    if (!RawServer::readRequestHead(fd).empty()) RawServer::writeAll(fd, kOkResponse);
  });
  HttpClient client;
  for (int i = 0; i < 3; ++i) {
    auto response = client.send(get(server.url("/")), soon());
    ASSERT_TRUE(response.has_value()) << i << ": " << response.error().message();
    EXPECT_EQ(response->body, "ok");
    std::this_thread::sleep_for(20ms);  // let the close arrive
  }
  EXPECT_EQ(server.connections(), 3);
}

TEST(HttpClientTest, RetriesOnceWhenAReusedConnectionClosesBeforeAnswering) {
  // Connection 0 answers the first request, then reads the second and
  // closes without a byte: the race of a keep-alive timeout.
  RawServer server([](int fd, int index, const std::atomic<bool>&) {
    if (RawServer::readRequestHead(fd).empty()) return;
    if (index == 0) {
      RawServer::writeAll(fd, kOkResponse);
      RawServer::readRequestHead(fd);
      return;
    }
    RawServer::writeAll(fd, kOkResponse);
  });
  HttpClient client;
  auto first = client.send(get(server.url("/")), soon());
  ASSERT_TRUE(first.has_value()) << first.error().message();
  auto second = client.send(get(server.url("/")), soon());
  ASSERT_TRUE(second.has_value()) << second.error().message();
  EXPECT_EQ(second->body, "ok");
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClientTest, FreshConnectionClosedBeforeAnswerIsUnavailable) {
  RawServer server([](int fd, int, const std::atomic<bool>&) { RawServer::readRequestHead(fd); });
  HttpClient client;
  auto response = client.send(get(server.url("/")), soon());
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kUnavailable) << response.error().message();
  EXPECT_EQ(server.connections(), 1);  // no retry on a new connection
}

// --- gzip, streaming, limits ----------------------------------------------------

TEST(HttpClientTest, DecodesGzipResponses) {
  httplib::Server server;
  const std::string text = pattern(300000);
  // httplib compresses text/* itself when the client accepts gzip.
  server.Get("/auto", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(text, "text/plain");
  });
  server.Get("/manual", [&](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Encoding", "gzip");
    res.set_content(gzipped(text) + gzipped("tail"), "application/octet-stream");
  });
  ServerRunner runner(server);
  HttpClient client;
  auto automatic = client.send(get(runner.url("/auto")), soon());
  ASSERT_TRUE(automatic.has_value()) << automatic.error().message();
  EXPECT_EQ(automatic->header("Content-Encoding"), "gzip");
  EXPECT_EQ(automatic->body, text);
  auto manual = client.send(get(runner.url("/manual")), soon());
  ASSERT_TRUE(manual.has_value()) << manual.error().message();
  EXPECT_EQ(manual->body, text + "tail");  // two gzip members

  std::string streamed;
  int pieces = 0;
  auto chunked = client.send(get(runner.url("/auto")), soon(), [&](std::string_view chunk) {
    streamed.append(chunk);
    ++pieces;
    return Result<void>{};
  });
  ASSERT_TRUE(chunked.has_value()) << chunked.error().message();
  EXPECT_EQ(chunked->body, "");
  EXPECT_EQ(streamed, text);
  EXPECT_GT(pieces, 1);
}

TEST(HttpClientTest, GzipIsLeftAloneWhenNotAccepted) {
  httplib::Server server;
  const std::string encoded = gzipped("plain");
  server.Get("/", [&](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Encoding", "gzip");
    res.set_content(encoded, "application/octet-stream");
  });
  ServerRunner runner(server);
  HttpClientOptions options;
  options.accept_gzip = false;
  HttpClient client(options);
  auto response = client.send(get(runner.url("/")), soon());
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->body, encoded);
}

TEST(HttpClientTest, CorruptOrTruncatedGzipIsDataLoss) {
  httplib::Server server;
  const std::string good = gzipped(pattern(10000));
  server.Get("/corrupt", [&](const httplib::Request&, httplib::Response& res) {
    std::string bad = good;
    for (std::size_t i = 20; i < 60; ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    res.set_header("Content-Encoding", "gzip");
    res.set_content(bad, "application/octet-stream");
  });
  server.Get("/garbage", [&](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Encoding", "gzip");
    res.set_content("this is not gzip at all", "application/octet-stream");
  });
  server.Get("/truncated", [&](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Encoding", "gzip");
    res.set_content(good.substr(0, good.size() / 2), "application/octet-stream");
  });
  ServerRunner runner(server);
  HttpClient client;
  for (const char* path : {"/corrupt", "/garbage", "/truncated"}) {
    auto response = client.send(get(runner.url(path)), soon());
    ASSERT_FALSE(response.has_value()) << path;
    EXPECT_EQ(response.error().code(), ErrorCode::kDataLoss) << response.error().message();
    EXPECT_NE(response.error().message().find("gzip"), std::string::npos)
        << response.error().message();
    auto streamed =
        client.send(get(runner.url(path)), soon(), [](std::string_view) { return Result<void>{}; });
    ASSERT_FALSE(streamed.has_value()) << path;
    EXPECT_EQ(streamed.error().code(), ErrorCode::kDataLoss) << streamed.error().message();
  }
}

TEST(HttpClientTest, BodyOverTheLimitIsResourceExhausted) {
  httplib::Server server;
  const std::string big = pattern(5000);
  server.Get("/length", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(big, "application/octet-stream");
  });
  server.Get("/chunked", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/octet-stream",
                                     [&](std::size_t offset, httplib::DataSink& sink) {
                                       if (offset < 20000) {
                                         sink.write(big.data(), 500);
                                       } else {
                                         sink.done();
                                       }
                                       return true;
                                     });
  });
  // 5000 bytes that gzip to a few dozen: the limit is on the decoded size.
  const std::string bomb = gzipped(std::string(5000, 'z'));
  server.Get("/gzip", [&](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Encoding", "gzip");
    res.set_content(bomb, "application/octet-stream");
  });
  server.Get("/exact", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(big.substr(0, 1000), "application/octet-stream");
  });
  ServerRunner runner(server);
  HttpClientOptions options;
  options.max_response_bytes = 1000;
  HttpClient client(options);
  for (const char* path : {"/length", "/chunked", "/gzip"}) {
    auto whole = client.send(get(runner.url(path)), soon());
    ASSERT_FALSE(whole.has_value()) << path;
    EXPECT_EQ(whole.error().code(), ErrorCode::kResourceExhausted) << whole.error().message();
    std::size_t received = 0;
    auto streamed = client.send(get(runner.url(path)), soon(), [&](std::string_view chunk) {
      received += chunk.size();
      return Result<void>{};
    });
    ASSERT_FALSE(streamed.has_value()) << path;
    EXPECT_EQ(streamed.error().code(), ErrorCode::kResourceExhausted) << streamed.error().message();
    EXPECT_LE(received, 1000u);
  }
  auto exact = client.send(get(runner.url("/exact")), soon());
  ASSERT_TRUE(exact.has_value()) << exact.error().message();
  EXPECT_EQ(exact->body.size(), 1000u);
}

TEST(HttpClientTest, StreamingHandlerGetsEveryByteInOrder) {
  httplib::Server server;
  const std::string data = pattern(2 * 1024 * 1024 + 17);
  server.Get("/", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider(
        "application/octet-stream", [&](std::size_t offset, httplib::DataSink& sink) {
          if (offset < data.size()) {
            sink.write(data.data() + offset, std::min<std::size_t>(7777, data.size() - offset));
          } else {
            sink.done();
          }
          return true;
        });
  });
  ServerRunner runner(server);
  HttpClient client;
  std::string received;
  auto response = client.send(get(runner.url("/")), soon(), [&](std::string_view chunk) {
    received.append(chunk);
    return Result<void>{};
  });
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "");
  EXPECT_TRUE(received == data) << received.size() << " bytes instead of " << data.size();
  // Same through the whole-body path.
  auto whole = client.send(get(runner.url("/")), soon());
  ASSERT_TRUE(whole.has_value()) << whole.error().message();
  EXPECT_TRUE(whole->body == data);
}

TEST(HttpClientTest, HandlerErrorAbortsTheTransfer) {
  httplib::Server server;
  server.Get("/", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(pattern(1 << 20), "application/octet-stream");
  });
  ServerRunner runner(server);
  HttpClient client;
  int calls = 0;
  auto response = client.send(get(runner.url("/")), soon(), [&](std::string_view) -> Result<void> {
    ++calls;
    return makeError(ErrorCode::kInvalidArgument, "parser says no");
  });
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(response.error().message(), "parser says no");
  EXPECT_EQ(calls, 1);
  // The half-read connection was dropped, not reused.
  auto next = client.send(get(runner.url("/")), soon());
  ASSERT_TRUE(next.has_value()) << next.error().message();
  EXPECT_EQ(next->body.size(), 1u << 20);
}

TEST(HttpClientTest, TruncatedBodyIsDataLoss) {
  RawServer server([](int fd, int, const std::atomic<bool>&) {
    if (RawServer::readRequestHead(fd).empty()) return;
    RawServer::writeAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
  });
  HttpClient client;
  auto response = client.send(get(server.url("/")), soon());
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kDataLoss) << response.error().message();
  EXPECT_NE(response.error().message().find("truncated"), std::string::npos);
  auto streamed =
      client.send(get(server.url("/")), soon(), [](std::string_view) { return Result<void>{}; });
  ASSERT_FALSE(streamed.has_value());
  EXPECT_EQ(streamed.error().code(), ErrorCode::kDataLoss) << streamed.error().message();
}

TEST(HttpClientTest, TruncatedChunkedBodyIsDataLoss) {
  RawServer server([](int fd, int, const std::atomic<bool>&) {
    if (RawServer::readRequestHead(fd).empty()) return;
    RawServer::writeAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  });
  HttpClient client;
  auto response = client.send(get(server.url("/")), soon());
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kDataLoss) << response.error().message();
}

TEST(HttpClientTest, CloseDelimitedBodyIsRead) {
  RawServer server([](int fd, int, const std::atomic<bool>&) {
    if (RawServer::readRequestHead(fd).empty()) return;
    RawServer::writeAll(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
  });
  HttpClient client;
  auto response = client.send(get(server.url("/")), soon());
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->body, "until the end");
}

// --- connection errors and deadlines ----------------------------------------------

TEST(HttpClientTest, ConnectionRefusedIsUnavailableAndNamesTheAddress) {
  const int port = testing::freeLoopbackPort();
  HttpClient client;
  auto response = client.send(get("http://127.0.0.1:" + std::to_string(port) + "/metrics"), soon());
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(response.error().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << response.error().message();
  EXPECT_TRUE(response.error().retryable());
}

TEST(HttpClientTest, ServerThatNeverAnswersTimesOutAtTheDeadline) {
  RawServer server([](int fd, int, const std::atomic<bool>& stopping) {
    RawServer::readRequestHead(fd);
    while (!stopping) std::this_thread::sleep_for(10ms);
  });
  HttpClient client;
  const auto start = std::chrono::steady_clock::now();
  auto response = client.send(get(server.url("/")), deadlineIn(300ms));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kTimeout) << response.error().message();
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 1300ms);
}

TEST(HttpClientTest, CancelFromAnotherThreadEndsTheRequestInProgress) {
  std::atomic<bool> asked{false};
  RawServer server([&](int fd, int, const std::atomic<bool>& stopping) {
    RawServer::readRequestHead(fd);
    asked = true;
    while (!stopping) std::this_thread::sleep_for(10ms);
  });
  HttpClient client;
  auto pending = std::async(std::launch::async, [&] {
    return client.send(get(server.url("/")), deadlineIn(60s));  // far past the test
  });
  for (int i = 0; i < 5000 && !asked; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(asked);
  client.cancel();
  // Bounded against a hang only: the cancel, not a deadline, ends it.
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  auto response = pending.get();
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kUnavailable) << response.error().message();
  EXPECT_NE(response.error().message().find("cancelled"), std::string::npos)
      << response.error().message();
}

TEST(HttpClientTest, CancelBetweenRequestsDoesNotTouchTheNextOne) {
  httplib::Server server;
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  ServerRunner runner(server);
  HttpClient client;
  ASSERT_TRUE(client.send(get(runner.url("/")), soon()).has_value());
  client.cancel();  // nothing in progress
  auto response = client.send(get(runner.url("/")), soon());
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->body, "ok");
}

TEST(HttpClientTest, SlowBodyTimesOutAtTheDeadline) {
  RawServer server([](int fd, int, const std::atomic<bool>& stopping) {
    if (RawServer::readRequestHead(fd).empty()) return;
    RawServer::writeAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc");
    while (!stopping) std::this_thread::sleep_for(10ms);
  });
  HttpClient client;
  const auto start = std::chrono::steady_clock::now();
  auto response = client.send(get(server.url("/")), deadlineIn(300ms),
                              [](std::string_view) { return Result<void>{}; });
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kTimeout) << response.error().message();
  EXPECT_LT(took, 1300ms);
}

TEST(HttpClientTest, PastDeadlineFailsWithoutConnecting) {
  RawServer server([](int, int, const std::atomic<bool>&) {});
  HttpClient client;
  auto response = client.send(get(server.url("/")), SteadyClock::now() - 1ms);
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kTimeout);
  EXPECT_EQ(server.connections(), 0);
}

// A black-holed connect (connect_timeout) cannot be produced on loopback,
// where a connect succeeds or is refused at once; not tested here.

TEST(HttpClientTest, MalformedUrlsAreInvalidArgument) {
  HttpClient client;
  for (const char* url : {"", "not a url", "127.0.0.1:8080/metrics", "ftp://127.0.0.1/x", "http://",
                          "http://127.0.0.1:99999/", "http://127.0.0.1:abc/", "http://[::1/"}) {
    auto response = client.send(get(url), soon());
    ASSERT_FALSE(response.has_value()) << url;
    EXPECT_EQ(response.error().code(), ErrorCode::kInvalidArgument)
        << url << ": " << response.error().message();
  }
  HttpClientRequest bad_header = get("http://127.0.0.1:1/");
  bad_header.headers = {{"X-Evil", "a\r\nInjected: yes"}};
  auto response = client.send(bad_header, soon());
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kInvalidArgument);
}

// --- GzipDecoder -------------------------------------------------------------------

TEST(GzipDecoderTest, DecodesByteByByte) {
  const std::string text = pattern(100000);
  const std::string encoded = gzipped(text);
  http_internal::GzipDecoder decoder;
  std::string out;
  for (char c : encoded) {
    auto fed = decoder.feed(std::string_view(&c, 1), [&](std::string_view piece) {
      out.append(piece);
      return Result<void>{};
    });
    ASSERT_TRUE(fed.has_value()) << fed.error().message();
  }
  EXPECT_TRUE(decoder.finish().has_value());
  EXPECT_TRUE(out == text);
}

TEST(GzipDecoderTest, WholeBufferHelper) {
  auto ok = http_internal::gzipDecompress(gzipped("abc"), 10);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, "abc");
  auto big = http_internal::gzipDecompress(gzipped(std::string(100, 'x')), 10);
  ASSERT_FALSE(big.has_value());
  EXPECT_EQ(big.error().code(), ErrorCode::kResourceExhausted);
  auto empty = http_internal::gzipDecompress("", 10);
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(*empty, "");
}

}  // namespace
}  // namespace kubemetrics
