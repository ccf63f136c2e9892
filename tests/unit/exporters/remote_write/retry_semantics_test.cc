// The remote write exporter against a cpp-httplib fake backend on
// 127.0.0.1: the spec's headers, and what each answer leads to (500 and 429
// retried with Retry-After honoured, 400 dropped and counted, a timeout
// retried, 401 retried until a rotated token file is read). A manual clock drives max_wait and the
// backoff; the request timeout stays real time (a network deadline).
#include <gtest/gtest.h>
#include <httplib.h>
#include <snappy.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "exporters/remote_write/remote_write_exporter.h"
#include "remote_write/remote_write.pb.h"
#include "support/manual_clock.h"
#include "support/process.h"
#include "support/registry_value.h"
#include "support/wait_for.h"
#include "unit/common/push/clock_steps.h"

namespace kubemetrics::exporters::remote_write {
namespace {

using namespace std::chrono_literals;
using kubemetrics::testing::ManualClock;
using kubemetrics::testing::registryValue;
using kubemetrics::testing::ScopeExitStepping;
using kubemetrics::testing::stepUntil;
using kubemetrics::testing::TempDir;
using kubemetrics::testing::waitFor;

struct Received {
  SteadyClock::time_point at;  // by the exporter's clock
  httplib::Headers headers;
  std::size_t samples = 0;
};

// Answers each request with the next scripted handler (then 204).
class FakeBackend {
 public:
  using Answer = std::function<void(httplib::Response&)>;

