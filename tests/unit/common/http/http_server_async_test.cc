// HttpServer::addAsync: a handler that answers later from another thread
// frees its io thread meanwhile, so other routes (/healthz) keep answering.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/http/http_server.h"
#include "support/wait_for.h"

namespace kubemetrics {
namespace {

using std::chrono::milliseconds;

// Responders an async route was given, for the test to answer or drop.
class HeldAnswers {
 public:
  void hold(HttpResponder respond) {
    std::lock_guard<std::mutex> lock(mu_);
    held_.push_back(std::move(respond));
  }
  std::size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_.size();
  }
  // Polls until `n` are held; false after the shared bound.
  bool waitFor(std::size_t n) {
    return testing::waitFor([&] { return count() >= n; });
  }
  std::vector<HttpResponder> take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(held_);
  }

 private:
  std::mutex mu_;
  std::vector<HttpResponder> held_;
};

HttpResponse text(std::string body) {
  HttpResponse response;
  response.body = std::move(body);
  return response;
}

class HttpServerAsyncTest : public ::testing::Test {
 protected:
  void start(std::size_t threads) {
    HttpServerOptions options;
    options.threads = threads;
    server_ = std::make_unique<HttpServer>(options);
    server_->addAsync("/slow", [this](const HttpRequest&, HttpResponder respond) {
      held_.hold(std::move(respond));
    });
    server_->addAsync("/throws",
                      [](const HttpRequest&, HttpResponder) { throw std::runtime_error("boom"); });
    server_->add("/healthz", [](const HttpRequest&) { return text("ok\n"); });
    ASSERT_TRUE(server_->start("127.0.0.1:0").has_value());
  }
  std::future<httplib::Result> getLater(const std::string& path) {
    const int port = server_->port();
    return std::async(std::launch::async, [port, path] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(5, 0);
      return client.Get(path);
    });
  }

  HeldAnswers held_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerAsyncTest, PendingAnswersDoNotHoldTheIoThread) {
  start(/*threads=*/1);
  auto first = getLater("/slow");
  auto second = getLater("/slow");
  ASSERT_TRUE(held_.waitFor(2));
  // One io thread, two answers pending: a blocking handler would hold it.
  httplib::Client client("127.0.0.1", server_->port());
  client.set_read_timeout(2, 0);
  const auto started = std::chrono::steady_clock::now();
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(1000));

  for (HttpResponder& respond : held_.take()) {
    respond(text("late\n"));
    respond(text("ignored second answer\n"));
  }
  for (auto* future : {&first, &second}) {
    auto result = future->get();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 200);
    EXPECT_EQ(result->body, "late\n");
  }
}

TEST_F(HttpServerAsyncTest, KeepAliveConnectionServesTheNextRequestAfterAnAsyncAnswer) {
  start(/*threads=*/2);
  std::thread answerer([this] {
    for (std::size_t n = 1; n <= 2; ++n) {
      if (!held_.waitFor(1)) return;
      for (HttpResponder& respond : held_.take()) respond(text("answer\n"));
    }
  });
  httplib::Client client("127.0.0.1", server_->port());
  client.set_keep_alive(true);
  client.set_read_timeout(5, 0);
  auto a = client.Get("/slow");
  auto b = client.Get("/slow");
  auto c = client.Get("/healthz");
  answerer.join();
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->body, "answer\n");
  EXPECT_EQ(b->body, "answer\n");
  EXPECT_EQ(c->body, "ok\n");
}

TEST_F(HttpServerAsyncTest, ThrowingAsyncHandlerIsA500) {
  start(/*threads=*/1);
  httplib::Client client("127.0.0.1", server_->port());
  auto result = client.Get("/throws");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 500);
}

TEST_F(HttpServerAsyncTest, OutOfRangeStatusFromAnAsyncAnswerIsA500) {
  start(/*threads=*/1);
  auto pending = getLater("/slow");
  ASSERT_TRUE(held_.waitFor(1));
  HttpResponse bad;
  bad.status = 42;
  held_.take().front()(std::move(bad));
  auto result = pending.get();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 500);
}

TEST_F(HttpServerAsyncTest, AnswersAfterStopOrDestructionAreDropped) {
  start(/*threads=*/1);
  auto pending = getLater("/slow");
  ASSERT_TRUE(held_.waitFor(1));
  std::vector<HttpResponder> responders = held_.take();
  server_->stop();
  responders.front()(text("after stop\n"));
  server_.reset();
  // The server is gone; the responder must not touch it (ASan checks).
  responders.front()(text("after destruction\n"));
  responders.clear();
  auto result = pending.get();
  EXPECT_FALSE(result && result->status == 200 && result->body == "after stop\n");
}

TEST_F(HttpServerAsyncTest, DroppedResponderClosesTheConnection) {
  start(/*threads=*/1);
  auto pending = getLater("/slow");
  ASSERT_TRUE(held_.waitFor(1));
  held_.take().clear();
  auto result = pending.get();
  EXPECT_FALSE(result);
}

TEST(HttpRoutesDefaultTest, AddAsyncServesSynchronouslyThroughAdd) {
  struct Table : HttpRoutes {
    void add(std::string, HttpHandler h) override { handler = std::move(h); }
    HttpHandler handler;
  } table;
  std::thread answerer;
  table.addAsync("/x", [&answerer](const HttpRequest&, HttpResponder respond) {
    answerer = std::thread([respond] { respond(text("from another thread\n")); });
  });
  ASSERT_TRUE(table.handler);
  EXPECT_EQ(table.handler(HttpRequest{}).body, "from another thread\n");
  answerer.join();
  table.addAsync("/dropped", [](const HttpRequest&, HttpResponder) {});
  EXPECT_ANY_THROW(table.handler(HttpRequest{}));
}

}  // namespace
}  // namespace kubemetrics
