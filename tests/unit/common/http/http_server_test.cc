#include "common/http/http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <prometheus/registry.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/gzip.h"

// Most tests drive the server with a small Boost.Beast client, which can send
// malformed and pipelined bytes and watch one connection's lifetime; the
// HttpServerHttplibTest cases check interoperability with cpp-httplib.

namespace kubemetrics {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Response = bhttp::response<bhttp::string_body>;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr auto kIoTimeout = std::chrono::seconds(5);

// One client connection to 127.0.0.1. Every operation is asynchronous under
// a tcp_stream deadline, so a misbehaving server fails a test instead of
// hanging it.
class TestClient {
 public:
  explicit TestClient(unsigned short port) : stream_(ioc_) {
    stream_.expires_after(kIoTimeout);
    stream_.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                          [this](beast::error_code ec) { connect_error_ = ec; });
    run();
  }

  bool connected() const { return !connect_error_; }

  beast::error_code send(bhttp::verb method, const std::string& target,
                         const std::string& body = "", const Headers& headers = {},
                         unsigned version = 11) {
    bhttp::request<bhttp::string_body> request(method, target, version);
    request.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) request.set(name, value);
    if (!body.empty() || method == bhttp::verb::post) {
      request.body() = body;
      request.prepare_payload();
    }
    beast::error_code result;
    stream_.expires_after(kIoTimeout);
    bhttp::async_write(stream_, request, [&](beast::error_code ec, std::size_t) { result = ec; });
    run();
    return result;
  }

  beast::error_code sendRaw(const std::string& bytes) {
    beast::error_code result;
    stream_.expires_after(kIoTimeout);
    net::async_write(stream_, net::buffer(bytes),
                     [&](beast::error_code ec, std::size_t) { result = ec; });
    run();
    return result;
  }

  // One response; for HEAD the parser must not expect the body that
  // Content-Length announces.
  beast::error_code read(Response& out, bool head = false) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(head);
    beast::error_code result;
    stream_.expires_after(kIoTimeout);
    bhttp::async_read(stream_, buffer_, parser,
                      [&](beast::error_code ec, std::size_t) { result = ec; });
    run();
    if (!result) out = parser.release();
    return result;
  }

  Response request(bhttp::verb method, const std::string& target, const std::string& body = "",
                   const Headers& headers = {}, unsigned version = 11) {
    Response response;
    const beast::error_code send_error = send(method, target, body, headers, version);
    EXPECT_FALSE(send_error) << send_error.message();
    if (send_error) return response;
    const beast::error_code read_error = read(response, method == bhttp::verb::head);
    EXPECT_FALSE(read_error) << read_error.message();
    return response;
  }

  Response get(const std::string& target, const Headers& headers = {}) {
    return request(bhttp::verb::get, target, "", headers);
  }

  // True when the server closes (EOF or reset) before `within`, with no data.
  bool closedByPeer(std::chrono::milliseconds within = std::chrono::seconds(3)) {
    char byte = 0;
    beast::error_code result;
    std::size_t got = 0;
    stream_.expires_after(within);
    stream_.async_read_some(net::buffer(&byte, 1), [&](beast::error_code ec, std::size_t n) {
      result = ec;
      got = n;
    });
    run();
    return got == 0 && (result == net::error::eof || result == net::error::connection_reset);
  }

 private:
  void run() {
    ioc_.restart();
    ioc_.run();
  }

  net::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  beast::error_code connect_error_;
};

using kubemetrics::testing::gunzip;

std::string bigBody() {
  std::string body;
  for (int i = 0; body.size() < 8192; ++i) {
    body += "kubernetes_pod_cpu_usage_rate{pod=\"web-" + std::to_string(i) + "\"} 0.25\n";
  }
  return body;
}

HttpResponse textResponse(std::string body) {
  HttpResponse response;
  response.body = std::move(body);
  return response;
}

