// HttpServer with a LineProtocol: plain newline-delimited connections and
// HTTP on one port (as the Wavefront proxy serves 2878), framing, over-long
// lines, back-pressure and slow peers. Raw loopback sockets as clients.

#include <gtest/gtest.h>
#include <httplib.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/http/http_server.h"
#include "support/loopback.h"
#include "support/wait_for.h"

namespace kubemetrics {
namespace {

using namespace std::chrono_literals;

/// What every connection's consumer saw, shared with the test.
struct Record {
  std::mutex mu;
  std::string lines;  // everything consume() got, in order (per connection order)
  std::vector<std::string> overlong_heads;
  std::vector<std::string> partials;
  std::vector<std::string> peers;
  int finished = 0;
  int unflushed_finishes = 0;
  std::atomic<bool> refuse_flush{false};
  std::atomic<int> flush_calls{0};

  std::string linesNow() {
    std::lock_guard<std::mutex> lock(mu);
    return lines;
  }
  // Evaluates `predicate` under the record's lock.
  template <class Predicate>
  bool waitFor(Predicate predicate, std::chrono::milliseconds timeout = 5s) {
    return testing::waitFor(
        [&] {
          std::lock_guard<std::mutex> lock(mu);
          return predicate();
        },
        timeout, 2ms);
  }
};

class RecordingConsumer : public LineConsumer {
 public:
  explicit RecordingConsumer(Record& record) : record_(record) {}
  void consume(std::string_view lines) override { pending_ += lines; }
  void overlong(std::string_view head) override {
    std::lock_guard<std::mutex> lock(record_.mu);
    record_.overlong_heads.emplace_back(head);
  }
  bool flush() override {
    ++record_.flush_calls;
    if (pending_.empty()) return true;
    if (record_.refuse_flush.load()) return false;
    std::lock_guard<std::mutex> lock(record_.mu);
    record_.lines += pending_;
    pending_.clear();
    return true;
  }
  void finish(std::string_view partial, bool flushed) override {
    std::lock_guard<std::mutex> lock(record_.mu);
    if (!partial.empty()) record_.partials.emplace_back(partial);
    ++record_.finished;
    if (!flushed) ++record_.unflushed_finishes;
  }

 private:
  Record& record_;
  std::string pending_;
};

class LineProtocolTest : public ::testing::Test {
 protected:
  void start(std::size_t max_line_bytes = 64, std::size_t max_connections = 64) {
    HttpServerOptions options;
    options.max_connections = max_connections;
    options.lines.max_line_bytes = max_line_bytes;
    options.lines.accept = [this](std::string_view peer) {
      {
        std::lock_guard<std::mutex> lock(record_.mu);
        record_.peers.emplace_back(peer);
      }
      return std::make_unique<RecordingConsumer>(record_);
    };
    server_ = std::make_unique<HttpServer>(options);
    server_->add("/ok", [](const HttpRequest& request) {
      HttpResponse response;
      response.body = "ok " + request.peer_address + "\n";
      return response;
    });
    ASSERT_TRUE(server_->start("127.0.0.1:0"));
  }
  int connect() {
    const int fd = testing::connectToLoopback(server_->port());
    EXPECT_GE(fd, 0);
    return fd;
  }

