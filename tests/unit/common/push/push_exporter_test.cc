#include "common/push/push_exporter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/process.h"
#include "support/registry_value.h"

namespace kubemetrics::push {
namespace {

using namespace std::chrono_literals;
using kubemetrics::testing::registryValue;
using kubemetrics::testing::TempDir;

// Body = the sample values joined by ',', so the fake backend can count them.
class FakeEncoder : public PayloadEncoder {
 public:
  Result<EncodedPayload> encode(std::span<const Sample> samples, std::size_t* dropped) override {
    EncodedPayload p;
    for (const Sample& s : samples) {
      if (s.value < 0) {  // "not representable"
        ++*dropped;
        continue;
      }
      p.body += std::to_string(static_cast<long long>(s.value)) + ",";
      ++p.samples;
    }
    p.raw_bytes = p.body.size();
    return p;
  }
  std::string_view contentEncoding() const override { return "identity-test"; }
};

// A scriptable backend shared by every transport of one exporter.
struct FakeBackend {
  std::mutex mu;
  std::deque<DeliveryOutcome> script;  // outcomes to return first; then `fallback`
  DeliveryOutcome fallback = DeliveryOutcome::delivered();
  std::vector<std::string> delivered;  // bodies acknowledged
  std::vector<std::chrono::steady_clock::time_point> attempts;
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::chrono::milliseconds latency{0};

  DeliveryOutcome next(const EncodedPayload& p) {
    const int now = ++in_flight;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    if (latency.count() > 0) std::this_thread::sleep_for(latency);
    --in_flight;
    std::lock_guard<std::mutex> lock(mu);
    attempts.push_back(std::chrono::steady_clock::now());
    DeliveryOutcome out = fallback;
    if (!script.empty()) {
      out = script.front();
      script.pop_front();
    }
    if (out.kind == DeliveryOutcome::Kind::kDelivered) delivered.push_back(p.body);
    return out;
  }
  std::size_t deliveredSamples() {
    std::lock_guard<std::mutex> lock(mu);
    std::size_t n = 0;
    for (const auto& b : delivered)
      n += static_cast<std::size_t>(std::count(b.begin(), b.end(), ','));
    return n;
  }
};

class FakeTransport : public Transport {
 public:
  explicit FakeTransport(std::shared_ptr<FakeBackend> b) : backend_(std::move(b)) {}
  DeliveryOutcome deliver(const EncodedPayload& p, Deadline) override { return backend_->next(p); }