double counterValue(prometheus::Registry& registry, const std::string& name) {
  for (const auto& family : registry.Collect()) {
    if (family.name == name && !family.metric.empty()) return family.metric.at(0).counter.value;
  }
  return -1;
}

// A started server with a few routes, on 127.0.0.1 and an ephemeral port.
class HttpServerTest : public ::testing::Test {
 protected:
  void startServer(HttpServerOptions options = {}, prometheus::Registry* registry = nullptr) {
    server_ = std::make_unique<HttpServer>(options, registry);
    server_->add("/ok", [this](const HttpRequest&) {
      ++ok_calls_;
      HttpResponse response;
      response.body = "ok\n";
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      response.headers.emplace_back("X-Route", "ok");
      return response;
    });
    server_->add("/echo", [this](const HttpRequest& request) {
      std::lock_guard<std::mutex> lock(mu_);
      last_ = request;
      return textResponse(request.body);
    });
    server_->add("/boom", [](const HttpRequest&) -> HttpResponse {
      throw std::runtime_error("handler failed on purpose");
    });
    server_->add("/big", [](const HttpRequest&) { return textResponse(bigBody()); });
    server_->add("/small", [](const HttpRequest&) { return textResponse("tiny"); });
    ASSERT_TRUE(server_->start("127.0.0.1:0").has_value());
    ASSERT_NE(server_->port(), 0);
  }

  HttpRequest lastRequest() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }

  std::unique_ptr<HttpServer> server_;
  std::atomic<int> ok_calls_{0};
  std::mutex mu_;
  HttpRequest last_;
};

TEST_F(HttpServerTest, RouteReturnsBodyAndContentType) {
  startServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.connected());
  const Response response = client.get("/ok");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response.body(), "ok\n");
  EXPECT_EQ(response[bhttp::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(response[bhttp::field::server], "kubemetrics-agent");
  EXPECT_EQ(response[bhttp::field::content_length], "3");
  EXPECT_EQ(response["X-Route"], "ok");
  EXPECT_EQ(ok_calls_.load(), 1);
}

TEST_F(HttpServerTest, QueryStringIsSplitFromThePath) {
  startServer();
  TestClient client(server_->port());
  EXPECT_EQ(client.get("/echo?a=b&c=d", {{"X-Test", "yes"}}).result_int(), 200u);
  HttpRequest seen = lastRequest();
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.path, "/echo");
  EXPECT_EQ(seen.query, "a=b&c=d");
  EXPECT_EQ(seen.header("x-test"), "yes");
  EXPECT_EQ(seen.header("Host"), "127.0.0.1");

  EXPECT_EQ(client.get("/echo").result_int(), 200u);
  seen = lastRequest();
  EXPECT_EQ(seen.path, "/echo");
  EXPECT_EQ(seen.query, "");

  // Routing is on the exact path: a query never selects a route.
  EXPECT_EQ(client.get("/echo/?x=1").result_int(), 404u);
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  startServer();
  TestClient client(server_->port());
  const Response response = client.get("/nope");
  EXPECT_EQ(response.result_int(), 404u);
  EXPECT_EQ(response.body(), "not found\n");
  EXPECT_EQ(response[bhttp::field::server], "kubemetrics-agent");
  // The connection stays usable after a 404.
  EXPECT_EQ(client.get("/ok").result_int(), 200u);
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndServerKeepsServing) {
  startServer();
  TestClient client(server_->port());
  const Response response = client.get("/boom");
  EXPECT_EQ(response.result_int(), 500u);
  EXPECT_EQ(response.body(), "internal server error\n");
  EXPECT_EQ(response.body().find("on purpose"), std::string::npos);  // no internals leak
  EXPECT_EQ(client.get("/boom").result_int(), 500u);
  EXPECT_EQ(client.get("/ok").result_int(), 200u);
  TestClient other(server_->port());
  EXPECT_EQ(other.get("/ok").result_int(), 200u);
}