  Record record_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(LineProtocolTest, LinesAndHttpShareThePort) {
  start();
  const int fd = connect();
  ASSERT_TRUE(testing::sendAll(fd, "cpu.load 1 source=a\nmem.used 2 source=b\n"));
  EXPECT_TRUE(record_.waitFor([&] { return record_.lines.size() == 40; }));
  EXPECT_EQ(record_.linesNow(), "cpu.load 1 source=a\nmem.used 2 source=b\n");

  httplib::Client client("127.0.0.1", server_->port());
  auto answer = client.Get("/ok");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->body, "ok 127.0.0.1\n");  // handlers see the peer's address
  ::close(fd);
  EXPECT_TRUE(record_.waitFor([&] { return record_.finished == 1; }));
  std::lock_guard<std::mutex> lock(record_.mu);
  EXPECT_EQ(record_.peers, std::vector<std::string>{"127.0.0.1"});
}

TEST_F(LineProtocolTest, LinesSplitAcrossReadsAreJoined) {
  start();
  const int fd = connect();
  for (std::string_view piece : {"a.b 1 so", "urce=x\na.c", " 2 source=y\n"}) {
    ASSERT_TRUE(testing::sendAll(fd, piece));
    std::this_thread::sleep_for(10ms);  // separate reads (the test holds either way)
  }
  EXPECT_TRUE(record_.waitFor([&] { return record_.lines.size() == 30; }));
  EXPECT_EQ(record_.linesNow(), "a.b 1 source=x\na.c 2 source=y\n");
  ::close(fd);
}

TEST_F(LineProtocolTest, ADisconnectInsideALineLosesOnlyThatLine) {
  start();
  const int fd = connect();
  ASSERT_TRUE(testing::sendAll(fd, "whole 1 source=a\nhalf 2 sour"));
  ::close(fd);
  EXPECT_TRUE(record_.waitFor([&] { return record_.finished == 1; }));
  EXPECT_EQ(record_.linesNow(), "whole 1 source=a\n");
  std::lock_guard<std::mutex> lock(record_.mu);
  EXPECT_EQ(record_.partials, std::vector<std::string>{"half 2 sour"});
  EXPECT_EQ(record_.unflushed_finishes, 0);
}

TEST_F(LineProtocolTest, AnOverlongLineIsSkippedAndTheNextOnesArrive) {
  start(/*max_line_bytes=*/64);
  const int fd = connect();
  const std::string overlong = "x" + std::string(200, 'y') + " 1 source=a\n";
  ASSERT_TRUE(testing::sendAll(fd, "first 1 source=a\n" + overlong + "after 2 source=b\n"));
  EXPECT_TRUE(record_.waitFor([&] { return record_.lines.size() == 34; }));
  EXPECT_EQ(record_.linesNow(), "first 1 source=a\nafter 2 source=b\n");
  ::close(fd);
  EXPECT_TRUE(record_.waitFor([&] { return record_.finished == 1; }));
  std::lock_guard<std::mutex> lock(record_.mu);
  ASSERT_EQ(record_.overlong_heads.size(), 1u);
  EXPECT_EQ(record_.overlong_heads[0].substr(0, 4), "xyyy");
}

TEST_F(LineProtocolTest, ARefusedFlushStopsReadingUntilItSucceeds) {
  start();
  record_.refuse_flush = true;
  const int fd = connect();
  ASSERT_TRUE(testing::sendAll(fd, "one 1 source=a\n"));
  // The connection retries the flush (with pauses) and reads nothing else.
  EXPECT_TRUE(record_.waitFor([&] { return record_.flush_calls.load() >= 3; }));
  ASSERT_TRUE(testing::sendAll(fd, "two 2 source=a\n"));
  const int calls = record_.flush_calls.load();
  EXPECT_TRUE(record_.waitFor([&] { return record_.flush_calls.load() >= calls + 2; }));
  EXPECT_EQ(record_.linesNow(), "");
  record_.refuse_flush = false;
  EXPECT_TRUE(record_.waitFor([&] { return record_.lines.size() == 30; }));
  EXPECT_EQ(record_.linesNow(), "one 1 source=a\ntwo 2 source=a\n");
  ::close(fd);
}

TEST_F(LineProtocolTest, ASenderIsHeldBackByTcpWhileFlushesAreRefused) {
  start();
  record_.refuse_flush = true;
  const int fd = connect();
  // With nothing read, the kernel's buffers fill and the sender's writes
  // stop making progress: the agent pushes back rather than buffering.
  const std::string chunk(64 * 1024, '\n');
  std::size_t written = 0;
  bool blocked = false;
  for (int i = 0; i < 1000 && !blocked; ++i) {  // at most 64 MiB
    pollfd pfd{fd, POLLOUT, 0};
    if (::poll(&pfd, 1, 200) == 0) {
      blocked = true;
      break;
    }
    const ssize_t sent = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent > 0) written += static_cast<std::size_t>(sent);
  }
  EXPECT_TRUE(blocked) << written << " bytes written without the agent reading";
  EXPECT_LT(written, 32u * 1024 * 1024);
  record_.refuse_flush = false;
  ::close(fd);
}

TEST_F(LineProtocolTest, ASlowSenderDoesNotHoldUpOthers) {
  start();
  const int slow = connect();
  ASSERT_TRUE(testing::sendAll(slow, "slo"));  // one byte at a time would do the same
  const int fast = connect();
  ASSERT_TRUE(testing::sendAll(fast, "fast 1 source=a\n"));
  EXPECT_TRUE(record_.waitFor([&] { return record_.lines == "fast 1 source=a\n"; }));
  ASSERT_TRUE(testing::sendAll(slow, "w 1 source=b\n"));
  EXPECT_TRUE(record_.waitFor([&] { return record_.lines.size() == 32; }));
  ::close(slow);
  ::close(fast);
}

TEST_F(LineProtocolTest, StopEndsLineConnections) {
  start();
  const int fd = connect();
  ASSERT_TRUE(testing::sendAll(fd, "kept 1 source=a\npart"));
  EXPECT_TRUE(record_.waitFor([&] { return !record_.lines.empty(); }));
  server_->stop();
  std::lock_guard<std::mutex> lock(record_.mu);
  EXPECT_EQ(record_.finished, 1);
  EXPECT_EQ(record_.partials, std::vector<std::string>{"part"});
  ::close(fd);
}

TEST_F(LineProtocolTest, LineConnectionsCountTowardMaxConnections) {
  start(/*max_line_bytes=*/64, /*max_connections=*/1);
  const int first = connect();
  ASSERT_TRUE(testing::sendAll(first, "a 1 source=a\n"));
  EXPECT_TRUE(record_.waitFor([&] { return !record_.lines.empty(); }));
  const int second = connect();  // the kernel accepts; the server closes it
  char byte = 0;
  pollfd pfd{second, POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 5000), 1);
  EXPECT_EQ(::recv(second, &byte, 1, 0), 0);
  ::close(second);
  ::close(first);
}

}  // namespace
}  // namespace kubemetrics