 private:
  std::shared_ptr<FakeBackend> backend_;
};

TransportFactory factoryFor(std::shared_ptr<FakeBackend> backend) {
  return [backend]() -> Result<TransportPtr> { return TransportPtr(new FakeTransport(backend)); };
}

SharedBatch batchOf(int from, int count) {
  auto batch = std::make_shared<SampleBatch>();
  for (int i = from; i < from + count; ++i) {
    batch->samples.push_back(Sample{Symbol::intern("m"), {}, static_cast<double>(i), 1000});
  }
  return batch;
}

PushConfig fastConfig(const std::string& spool_dir) {
  PushConfig c;
  c.timeout = 2s;
  c.batch.max_samples = 100;
  c.batch.max_wait = 50ms;
  c.max_in_flight = 2;
  c.retry.initial_backoff = 10ms;
  c.retry.max_backoff = 40ms;
  c.retry.max_attempts = 3;
  c.spool.enabled = !spool_dir.empty();
  c.spool.dir = spool_dir;
  return c;
}

template <class Pred>
bool waitUntil(Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

TEST(PushExporterTest, BatchesBySizeAndByTime) {
  auto backend = std::make_shared<FakeBackend>();
  prometheus::Registry registry;
  auto exporter = PushExporter::create("t", fastConfig(""), std::make_unique<FakeEncoder>(),
                                       factoryFor(backend), registry);
  ASSERT_TRUE(exporter) << exporter.error().message();
  // 250 samples: two full batches of 100 at once, 50 after max_wait.
  ASSERT_TRUE((*exporter)->send(batchOf(0, 250)));
  ASSERT_TRUE(waitUntil([&] { return backend->deliveredSamples() == 250; }));
  {
    std::lock_guard<std::mutex> lock(backend->mu);
    ASSERT_EQ(backend->delivered.size(), 3u);
    std::vector<std::size_t> sizes;
    for (auto& b : backend->delivered) sizes.push_back(std::count(b.begin(), b.end(), ','));
    std::sort(sizes.begin(), sizes.end());
    EXPECT_EQ(sizes, (std::vector<std::size_t>{50, 100, 100}));
  }
  EXPECT_EQ((*exporter)->stats().sent_samples, 250u);
  EXPECT_EQ(
      registryValue(registry, "kubemetrics_exporter_push_sent_samples_total", {{"exporter", "t"}}),
      250);
  EXPECT_GT(registryValue(registry, "kubemetrics_exporter_push_compressed_bytes_total",
                          {{"exporter", "t"}}),
            0);
  (*exporter)->shutdown(deadlineIn(2s));
  (*exporter)->shutdown(deadlineIn(2s));  // twice is fine
  EXPECT_FALSE((*exporter)->send(batchOf(0, 1)));
}

TEST(PushExporterTest, RetriesWithBackoffThenDelivers) {
  auto backend = std::make_shared<FakeBackend>();
  backend->script = {DeliveryOutcome::retry("HTTP 500"), DeliveryOutcome::retry("HTTP 503")};
  prometheus::Registry registry;
  auto config = fastConfig("");
  config.max_in_flight = 1;
  auto exporter = PushExporter::create("t", config, std::make_unique<FakeEncoder>(),
                                       factoryFor(backend), registry);
  ASSERT_TRUE(exporter);
  ASSERT_TRUE((*exporter)->send(batchOf(0, 100)));
  ASSERT_TRUE(waitUntil([&] { return backend->deliveredSamples() == 100; }));
  auto stats = (*exporter)->stats();
  EXPECT_EQ(stats.failed_samples, 200u);
  EXPECT_EQ(stats.retried_samples, 200u);
  EXPECT_EQ(stats.dropped_samples, 0u);
  std::lock_guard<std::mutex> lock(backend->mu);
  ASSERT_EQ(backend->attempts.size(), 3u);
  // Equal jitter: at least half the backoff (10ms, then 20ms).
  EXPECT_GE(backend->attempts[1] - backend->attempts[0], 5ms);
  EXPECT_GE(backend->attempts[2] - backend->attempts[1], 10ms);
}

TEST(PushExporterTest, RetryAfterIsHonoured) {
  auto backend = std::make_shared<FakeBackend>();
  backend->script = {DeliveryOutcome::retry("HTTP 429", 300ms)};
  prometheus::Registry registry;
  auto config = fastConfig("");
  config.max_in_flight = 1;
  config.retry.max_backoff = 1s;
  auto exporter = PushExporter::create("t", config, std::make_unique<FakeEncoder>(),
                                       factoryFor(backend), registry);
  ASSERT_TRUE(exporter);
  ASSERT_TRUE((*exporter)->send(batchOf(0, 100)));
  ASSERT_TRUE(waitUntil([&] { return backend->deliveredSamples() == 100; }));
  std::lock_guard<std::mutex> lock(backend->mu);
  ASSERT_EQ(backend->attempts.size(), 2u);
  EXPECT_GE(backend->attempts[1] - backend->attempts[0], 300ms);
}

TEST(PushExporterTest, DropIsCountedAndNotRetried) {
  auto backend = std::make_shared<FakeBackend>();
  backend->script = {DeliveryOutcome::drop("HTTP 400: bad labels")};
  prometheus::Registry registry;
  auto exporter = PushExporter::create("t", fastConfig(""), std::make_unique<FakeEncoder>(),
                                       factoryFor(backend), registry);
  ASSERT_TRUE(exporter);
  ASSERT_TRUE((*exporter)->send(batchOf(0, 100)));
  ASSERT_TRUE(waitUntil([&] { return (*exporter)->stats().dropped_samples == 100; }));
  ASSERT_TRUE((*exporter)->send(batchOf(0, 100)));
  ASSERT_TRUE(waitUntil([&] { return backend->deliveredSamples() == 100; }));
  EXPECT_EQ(registryValue(registry, "kubemetrics_exporter_push_dropped_samples_total",
                          {{"exporter", "t"}, {"reason", "rejected"}}),
            100);
  std::lock_guard<std::mutex> lock(backend->mu);
  EXPECT_EQ(backend->attempts.size(), 2u);
}

TEST(PushExporterTest, InvalidSamplesAreDroppedAndCounted) {
  auto backend = std::make_shared<FakeBackend>();
  prometheus::Registry registry;
  auto exporter = PushExporter::create("t", fastConfig(""), std::make_unique<FakeEncoder>(),
                                       factoryFor(backend), registry);
  ASSERT_TRUE(exporter);
  ASSERT_TRUE((*exporter)->send(batchOf(-10, 20)));  // -10..-1 invalid
  ASSERT_TRUE(waitUntil([&] { return backend->deliveredSamples() == 10; }));
  EXPECT_EQ(registryValue(registry, "kubemetrics_exporter_push_dropped_samples_total",
                          {{"exporter", "t"}, {"reason", "invalid"}}),
            10);
}

TEST(PushExporterTest, BoundedInFlight) {
  auto backend = std::make_shared<FakeBackend>();
  backend->latency = 30ms;
  prometheus::Registry registry;
  auto config = fastConfig("");
  config.max_in_flight = 3;
  config.queue_capacity = 64;
  config.batch.max_samples = 10;
  auto exporter = PushExporter::create("t", config, std::make_unique<FakeEncoder>(),
                                       factoryFor(backend), registry);
  ASSERT_TRUE(exporter);
  ASSERT_TRUE((*exporter)->send(batchOf(0, 300)));
  ASSERT_TRUE(waitUntil([&] { return backend->deliveredSamples() == 300; }));
  EXPECT_EQ(backend->max_in_flight.load(), 3);
}

TEST(PushExporterTest, SpoolsWhenBackendIsDownAndReplaysWhenBack) {
  TempDir tmp;
  auto backend = std::make_shared<FakeBackend>();
  backend->fallback = DeliveryOutcome::retry("connection refused");
  prometheus::Registry registry;
  auto exporter = PushExporter::create("t", fastConfig(tmp.path()), std::make_unique<FakeEncoder>(),
                                       factoryFor(backend), registry);
  ASSERT_TRUE(exporter);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*exporter)->send(batchOf(i * 100, 100)));
  ASSERT_TRUE(waitUntil([&] { return (*exporter)->stats().spooled_samples == 1000; }));
  EXPECT_GT(registryValue(registry, "kubemetrics_exporter_spool_bytes", {{"exporter", "t"}}), 0);
  {
    std::lock_guard<std::mutex> lock(backend->mu);
    backend->fallback = DeliveryOutcome::delivered();
  }
  ASSERT_TRUE(waitUntil([&] { return backend->deliveredSamples() == 1000; }, 15s));
  ASSERT_TRUE(waitUntil([&] { return (*exporter)->idleForTest(); }));
  // Every value exactly once.
  std::vector<int> seen(1000, 0);
  {
    std::lock_guard<std::mutex> lock(backend->mu);
    for (const auto& body : backend->delivered) {
      std::size_t at = 0;
      while (at < body.size()) {
        const std::size_t comma = body.find(',', at);
        ++seen[std::stoi(body.substr(at, comma - at))];
        at = comma + 1;
      }
    }
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 1000);
  EXPECT_EQ((*exporter)->stats().spool_records, 0u);
}

TEST(PushExporterTest, ShutdownSpoolsAndRestartReplays) {
  TempDir tmp;
  auto down = std::make_shared<FakeBackend>();
  down->fallback = DeliveryOutcome::retry("connection refused");
  {
    prometheus::Registry registry;
    auto config = fastConfig(tmp.path());
    config.batch.max_wait = 10s;  // still pending at shutdown
    auto exporter = PushExporter::create("t", config, std::make_unique<FakeEncoder>(),
                                         factoryFor(down), registry);
    ASSERT_TRUE(exporter);
    ASSERT_TRUE((*exporter)->send(batchOf(0, 50)));
    (*exporter)->shutdown(deadlineIn(300ms));
    EXPECT_EQ((*exporter)->stats().spooled_samples, 50u);
  }
  auto up = std::make_shared<FakeBackend>();
  prometheus::Registry registry;
  auto exporter = PushExporter::create("t", fastConfig(tmp.path()), std::make_unique<FakeEncoder>(),
                                       factoryFor(up), registry);
  ASSERT_TRUE(exporter);
  ASSERT_TRUE(waitUntil([&] { return up->deliveredSamples() == 50; }));
  ASSERT_TRUE(waitUntil([&] { return (*exporter)->idleForTest(); }));
}

TEST(PushExporterTest, WithoutSpoolExhaustedRetriesAreDroppedAndCounted) {
  auto backend = std::make_shared<FakeBackend>();
  backend->fallback = DeliveryOutcome::retry("HTTP 503");
  prometheus::Registry registry;
  auto exporter = PushExporter::create("t", fastConfig(""), std::make_unique<FakeEncoder>(),
                                       factoryFor(backend), registry);
  ASSERT_TRUE(exporter);
  ASSERT_TRUE((*exporter)->send(batchOf(0, 100)));
  ASSERT_TRUE(waitUntil([&] { return (*exporter)->stats().dropped_samples == 100; }));
  EXPECT_EQ(registryValue(registry, "kubemetrics_exporter_push_dropped_samples_total",
                          {{"exporter", "t"}, {"reason", "no_spool"}}),
            100);
  std::lock_guard<std::mutex> lock(backend->mu);
  EXPECT_EQ(backend->attempts.size(), 3u);  // max_attempts
}

TEST(PushExporterTest, ClassifiesHttpStatuses) {
  EXPECT_EQ(classifyHttpStatus(200, "", "").kind, DeliveryOutcome::Kind::kDelivered);
  EXPECT_EQ(classifyHttpStatus(204, "", "").kind, DeliveryOutcome::Kind::kDelivered);
  EXPECT_EQ(classifyHttpStatus(500, "", "oops").kind, DeliveryOutcome::Kind::kRetry);
  EXPECT_EQ(classifyHttpStatus(503, "", "").kind, DeliveryOutcome::Kind::kRetry);
  const auto limited = classifyHttpStatus(429, "7", "slow down");
  EXPECT_EQ(limited.kind, DeliveryOutcome::Kind::kRetry);
  EXPECT_EQ(limited.retry_after, 7s);
  const auto bad = classifyHttpStatus(400, "", "out of order sample\nsecond line");
  EXPECT_EQ(bad.kind, DeliveryOutcome::Kind::kDrop);
  EXPECT_EQ(bad.message, "HTTP 400: out of order sample second line");
  EXPECT_EQ(classifyHttpStatus(404, "", "").kind, DeliveryOutcome::Kind::kDrop);
  EXPECT_EQ(parseRetryAfter(""), 0ms);
  EXPECT_EQ(parseRetryAfter("abc"), 0ms);
  EXPECT_EQ(parseRetryAfter(" 120 "), 120s);
  EXPECT_EQ(parseRetryAfter("999999"), std::chrono::hours(1));
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT"), 0ms);  // in the past
}

TEST(PushConfigTest, ValidateReportsEveryProblem) {
  PushConfig c;
  c.batch.max_samples = 0;
  c.retry.max_backoff = std::chrono::milliseconds(1);
  c.retry.max_attempts = 0;
  auto errors = c.validate();
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].path, "batch.max_samples");
  EXPECT_EQ(errors[1].path, "retry.max_backoff");
  EXPECT_EQ(errors[2].path, "retry.max_attempts");
  SpoolConfig s;
  s.dir = "relative";
  EXPECT_EQ(validateSpoolConfig(s).size(), 1u);
}

}  // namespace
}  // namespace kubemetrics::push