TEST_F(HttpServerTest, PostBodyIsDelivered) {
  startServer();
  TestClient client(server_->port());
  const std::string payload = "cpu.usage 1.5 source=node-1\nmem.used 2 source=node-1\n";
  const Response response = client.request(bhttp::verb::post, "/echo?f=wavefront", payload,
                                           {{"Content-Type", "text/plain"}});
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response.body(), payload);
  const HttpRequest seen = lastRequest();
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.body, payload);
  EXPECT_EQ(seen.query, "f=wavefront");
}

TEST_F(HttpServerTest, LargeBodiesReusingOneBufferAreDeliveredExactly) {
  // Bodies of 64 KiB or more are read into the memory of an earlier one
  // (BodyBufferPool): a shorter body after a longer one, and bodies on
  // several connections, must each arrive exactly, with nothing left over.
  startServer();
  TestClient a(server_->port()), b(server_->port());
  const std::size_t sizes[] = {300'000, 100'000, 200'000, 70'000};
  char fill = 'a';
  for (const std::size_t size : sizes) {
    for (TestClient* client : {&a, &b}) {
      const std::string payload(size, fill++);
      const Response response = client->request(bhttp::verb::post, "/echo", payload, {});
      ASSERT_EQ(response.result_int(), 200u) << size;
      EXPECT_TRUE(response.body() == payload) << size;
      EXPECT_TRUE(lastRequest().body == payload) << size;
    }
  }
}

TEST_F(HttpServerTest, ChunkedPostBodyIsDelivered) {
  startServer();
  TestClient client(server_->port());
  ASSERT_FALSE(
      client.sendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  Response response;
  ASSERT_FALSE(client.read(response));
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response.body(), "hello world");
}

TEST_F(HttpServerTest, BodyOverTheLimitIs413) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  startServer(options);
  {
    TestClient client(server_->port());
    const Response response = client.request(bhttp::verb::post, "/echo", std::string(4096, 'x'));
    EXPECT_EQ(response.result_int(), 413u);
    EXPECT_FALSE(response.keep_alive());
    EXPECT_TRUE(client.closedByPeer());
  }
  {
    // Chunked bodies have no Content-Length to check up front.
    TestClient client(server_->port());
    std::string chunked = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 4; ++i) chunked += "200\r\n" + std::string(512, 'y') + "\r\n";
    chunked += "0\r\n\r\n";
    ASSERT_FALSE(client.sendRaw(chunked));
    Response response;
    ASSERT_FALSE(client.read(response));
    EXPECT_EQ(response.result_int(), 413u);
  }
  TestClient client(server_->port());
  EXPECT_EQ(client.request(bhttp::verb::post, "/echo", std::string(1024, 'z')).result_int(), 200u);
  EXPECT_EQ(lastRequest().body.size(), 1024u);
}

TEST_F(HttpServerTest, HugeHeaderIs431AndALaterRequestWorks) {
  startServer();
  {
    TestClient client(server_->port());
    const Response response = client.get("/ok", {{"X-Big", std::string(32 * 1024, 'h')}});
    EXPECT_EQ(response.result_int(), 431u);
    EXPECT_TRUE(client.closedByPeer());
  }
  EXPECT_EQ(ok_calls_.load(), 0);
  TestClient client(server_->port());
  EXPECT_EQ(client.get("/ok").result_int(), 200u);
}

TEST_F(HttpServerTest, MalformedRequestIs400AndClosed) {
  startServer();
  for (const std::string& raw :
       {std::string("GARBAGE\r\n\r\n"), std::string("GET /ok HTTP/9.9\r\n\r\n"),
        std::string("GET /ok HTTP/1.1\r\nContent-Length: nope\r\n\r\n")}) {
    TestClient client(server_->port());
    ASSERT_FALSE(client.sendRaw(raw));
    Response response;
    ASSERT_FALSE(client.read(response)) << raw;
    EXPECT_EQ(response.result_int(), 400u) << raw;
    EXPECT_TRUE(client.closedByPeer()) << raw;
  }
  EXPECT_EQ(ok_calls_.load(), 0);
}