  explicit FakeBackend(const Clock& clock = systemClock()) : clock_(clock) {
    server_.Post("/api/v1/write", [this](const httplib::Request& req, httplib::Response& res) {
      Received r;
      r.at = clock_.now();
      r.headers = req.headers;
      std::string raw;
      pb::WriteRequest wr;
      if (snappy::Uncompress(req.body.data(), req.body.size(), &raw) && wr.ParseFromString(raw)) {
        for (const auto& ts : wr.timeseries()) r.samples += ts.samples_size();
      }
      Answer answer;
      {
        std::lock_guard<std::mutex> lock(mu_);
        received_.push_back(r);
        if (!required_authorization_.empty() &&
            req.get_header_value("Authorization") != required_authorization_) {
          // As Prometheus behind an auth proxy, AMP or Mimir answer a bad token.
          res.status = 401;
          res.set_content("invalid token", "text/plain");
          return;
        }
        if (!script_.empty()) {
          answer = script_.front();
          script_.erase(script_.begin());
        }
      }
      if (answer) {
        answer(res);
      } else {
        res.status = 204;
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 1000 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  ~FakeBackend() {
    server_.stop();
    thread_.join();
  }
  void script(std::vector<Answer> answers) {
    std::lock_guard<std::mutex> lock(mu_);
    script_ = std::move(answers);
  }
  std::vector<Received> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  /// From now on, a request without this Authorization value gets 401.
  void requireAuthorization(std::string value) {
    std::lock_guard<std::mutex> lock(mu_);
    required_authorization_ = std::move(value);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/write"; }

 private:
  const Clock& clock_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Answer> script_;
  std::vector<Received> received_;
  std::string required_authorization_;
};

FakeBackend::Answer status(int code, std::string body = "", std::string retry_after = "") {
  return [=](httplib::Response& res) {
    res.status = code;
    res.set_content(body, "text/plain");
    if (!retry_after.empty()) res.set_header("Retry-After", retry_after);
  };
}

RemoteWriteConfig configFor(const FakeBackend& backend) {
  RemoteWriteConfig c;
  c.enabled = true;
  c.url = backend.url();
  c.push.timeout = 2s;
  c.push.batch.max_samples = 1000;
  c.push.batch.max_wait = 20ms;
  c.push.max_in_flight = 1;
  c.push.retry.initial_backoff = 20ms;
  c.push.retry.max_backoff = 3s;
  c.push.retry.max_attempts = 4;
  c.push.spool.enabled = false;
  return c;
}

SharedBatch batchOf(int n) {
  auto batch = std::make_shared<SampleBatch>();
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  LabelsBuilder b;
  for (int i = 0; i < n; ++i) {
    b.clear();
    b.set("i", std::to_string(i));
    batch->samples.push_back(Sample{Symbol::intern("test.metric"), b.build(), 1.0 * i, now});
  }
  return batch;
}

double counter(prometheus::Registry& r, const std::string& name,
               std::map<std::string, std::string> labels = {}) {
  labels["exporter"] = "remote_write";
  return registryValue(r, name, labels);
}

TEST(RemoteWriteRetryTest, SendsTheSpecHeadersAndBearerToken) {
  ManualClock clock;
  FakeBackend backend(clock);
  TempDir tmp;
  auto config = configFor(backend);
  config.bearer_token_file = tmp.write("token", "s3cret\n");
  prometheus::Registry registry;
  auto exporter = createRemoteWriteExporter("remote_write", config, registry, clock);
  ASSERT_TRUE(exporter) << exporter.error().message();
  ScopeExitStepping stop(clock, [&] { (*exporter)->shutdown(deadlineIn(2s)); });
  ASSERT_TRUE((*exporter)->send(batchOf(10)));
  ASSERT_TRUE(stepUntil(clock, [&] { return (*exporter)->stats().sent_samples == 10; }));
  auto got = backend.received();
  ASSERT_EQ(got.size(), 1u);
  auto header = [&](const char* name) {
    auto it = got[0].headers.find(name);
    return it == got[0].headers.end() ? std::string() : it->second;
  };
  EXPECT_EQ(header("Content-Encoding"), "snappy");
  EXPECT_EQ(header("Content-Type"), "application/x-protobuf");
  EXPECT_EQ(header("X-Prometheus-Remote-Write-Version"), "0.1.0");
  EXPECT_EQ(header("User-Agent").rfind("kubemetrics-agent/", 0), 0u) << header("User-Agent");
  EXPECT_EQ(header("Authorization"), "Bearer s3cret");
  EXPECT_EQ(got[0].samples, 10u);
}

TEST(RemoteWriteRetryTest, RotatedTokenIsUsedAndNothingIsLostMeanwhile) {
  // The backend moves to a new token before the agent's Secret is updated:
  // 401 for a while, then the mounted file is swapped (a new file renamed
  // in place, as a Secret volume does) and the backlog goes out.
  ManualClock clock;
  FakeBackend backend(clock);
  TempDir tmp;
  auto config = configFor(backend);
  config.bearer_token_file = tmp.write("token", "old-token\n");
  config.push.spool.enabled = true;
  config.push.spool.dir = tmp.path() + "/spool";
  prometheus::Registry registry;
  auto exporter = createRemoteWriteExporter("remote_write", config, registry, clock);
  ASSERT_TRUE(exporter) << exporter.error().message();
  ScopeExitStepping stop(clock, [&] { (*exporter)->shutdown(deadlineIn(2s)); });
  backend.requireAuthorization("Bearer new-token");
  ASSERT_TRUE((*exporter)->send(batchOf(10)));
  ASSERT_TRUE(stepUntil(clock, [&] { return (*exporter)->stats().spooled_samples == 10; }));
  ASSERT_TRUE((*exporter)->send(batchOf(5)));  // goes behind the backlog
  ASSERT_TRUE(stepUntil(clock, [&] { return backend.received().size() >= 6; }));
  EXPECT_EQ((*exporter)->stats().sent_samples, 0u);

  const std::string fresh = tmp.write("token.new", "new-token\n");
  ASSERT_EQ(std::rename(fresh.c_str(), config.bearer_token_file.c_str()), 0);
  ASSERT_TRUE(stepUntil(clock, [&] { return (*exporter)->stats().sent_samples == 15; }));
  EXPECT_EQ((*exporter)->stats().dropped_samples, 0u);
  const auto got = backend.received();
  EXPECT_EQ(got.back().headers.find("Authorization")->second, "Bearer new-token");
  EXPECT_EQ(got.back().samples, 5u);  // the newer payload last
}

TEST(RemoteWriteRetryTest, BasicAuth) {
  ManualClock clock;
  FakeBackend backend(clock);
  TempDir tmp;
  auto config = configFor(backend);
  config.basic_auth_username = "Aladdin";
  config.basic_auth_password_file = tmp.write("pw", "open sesame");
  prometheus::Registry registry;
  auto exporter = createRemoteWriteExporter("remote_write", config, registry, clock);
  ASSERT_TRUE(exporter);
  ScopeExitStepping stop(clock, [&] { (*exporter)->shutdown(deadlineIn(2s)); });
  ASSERT_TRUE((*exporter)->send(batchOf(1)));
  ASSERT_TRUE(stepUntil(clock, [&] { return (*exporter)->stats().sent_samples == 1; }));
  EXPECT_EQ(backend.received()[0].headers.find("Authorization")->second,
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  config.basic_auth_password_file = tmp.path() + "/missing";
  prometheus::Registry other;
  EXPECT_FALSE(createRemoteWriteExporter("remote_write", config, other, clock));
}

TEST(RemoteWriteRetryTest, ServerErrorIsRetried) {
  ManualClock clock;
  FakeBackend backend(clock);
  backend.script({status(500, "internal"), status(503, "unavailable")});
  prometheus::Registry registry;
  auto exporter = createRemoteWriteExporter("remote_write", configFor(backend), registry, clock);
  ASSERT_TRUE(exporter);
  ScopeExitStepping stop(clock, [&] { (*exporter)->shutdown(deadlineIn(2s)); });
  ASSERT_TRUE((*exporter)->send(batchOf(20)));
  ASSERT_TRUE(stepUntil(clock, [&] { return (*exporter)->stats().sent_samples == 20; }));
  EXPECT_EQ(backend.received().size(), 3u);
  EXPECT_EQ(counter(registry, "kubemetrics_exporter_push_retried_samples_total"), 40);
  EXPECT_EQ(counter(registry, "kubemetrics_exporter_push_failed_samples_total"), 40);
  EXPECT_EQ(counter(registry, "kubemetrics_exporter_push_requests_total", {{"outcome", "retry"}}),
            2);
}

TEST(RemoteWriteRetryTest, TooManyRequestsHonoursRetryAfter) {
  ManualClock clock;
  FakeBackend backend(clock);
  backend.script({status(429, "slow down", "1")});
  prometheus::Registry registry;
  auto exporter = createRemoteWriteExporter("remote_write", configFor(backend), registry, clock);
  ASSERT_TRUE(exporter);
  ScopeExitStepping stop(clock, [&] { (*exporter)->shutdown(deadlineIn(2s)); });
  ASSERT_TRUE((*exporter)->send(batchOf(5)));
  ASSERT_TRUE(stepUntil(clock, [&] { return (*exporter)->stats().sent_samples == 5; }));
  auto got = backend.received();
  ASSERT_EQ(got.size(), 2u);
  // initial_backoff is 20ms: only Retry-After explains a one-second wait
  // (both times by the exporter's clock, which only the test moves).
  EXPECT_GE(got[1].at - got[0].at, 1s);
}

TEST(RemoteWriteRetryTest, BadRequestIsDroppedAndCounted) {
  ManualClock clock;
  FakeBackend backend(clock);
  backend.script({status(400, "snappy: corrupt input")});
  prometheus::Registry registry;
  auto exporter = createRemoteWriteExporter("remote_write", configFor(backend), registry, clock);
  ASSERT_TRUE(exporter);
  ScopeExitStepping stop(clock, [&] { (*exporter)->shutdown(deadlineIn(2s)); });
  ASSERT_TRUE((*exporter)->send(batchOf(7)));
  ASSERT_TRUE(stepUntil(clock, [&] { return (*exporter)->stats().dropped_samples == 7; }));
  // Idle: the sender is done with the payload. One it meant to retry would
  // stay in flight, asleep in its backoff, until the clock moved on.
  ASSERT_TRUE(waitFor([&] { return (*exporter)->idleForTest(); }));
  EXPECT_EQ(backend.received().size(), 1u);
  EXPECT_EQ(counter(registry, "kubemetrics_exporter_push_dropped_samples_total",
                    {{"reason", "rejected"}}),
            7);
  EXPECT_EQ((*exporter)->stats().sent_samples, 0u);
}

TEST(RemoteWriteRetryTest, TimeoutIsRetried) {
  // The first answer is held back until the test lets it go (10 s at most,
  // against a hang), far past the request timeout. Declared before the
  // backend, whose server threads use them until it is destroyed.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> slow_answered{false};
  ManualClock clock;
  FakeBackend backend(clock);
  backend.script({[&](httplib::Response& res) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, 10s, [&] { return release; });
    slow_answered = true;
    res.status = 204;
  }});
  auto let_go = [&] {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  };
  auto config = configFor(backend);
  config.push.timeout = 400ms;  // real time: a network deadline
  prometheus::Registry registry;
  auto exporter = createRemoteWriteExporter("remote_write", config, registry, clock);
  ASSERT_TRUE(exporter);
  ScopeExitStepping stop(clock, [&] {
    let_go();
    (*exporter)->shutdown(deadlineIn(2s));
  });
  ASSERT_TRUE((*exporter)->send(batchOf(3)));
  ASSERT_TRUE(stepUntil(clock, [&] { return (*exporter)->stats().sent_samples == 3; }));
  EXPECT_GE((*exporter)->stats().failed_samples, 3u);
  EXPECT_GE(backend.received().size(), 2u);
  // Delivered by the retry, not by waiting out the slow answer: that one
  // has not even been given yet.
  EXPECT_FALSE(slow_answered.load());
  let_go();
}

TEST(RemoteWriteRetryTest, ShutdownCancelsAHeldRequestAndSpoolsItsPayload) {
  // A backend that accepted the connection and never answers: the stop
  // must not wait out the request timeout (60 s here, past any grace
  // period); the payload goes to the spool for the next start. Declared
  // before the backend, whose server threads use them until it is gone.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> held{false};
  ManualClock clock;
  FakeBackend backend(clock);
  backend.script({[&](httplib::Response& res) {
    held = true;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, 10s, [&] { return release; });  // bounded against a hang
    res.status = 204;
  }});
  auto let_go = [&] {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  };
  TempDir tmp;
  auto config = configFor(backend);
  config.push.timeout = 60s;
  config.push.spool.enabled = true;
  config.push.spool.dir = tmp.path();
  prometheus::Registry registry;
  auto exporter = createRemoteWriteExporter("remote_write", config, registry, clock);
  ASSERT_TRUE(exporter);
  ASSERT_TRUE((*exporter)->send(batchOf(4)));
  ASSERT_TRUE(stepUntil(clock, [&] { return held.load(); }));
  {
    kubemetrics::testing::ClockStepper stepper(clock);
    (*exporter)->shutdown(clock.now() + 200ms);
  }
  // Returned while the backend still holds the request: cancelled, spooled.
  EXPECT_EQ((*exporter)->stats().spooled_samples, 4u);
  EXPECT_EQ((*exporter)->stats().sent_samples, 0u);
  let_go();
}

TEST(RemoteWriteRetryTest, ConnectionRefusedGoesToSpoolThenReplays) {
  TempDir tmp;
  const int port = kubemetrics::testing::freeLoopbackPort();
  RemoteWriteConfig config;
  config.url = "http://127.0.0.1:" + std::to_string(port) + "/api/v1/write";
  config.push.batch.max_wait = 20ms;
  config.push.retry.initial_backoff = 20ms;
  config.push.retry.max_backoff = 100ms;
  config.push.retry.max_attempts = 2;
  config.push.spool.dir = tmp.path();
  ManualClock clock;
  prometheus::Registry registry;
  auto exporter = createRemoteWriteExporter("remote_write", config, registry, clock);
  ASSERT_TRUE(exporter);
  ScopeExitStepping stop(clock, [&] { (*exporter)->shutdown(deadlineIn(1s)); });
  ASSERT_TRUE((*exporter)->send(batchOf(30)));
  ASSERT_TRUE(stepUntil(clock, [&] { return (*exporter)->stats().spooled_samples == 30; }));
  // The spool gauges are set before the samples count as spooled.
  EXPECT_EQ(counter(registry, "kubemetrics_exporter_spool_records"), 1);
}

}  // namespace
}  // namespace kubemetrics::exporters::remote_write