TEST_F(HttpServerTest, GzipWhenAcceptedAndBigEnough) {
  startServer();
  TestClient client(server_->port());
  const Response response = client.get("/big", {{"Accept-Encoding", "gzip, deflate"}});
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response[bhttp::field::content_encoding], "gzip");
  EXPECT_EQ(response[bhttp::field::vary], "Accept-Encoding");
  EXPECT_LT(response.body().size(), bigBody().size());
  EXPECT_EQ(gunzip(response.body()), bigBody());

  // A wildcard accepts gzip too.
  const Response star = client.get("/big", {{"Accept-Encoding", "*"}});
  EXPECT_EQ(star[bhttp::field::content_encoding], "gzip");
  EXPECT_EQ(gunzip(star.body()), bigBody());
}

TEST_F(HttpServerTest, NoGzipWhenNotAskedOrRefusedOrSmall) {
  startServer();
  TestClient client(server_->port());
  const Response plain = client.get("/big");
  EXPECT_EQ(plain.result_int(), 200u);
  EXPECT_EQ(plain.count(bhttp::field::content_encoding), 0u);
  EXPECT_EQ(plain.body(), bigBody());

  const Response refused = client.get("/big", {{"Accept-Encoding", "gzip;q=0, identity"}});
  EXPECT_EQ(refused.count(bhttp::field::content_encoding), 0u);
  EXPECT_EQ(refused.body(), bigBody());

  const Response other = client.get("/big", {{"Accept-Encoding", "br"}});
  EXPECT_EQ(other.count(bhttp::field::content_encoding), 0u);

  const Response small = client.get("/small", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(small.count(bhttp::field::content_encoding), 0u);
  EXPECT_EQ(small.body(), "tiny");
}

TEST_F(HttpServerTest, HeadHasTheHeadersOfGetWithoutBody) {
  startServer();
  TestClient client(server_->port());
  const Response get = client.get("/big", {{"Accept-Encoding", "gzip"}});
  const Response head =
      client.request(bhttp::verb::head, "/big", "", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(head.result_int(), 200u);
  EXPECT_EQ(head[bhttp::field::content_encoding], "gzip");
  EXPECT_EQ(head[bhttp::field::content_length], std::to_string(get.body().size()));
  EXPECT_TRUE(head.body().empty());
  // Had the server sent a body after all, this response would be garbage.
  const Response after = client.get("/ok");
  EXPECT_EQ(after.result_int(), 200u);
  EXPECT_EQ(after.body(), "ok\n");
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  startServer();
  TestClient client(server_->port());
  for (int i = 0; i < 20; ++i) {
    const Response response = client.get("/ok");
    ASSERT_EQ(response.result_int(), 200u) << i;
    EXPECT_TRUE(response.keep_alive());
  }
  EXPECT_EQ(ok_calls_.load(), 20);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  startServer();
  TestClient client(server_->port());
  ASSERT_FALSE(
      client.sendRaw("GET /echo?n=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nsecond"
                     "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"));
  Response first, second, third;
  ASSERT_FALSE(client.read(first));
  ASSERT_FALSE(client.read(second));
  ASSERT_FALSE(client.read(third));
  EXPECT_EQ(first.body(), "");
  EXPECT_EQ(second.body(), "second");
  EXPECT_EQ(third.body(), "ok\n");
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveIsAsked) {
  startServer();
  {
    TestClient client(server_->port());
    const Response response = client.request(bhttp::verb::get, "/ok", "", {}, 10);
    EXPECT_EQ(response.result_int(), 200u);
    EXPECT_EQ(response.version(), 10u);
    EXPECT_FALSE(response.keep_alive());
    EXPECT_TRUE(client.closedByPeer());
  }
  TestClient client(server_->port());
  const Response first =
      client.request(bhttp::verb::get, "/ok", "", {{"Connection", "keep-alive"}}, 10);
  EXPECT_EQ(first.result_int(), 200u);
  EXPECT_TRUE(first.keep_alive());
  EXPECT_EQ(client.request(bhttp::verb::get, "/ok", "", {}, 10).result_int(), 200u);
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  startServer();
  TestClient client(server_->port());
  const Response response = client.get("/ok", {{"Connection", "close"}});
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(client.closedByPeer());
}

TEST_F(HttpServerTest, Expect100ContinueGetsAnInterimResponse) {
  startServer();
  TestClient client(server_->port());
  ASSERT_FALSE(client.sendRaw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  Response interim;
  ASSERT_FALSE(client.read(interim));
  EXPECT_EQ(interim.result_int(), 100u);
  ASSERT_FALSE(client.sendRaw("hello"));
  Response final_response;
  ASSERT_FALSE(client.read(final_response));
  EXPECT_EQ(final_response.result_int(), 200u);
  EXPECT_EQ(final_response.body(), "hello");
}

TEST_F(HttpServerTest, ConcurrentClientsAllSucceed) {
  HttpServerOptions options;
  options.threads = 4;
  startServer(options);
  constexpr int kThreads = 8;
  constexpr int kRequests = 50;
  std::atomic<int> succeeded{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::unique_ptr<TestClient> client;
      for (int i = 0; i < kRequests; ++i) {
        // New connections now and then, so accept runs concurrently too.
        if (i % 10 == 0) client = std::make_unique<TestClient>(server_->port());
        const std::string tag = std::to_string(t) + "-" + std::to_string(i);
        Response response;
        if (client->send(bhttp::verb::post, "/echo", tag)) continue;
        if (client->read(response)) continue;
        if (response.result_int() == 200 && response.body() == tag) ++succeeded;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(succeeded.load(), kThreads * kRequests);
}

TEST_F(HttpServerTest, IdleConnectionIsClosedAfterTheIdleTimeout) {
  HttpServerOptions options;
  options.idle_timeout = std::chrono::milliseconds(200);
  startServer(options);
  TestClient client(server_->port());
  EXPECT_EQ(client.get("/ok").result_int(), 200u);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.closedByPeer(std::chrono::seconds(3)));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitAreClosed) {
  prometheus::Registry registry;
  HttpServerOptions options;
  options.max_connections = 1;
  startServer(options, &registry);
  auto first = std::make_unique<TestClient>(server_->port());
  EXPECT_EQ(first->get("/ok").result_int(), 200u);  // admitted and kept open

  TestClient second(server_->port());
  ASSERT_TRUE(second.connected());  // the kernel accepts; the server closes
  EXPECT_TRUE(second.closedByPeer());

  EXPECT_EQ(counterValue(registry, "kubemetrics_http_connections_rejected_total"), 1.0);

  // Once the first connection goes, there is room again; the server notices
  // the close asynchronously, so retry for a bounded time.
  first.reset();
  bool served = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (int attempt = 0; attempt < 100 && !served && std::chrono::steady_clock::now() < deadline;
       ++attempt) {
    TestClient third(server_->port());
    Response response;
    served = !third.send(bhttp::verb::get, "/ok") && !third.read(response) &&
             response.result_int() == 200;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(served);
}

TEST_F(HttpServerTest, AtTheLimitTheLongestIdleConnectionMakesRoom) {
  prometheus::Registry registry;
  HttpServerOptions options;
  options.max_connections = 2;
  options.evict_idle_at_limit = true;
  startServer(options, &registry);
  // Both connected and silent: idle since their accept, `older` for longer.
  // (Idle after an answer would race the test: the client reads the answer
  // before the server's write handler marks the connection idle.)
  TestClient older(server_->port());
  ASSERT_TRUE(older.connected());
  TestClient newer(server_->port());
  ASSERT_TRUE(newer.connected());

  TestClient probe(server_->port());
  EXPECT_EQ(probe.get("/ok").result_int(), 200u);
  EXPECT_TRUE(older.closedByPeer());
  EXPECT_EQ(newer.get("/ok").result_int(), 200u);
  EXPECT_EQ(counterValue(registry, "kubemetrics_http_idle_connections_evicted_total"), 1.0);
  EXPECT_EQ(counterValue(registry, "kubemetrics_http_connections_rejected_total"), 0.0);
}

// A route whose handler holds its request until released, so a test can
// keep a connection busy or a body in flight.
class HeldRoute {
 public:
  explicit HeldRoute(HttpServer& server) {
    server.add("/hold", [this](const HttpRequest& request) {
      entered_ = true;
      released_.wait_for(std::chrono::seconds(10));
      returned_ = true;
      return textResponse(std::to_string(request.body.size()));
    });
  }
  void waitEntered() const {
    for (int i = 0; i < 500 && !entered_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(entered_.load());
  }
  void release() { release_.set_value(); }
  bool returned() const { return returned_; }

 private:
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  std::atomic<bool> entered_{false};
  std::atomic<bool> returned_{false};
};

TEST(HttpServerBusyTest, AConnectionInTheMiddleOfARequestIsNeverEvicted) {
  prometheus::Registry registry;
  HttpServerOptions options;
  options.max_connections = 1;
  options.evict_idle_at_limit = true;
  HttpServer server(options, &registry);
  HeldRoute held(server);
  ASSERT_TRUE(server.start("127.0.0.1:0").has_value());
  std::thread busy([&] {
    TestClient client(server.port());
    EXPECT_EQ(client.get("/hold").result_int(), 200u);
  });
  held.waitEntered();
  TestClient refused(server.port());
  EXPECT_TRUE(refused.closedByPeer());
  held.release();
  busy.join();
  EXPECT_EQ(counterValue(registry, "kubemetrics_http_connections_rejected_total"), 1.0);
  EXPECT_EQ(counterValue(registry, "kubemetrics_http_idle_connections_evicted_total"), 0.0);
}

TEST(HttpServerBodyBudgetTest, ABodyOverTheBudgetWaitsUntilTheOneInFlightIsHandled) {
  HttpServerOptions options;
  options.max_body_bytes_in_flight = 1 << 20;
  HttpServer server(options);
  HeldRoute held(server);
  std::atomic<bool> overlapped{false};
  server.add("/later", [&](const HttpRequest& request) {
    if (!held.returned()) overlapped = true;
    return textResponse(std::to_string(request.body.size()));
  });
  ASSERT_TRUE(server.start("127.0.0.1:0").has_value());
  const std::string body(600 * 1024, 'x');
  std::thread first([&] {
    TestClient client(server.port());
    EXPECT_EQ(client.request(bhttp::verb::post, "/hold", body).body(), "614400");
  });
  held.waitEntered();
  std::thread second([&] {
    TestClient client(server.port());
    const Response response = client.request(bhttp::verb::post, "/later", body);
    EXPECT_EQ(response.result_int(), 200u);
    EXPECT_EQ(response.body(), "614400");
  });
  // However long the first is held, the second's handler must not run
  // before it returned: both bodies do not fit in the budget together.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  held.release();
  first.join();
  second.join();
  EXPECT_FALSE(overlapped.load()) << "the second body was read while the first was in flight";
}

TEST(HttpServerBodyBudgetTest, ABodyThatWaitsTooLongGets503WithRetryAfter) {
  HttpServerOptions options;
  options.max_body_bytes_in_flight = 1 << 20;
  options.body_budget_wait = std::chrono::milliseconds(300);
  HttpServer server(options);
  HeldRoute held(server);
  ASSERT_TRUE(server.start("127.0.0.1:0").has_value());
  const std::string body(600 * 1024, 'x');
  std::thread first([&] {
    TestClient client(server.port());
    EXPECT_EQ(client.request(bhttp::verb::post, "/hold", body).result_int(), 200u);
  });
  held.waitEntered();
  {
    TestClient client(server.port());
    const Response response = client.request(bhttp::verb::post, "/hold", body);
    EXPECT_EQ(response.result_int(), 503u);
    EXPECT_EQ(response[bhttp::field::retry_after], "1");
  }
  held.release();
  first.join();
  // Once the first is done, its share is free again.
  TestClient client(server.port());
  EXPECT_EQ(client.request(bhttp::verb::post, "/hold", body).result_int(), 200u);
}

TEST(HttpServerBodyBudgetTest, AnEncodedBodyAlsoTakesItsDecodedShare) {
  HttpServerOptions options;
  options.max_body_bytes_in_flight = 1 << 20;
  options.decoded_body_bytes = 600 * 1024;
  options.body_budget_wait = std::chrono::milliseconds(300);
  HttpServer server(options);
  HeldRoute held(server);
  server.add("/size", [](const HttpRequest& request) {
    return textResponse(std::to_string(request.body.size()));
  });
  ASSERT_TRUE(server.start("127.0.0.1:0").has_value());
  const std::string body(1024, 'x');
  const Headers gzip = {{"Content-Encoding", "gzip"}};
  std::thread first([&] {
    TestClient client(server.port());
    EXPECT_EQ(client.request(bhttp::verb::post, "/hold", body, gzip).result_int(), 200u);
  });
  held.waitEntered();
  {
    // 1 KiB + 600 KiB twice is over 1 MiB: the second encoded body waits.
    TestClient client(server.port());
    EXPECT_EQ(client.request(bhttp::verb::post, "/hold", body, gzip).result_int(), 503u);
  }
  {
    // A plain body of the same size fits beside the first (it would get
    // 503 after 300 ms if it did not).
    TestClient client(server.port());
    EXPECT_EQ(client.request(bhttp::verb::post, "/size", body).body(), "1024");
  }
  held.release();
  first.join();
}

TEST(HttpServerStartTest, PortInUseIsAnErrorNamingTheAddress) {
  HttpServer first;
  ASSERT_TRUE(first.start("127.0.0.1:0").has_value());
  const std::string address = "127.0.0.1:" + std::to_string(first.port());
  HttpServer second;
  const Result<void> result = second.start(address);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(result.error().message().find(address), std::string::npos) << result.error().message();
  EXPECT_EQ(second.port(), 0);
  second.stop();  // after a failed start: harmless
}

TEST(HttpServerStartTest, MalformedListenAddressIsInvalidArgument) {
  for (const char* address :
       {"", "nonsense", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:abc",
        "127.0.0.1:-1", "::1:80", "[127.0.0.1]:80", "example.com:80", "300.1.1.1:80"}) {
    HttpServer server;
    const Result<void> result = server.start(address);
    ASSERT_FALSE(result.has_value()) << address;
    EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument) << address;
    EXPECT_NE(result.error().message().find(address), std::string::npos)
        << result.error().message();
  }
}

TEST(HttpServerStartTest, StartTwiceIsAnError) {
  HttpServer server;
  ASSERT_TRUE(server.start("127.0.0.1:0").has_value());
  const Result<void> again = server.start("127.0.0.1:0");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), ErrorCode::kInvalidArgument);
}

TEST(HttpServerStopTest, StopWithAnIdleKeepAliveConnectionIsPrompt) {
  HttpServerOptions options;
  options.idle_timeout = std::chrono::seconds(60);
  HttpServer server(options);
  server.add("/ok", [](const HttpRequest&) { return textResponse("ok"); });
  ASSERT_TRUE(server.start("127.0.0.1:0").has_value());
  TestClient idle(server.port());
  EXPECT_EQ(idle.get("/ok").result_int(), 200u);
  TestClient silent(server.port());  // connected, never sent a byte
  ASSERT_TRUE(silent.connected());

  const auto started = std::chrono::steady_clock::now();
  server.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  EXPECT_TRUE(idle.closedByPeer());
  EXPECT_TRUE(silent.closedByPeer());
}

TEST(HttpServerStopTest, StopIsIdempotentAndSafeWithoutStart) {
  {
    HttpServer server;
    ASSERT_TRUE(server.start("127.0.0.1:0").has_value());
    const unsigned short port = server.port();
    server.stop();
    server.stop();
    // The listener is gone.
    TestClient client(port);
    EXPECT_FALSE(client.connected());
    EXPECT_FALSE(server.start("127.0.0.1:0").has_value());
  }  // and the destructor stops a third time
  {
    HttpServer never_started;
    never_started.stop();
    never_started.stop();
  }
  HttpServer destroyed_while_serving;
  ASSERT_TRUE(destroyed_while_serving.start("127.0.0.1:0").has_value());
}

TEST(HttpServerMetricsTest, CountsRequestsByRegisteredPathAndCode) {
  prometheus::Registry registry;
  HttpServer server({}, &registry);
  server.add("/m", [](const HttpRequest&) { return textResponse("m"); });
  ASSERT_TRUE(server.start("127.0.0.1:0").has_value());
  TestClient client(server.port());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(client.get("/m?x=" + std::to_string(i)).result_int(), 200u);
  EXPECT_EQ(client.get("/nope-1").result_int(), 404u);
  EXPECT_EQ(client.get("/nope-2").result_int(), 404u);

  std::map<std::pair<std::string, std::string>, double> requests;  // (path, code) -> count
  std::map<std::string, std::uint64_t> observed;                   // path -> samples
  for (const auto& family : registry.Collect()) {
    for (const auto& metric : family.metric) {
      std::map<std::string, std::string> labels;
      for (const auto& label : metric.label) labels[label.name] = label.value;
      if (family.name == "kubemetrics_http_requests_total") {
        requests[{labels["path"], labels["code"]}] = metric.counter.value;
      } else if (family.name == "kubemetrics_http_request_duration_seconds") {
        observed[labels["path"]] = metric.histogram.sample_count;
      }
    }
  }
  EXPECT_EQ((requests[{"/m", "200"}]), 3.0);
  EXPECT_EQ((requests[{"other", "404"}]), 2.0);  // unregistered paths share one label
  EXPECT_EQ(requests.size(), 2u);
  EXPECT_EQ(observed["/m"], 3u);
  EXPECT_EQ(observed["other"], 2u);
}

// cpp-httplib as the client: what a typical third-party client sees.
TEST_F(HttpServerTest, HttplibClientGetPostAndKeepAlive) {
  startServer();
  httplib::Client client("127.0.0.1", server_->port());
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  client.set_keep_alive(true);
  for (int i = 0; i < 10; ++i) {
    auto response = client.Get("/ok");
    ASSERT_TRUE(response) << httplib::to_string(response.error());
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "ok\n");
    EXPECT_EQ(response->get_header_value("Content-Type"),
              "text/plain; version=0.0.4; charset=utf-8");
  }
  auto posted = client.Post("/echo?x=1", "payload", "text/plain");
  ASSERT_TRUE(posted);
  EXPECT_EQ(posted->status, 200);
  EXPECT_EQ(posted->body, "payload");
  EXPECT_EQ(lastRequest().query, "x=1");
  auto missing = client.Get("/missing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(ok_calls_.load(), 10);
}

TEST_F(HttpServerTest, HttplibClientGzip) {
  startServer();
  httplib::Client client("127.0.0.1", server_->port());
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  client.set_decompress(false);  // keep the wire bytes to inflate here
  auto raw = client.Get("/big", {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->get_header_value("Content-Encoding"), "gzip");
  EXPECT_EQ(raw->get_header_value("Vary"), "Accept-Encoding");
  EXPECT_EQ(gunzip(raw->body), bigBody());

  auto identity = client.Get("/big", {{"Accept-Encoding", "identity"}});
  ASSERT_TRUE(identity);
  EXPECT_FALSE(identity->has_header("Content-Encoding"));
  EXPECT_EQ(identity->body, bigBody());

  httplib::Client decoding("127.0.0.1", server_->port());
  decoding.set_read_timeout(5);
  auto decoded = decoding.Get("/big", {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->body, bigBody());
}

}  // namespace
}  // namespace kubemetrics
