#include "common/push/push_exporter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/config/config_document.h"
#include "common/push/batch_journal.h"
#include "common/push/push_metrics.h"
#include "support/manual_clock.h"
#include "support/process.h"
#include "support/registry_value.h"
#include "support/wait_for.h"
#include "unit/common/push/clock_steps.h"

namespace kubemetrics::push {
namespace {

using namespace std::chrono_literals;
using kubemetrics::testing::ClockStepper;
using kubemetrics::testing::ManualClock;
using kubemetrics::testing::registryValue;
using kubemetrics::testing::stepUntil;
using kubemetrics::testing::TempDir;
using kubemetrics::testing::waitFor;

// Body = the sample values joined by ',', so the fake backend can count
// them. Appending (as the real encoders) or not, to test both of the
// exporter's ways of filling a batch.
class FakeEncoder : public PayloadEncoder {
 public:
  explicit FakeEncoder(bool appends) : appends_(appends) {}
  Result<EncodedPayload> encode(std::span<const Sample> samples, std::size_t* dropped) override {
    std::string raw;
    const std::size_t dropped_before = *dropped;
    append(samples, raw, dropped);
    return compress(raw, samples.size() - (*dropped - dropped_before));
  }
  bool appends() const override { return appends_; }
  void append(std::span<const Sample> samples, std::string& raw, std::size_t* dropped) override {
    for (const Sample& s : samples) {
      if (s.value < 0) {  // "not representable"
        ++*dropped;
        continue;
      }
      raw += std::to_string(static_cast<long long>(s.value)) + ",";
    }
  }
  Result<EncodedPayload> compress(std::string_view raw, std::size_t samples) override {
    EncodedPayload p;
    p.body = raw;
    p.samples = samples;
    p.raw_bytes = raw.size();
    return p;
  }
  std::string_view contentEncoding() const override { return "identity-test"; }
  // Halves by value: each value stands for a series.
  PayloadSplitter splitter() const override {
    return [](const EncodedPayload& p) {
      std::vector<std::string> values;
      for (std::size_t at = 0, comma; (comma = p.body.find(',', at)) != std::string::npos;
           at = comma + 1) {
        values.push_back(p.body.substr(at, comma - at + 1));
      }
      std::vector<EncodedPayload> halves;
      if (values.size() < 2) return halves;
      halves.resize(2);
      for (std::size_t i = 0; i < values.size(); ++i) {
        EncodedPayload& half = halves[i < values.size() / 2 ? 0 : 1];
        half.body += values[i];
        ++half.samples;
      }
      for (EncodedPayload& half : halves) half.content_encoding = p.content_encoding;
      return halves;
    };
  }

 private:
  const bool appends_;
};

// A scriptable backend shared by every transport of one exporter.
struct FakeBackend {
  std::mutex mu;
  // Decides first when set: an outcome, or nullopt for the script/fallback.
  std::function<std::optional<DeliveryOutcome>(const EncodedPayload&)> judge;
  std::deque<DeliveryOutcome> script;  // outcomes to return first; then `fallback`
  DeliveryOutcome fallback = DeliveryOutcome::delivered();
  std::vector<std::string> delivered;   // bodies acknowledged
  const Clock* clock = &systemClock();  // stamps `attempts`: the exporter's clock
  std::vector<SteadyClock::time_point> attempts;
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  // When > 0, each delivery waits until this many are in flight at once (or
  // until they once were), so a test sees the senders' concurrency whatever
  // the scheduling. Bounded by real time only against a hang.
  int gate = 0;
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool gate_open = false;

  DeliveryOutcome next(const EncodedPayload& p) {
    const int now = ++in_flight;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    if (gate > 0) {
      std::unique_lock<std::mutex> lock(gate_mu);
      gate_cv.wait_for(lock, 10s, [&] { return gate_open || in_flight.load() >= gate; });
      gate_open = true;
      gate_cv.notify_all();
    }
    --in_flight;
    std::lock_guard<std::mutex> lock(mu);
    attempts.push_back(clock->now());
    DeliveryOutcome out = fallback;
    if (auto judged = judge ? judge(p) : std::nullopt) {
      out = *judged;
    } else if (!script.empty()) {
      out = script.front();
      script.pop_front();
    }
    if (out.kind == DeliveryOutcome::Kind::kDelivered) delivered.push_back(p.body);
    return out;
  }
  std::size_t attemptCount() {
    std::lock_guard<std::mutex> lock(mu);
    return attempts.size();
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

// One exporter under test on a manual clock, with its fake backend. Its
// destructor shuts the exporter down while stepping the clock, so a failed
// assertion cannot leave a sender asleep in manual time for ever.
struct Rig {
  explicit Rig(std::shared_ptr<FakeBackend> b = std::make_shared<FakeBackend>())
      : backend(std::move(b)) {
    backend->clock = &clock;
  }
  ~Rig() {
    if (exporter) shutdown(2s);
  }
  ::testing::AssertionResult create(const PushConfig& config) {
    auto created = PushExporter::create("t", config, std::make_unique<FakeEncoder>(appending),
                                        factoryFor(backend), registry, clock);
    if (!created) return ::testing::AssertionFailure() << created.error().message();
    exporter = std::move(*created);
    return ::testing::AssertionSuccess();
  }
  // shutdown(), with the deadline `in` from now on the manual clock.
  void shutdown(std::chrono::milliseconds in) {
    ClockStepper stepper(clock);
    exporter->shutdown(clock.now() + in);
  }

  bool appending = true;  // the encoder's mode: set before create()
  ManualClock clock;
  std::shared_ptr<FakeBackend> backend;
  prometheus::Registry registry;
  std::unique_ptr<PushExporter> exporter;
};

// Runs `test` with an appending encoder (as the real ones), then with an
// encoder of whole batches: the exporter's two ways of filling a batch.
void forEachEncoderMode(const std::function<void(bool appending)>& test) {
  for (const bool appending : {true, false}) {
    SCOPED_TRACE(appending ? "appending encoder" : "encoder of whole batches");
    test(appending);
  }
}

void batchesBySizeAndByTime(bool appending) {
  Rig rig;
  rig.appending = appending;
  ASSERT_TRUE(rig.create(fastConfig("")));
  auto& exporter = rig.exporter;
  auto& backend = rig.backend;
  // 250 samples: two full batches of 100 at once, 50 after max_wait.
  ASSERT_TRUE(exporter->send(batchOf(0, 250)));
  // The full ones need no time to pass ...
  ASSERT_TRUE(waitFor([&] { return backend->deliveredSamples() == 200; }));
  // ... the rest goes once max_wait has passed on the clock. The sender
  // counts a delivery after the backend has it: wait for both.
  ASSERT_TRUE(stepUntil(rig.clock, [&] {
    return backend->deliveredSamples() == 250 && exporter->stats().sent_samples == 250;
  }));
  {
    std::lock_guard<std::mutex> lock(backend->mu);
    ASSERT_EQ(backend->delivered.size(), 3u);
    std::vector<std::size_t> sizes;
    for (auto& b : backend->delivered) sizes.push_back(std::count(b.begin(), b.end(), ','));
    std::sort(sizes.begin(), sizes.end());
    EXPECT_EQ(sizes, (std::vector<std::size_t>{50, 100, 100}));
  }
  EXPECT_EQ(exporter->stats().sent_samples, 250u);
  EXPECT_EQ(registryValue(rig.registry, "kubemetrics_exporter_push_sent_samples_total",
                          {{"exporter", "t"}}),
            250);
  EXPECT_GT(registryValue(rig.registry, "kubemetrics_exporter_push_compressed_bytes_total",
                          {{"exporter", "t"}}),
            0);
  rig.shutdown(2s);
  rig.shutdown(2s);  // twice is fine
  EXPECT_FALSE(exporter->send(batchOf(0, 1)));
}

TEST(PushExporterTest, BatchesBySizeAndByTime) { forEachEncoderMode(batchesBySizeAndByTime); }

TEST(PushExporterTest, RetriesWithBackoffThenDelivers) {
  Rig rig;
  auto& backend = rig.backend;
  backend->script = {DeliveryOutcome::retry("HTTP 500"), DeliveryOutcome::retry("HTTP 503")};
  auto config = fastConfig("");
  config.max_in_flight = 1;
  ASSERT_TRUE(rig.create(config));
  ASSERT_TRUE(rig.exporter->send(batchOf(0, 100)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return backend->deliveredSamples() == 100; }));
  auto stats = rig.exporter->stats();
  EXPECT_EQ(stats.failed_samples, 200u);
  EXPECT_EQ(stats.retried_samples, 200u);
  EXPECT_EQ(stats.dropped_samples, 0u);
  std::lock_guard<std::mutex> lock(backend->mu);
  ASSERT_EQ(backend->attempts.size(), 3u);
  // Equal jitter: at least half the backoff (10ms, then 20ms), on the clock.
  EXPECT_GE(backend->attempts[1] - backend->attempts[0], 5ms);
  EXPECT_GE(backend->attempts[2] - backend->attempts[1], 10ms);
}

TEST(PushExporterTest, RetryAfterIsHonoured) {
  Rig rig;
  auto& backend = rig.backend;
  backend->script = {DeliveryOutcome::retry("HTTP 429", 300ms)};
  auto config = fastConfig("");
  config.max_in_flight = 1;
  config.retry.max_backoff = 1s;
  ASSERT_TRUE(rig.create(config));
  ASSERT_TRUE(rig.exporter->send(batchOf(0, 100)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return backend->deliveredSamples() == 100; }));
  std::lock_guard<std::mutex> lock(backend->mu);
  ASSERT_EQ(backend->attempts.size(), 2u);
  EXPECT_GE(backend->attempts[1] - backend->attempts[0], 300ms);
}

TEST(PushExporterTest, DropIsCountedAndNotRetried) {
  Rig rig;
  auto& backend = rig.backend;
  backend->script = {DeliveryOutcome::drop("HTTP 400: bad labels")};
  ASSERT_TRUE(rig.create(fastConfig("")));
  ASSERT_TRUE(rig.exporter->send(batchOf(0, 100)));
  ASSERT_TRUE(waitFor([&] { return rig.exporter->stats().dropped_samples == 100; }));
  ASSERT_TRUE(rig.exporter->send(batchOf(0, 100)));
  ASSERT_TRUE(waitFor([&] { return backend->deliveredSamples() == 100; }));
  EXPECT_EQ(registryValue(rig.registry, "kubemetrics_exporter_push_dropped_samples_total",
                          {{"exporter", "t"}, {"reason", "rejected"}}),
            100);
  std::lock_guard<std::mutex> lock(backend->mu);
  EXPECT_EQ(backend->attempts.size(), 2u);
}

TEST(PushExporterTest, InvalidSamplesAreDroppedAndCounted) {
  forEachEncoderMode([](bool appending) {
    Rig rig;
    rig.appending = appending;
    ASSERT_TRUE(rig.create(fastConfig("")));
    ASSERT_TRUE(rig.exporter->send(batchOf(-10, 20)));  // -10..-1 invalid
    ASSERT_TRUE(stepUntil(rig.clock, [&] {
      return rig.backend->deliveredSamples() == 10 && rig.exporter->stats().sent_samples == 10;
    }));
    EXPECT_EQ(registryValue(rig.registry, "kubemetrics_exporter_push_dropped_samples_total",
                            {{"exporter", "t"}, {"reason", "invalid"}}),
              10);
  });
}

TEST(PushExporterTest, BoundedInFlight) {
  Rig rig;
  auto& backend = rig.backend;
  backend->gate = 3;  // hold deliveries until three are in flight at once
  auto config = fastConfig("");
  config.max_in_flight = 3;
  config.queue_capacity = 64;
  config.batch.max_samples = 10;
  ASSERT_TRUE(rig.create(config));
  ASSERT_TRUE(rig.exporter->send(batchOf(0, 300)));
  ASSERT_TRUE(waitFor([&] { return backend->deliveredSamples() == 300; }));
  EXPECT_EQ(backend->max_in_flight.load(), 3);
}

TEST(PushExporterTest, SpoolsWhenBackendIsDownAndReplaysWhenBack) {
  TempDir tmp;
  Rig rig;
  auto& backend = rig.backend;
  backend->fallback = DeliveryOutcome::retry("connection refused");
  ASSERT_TRUE(rig.create(fastConfig(tmp.path())));
  auto& exporter = rig.exporter;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(exporter->send(batchOf(i * 100, 100)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return exporter->stats().spooled_samples == 1000; }));
  EXPECT_GT(registryValue(rig.registry, "kubemetrics_exporter_spool_bytes", {{"exporter", "t"}}),
            0);
  {
    std::lock_guard<std::mutex> lock(backend->mu);
    backend->fallback = DeliveryOutcome::delivered();
  }
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return backend->deliveredSamples() == 1000; }));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return exporter->idleForTest(); }));
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
  EXPECT_EQ(exporter->stats().spool_records, 0u);

  // Wal mode writes every payload ahead, but counts as spooled only what the
  // failures held back there: nothing once the backend takes again.
  for (int i = 10; i < 12; ++i) ASSERT_TRUE(exporter->send(batchOf(i * 100, 100)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return backend->deliveredSamples() == 1200; }));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return exporter->idleForTest(); }));
  const PushStats stats = exporter->stats();
  EXPECT_EQ(stats.journaled_samples, 1200u);
  EXPECT_EQ(stats.spooled_samples, 1000u);
  EXPECT_EQ(registryValue(rig.registry, "kubemetrics_exporter_push_spooled_samples_total",
                          {{"exporter", "t"}}),
            1000);
  EXPECT_EQ(registryValue(rig.registry, "kubemetrics_exporter_push_journaled_samples_total",
                          {{"exporter", "t"}}),
            1200);
}

// The values of every delivered body, in delivery order.
std::vector<int> deliveredValues(FakeBackend& backend) {
  std::vector<int> values;
  std::lock_guard<std::mutex> lock(backend.mu);
  for (const auto& body : backend.delivered) {
    std::size_t at = 0;
    while (at < body.size()) {
      const std::size_t comma = body.find(',', at);
      values.push_back(std::stoi(body.substr(at, comma - at)));
      at = comma + 1;
    }
  }
  return values;
}

TEST(PushExporterTest, OnceSomethingIsSpooledEverythingFollowsItInOrder) {
  // Receivers without an out-of-order window refuse a sample older than
  // one they have: after an outage, the backlog must arrive oldest first
  // and nothing newer may overtake it.
  TempDir tmp;
  Rig rig;
  auto& backend = rig.backend;
  backend->fallback = DeliveryOutcome::retry("connection refused");
  auto config = fastConfig(tmp.path());
  config.spool.mode = SpoolConfig::Mode::kOverflow;
  config.max_in_flight = 1;  // one request at a time: delivery order is defined
  ASSERT_TRUE(rig.create(config));
  auto& exporter = rig.exporter;
  // The first payload runs out of retries while the others wait queued.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(exporter->send(batchOf(i * 100, 100)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return exporter->stats().spooled_samples == 500; }));
  // Later payloads go behind the backlog, not to the (empty) queue.
  for (int i = 5; i < 8; ++i) ASSERT_TRUE(exporter->send(batchOf(i * 100, 100)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return exporter->stats().spooled_samples == 800; }));
  {
    std::lock_guard<std::mutex> lock(backend->mu);
    backend->fallback = DeliveryOutcome::delivered();
  }
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return exporter->idleForTest(); }));
  std::vector<int> expected(800);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(deliveredValues(*backend), expected);
  // The queue works as before once the spool is empty.
  ASSERT_TRUE(exporter->send(batchOf(800, 100)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return backend->deliveredSamples() == 900; }));
  EXPECT_EQ(exporter->stats().spooled_samples, 800u);
}

TEST(PushExporterTest, FullQueueGoesToTheSpoolBeforeTheNewPayload) {
  // The queued payloads are older than the one that finds the queue full:
  // they must be spooled (and replayed) first.
  TempDir tmp;
  Rig rig;
  auto& backend = rig.backend;
  backend->fallback = DeliveryOutcome::retry("HTTP 503");
  auto config = fastConfig(tmp.path());
  config.spool.mode = SpoolConfig::Mode::kOverflow;
  config.max_in_flight = 1;
  config.queue_capacity = 2;
  config.retry.max_attempts = 1000;  // payload 0 stays with its sender
  ASSERT_TRUE(rig.create(config));
  auto& exporter = rig.exporter;
  ASSERT_TRUE(exporter->send(batchOf(0, 100)));
  ASSERT_TRUE(waitFor([&] { return backend->attemptCount() >= 1; }));  // taken, backing off
  for (int i = 1; i < 5; ++i) ASSERT_TRUE(exporter->send(batchOf(i * 100, 100)));
  // 1 and 2 were queued; 3 found the queue full; 4 came behind the spool.
  ASSERT_TRUE(waitFor([&] { return exporter->stats().spooled_samples == 400; }));
  {
    std::lock_guard<std::mutex> lock(backend->mu);
    backend->fallback = DeliveryOutcome::delivered();
  }
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return exporter->idleForTest(); }));
  std::vector<int> expected(500);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(deliveredValues(*backend), expected);
}

// Without a spool, a filling queue means the next payloads may be
// dropped: the exporter says so (the pipeline then holds its batches back
// and refuses pushed data). With a spool it never does: the spool takes them.
TEST(PushExporterTest, WithoutSpoolAHalfFullQueueIsBacklogged) {
  for (const bool spool : {false, true}) {
    SCOPED_TRACE(spool ? "spool" : "no spool");
    TempDir tmp;
    Rig rig;
    auto& backend = rig.backend;
    backend->fallback = DeliveryOutcome::retry("HTTP 503");
    auto config = fastConfig(spool ? tmp.path() : "");
    config.spool.mode = SpoolConfig::Mode::kOverflow;
    config.max_in_flight = 1;
    config.queue_capacity = 4;
    config.retry.max_attempts = 1000;  // payload 0 stays with its sender
    ASSERT_TRUE(rig.create(config));
    auto& exporter = rig.exporter;
    EXPECT_FALSE(exporter->backlogged());
    ASSERT_TRUE(exporter->send(batchOf(0, 100)));
    ASSERT_TRUE(waitFor([&] { return backend->attemptCount() >= 1; }));  // taken, backing off
    ASSERT_TRUE(exporter->send(batchOf(100, 100)));
    ASSERT_TRUE(exporter->send(batchOf(200, 100)));  // two of four queued
    if (spool) {
      EXPECT_FALSE(waitFor([&] { return exporter->backlogged(); }, 200ms));
    } else {
      EXPECT_TRUE(waitFor([&] { return exporter->backlogged(); }));
    }
    {
      std::lock_guard<std::mutex> lock(backend->mu);
      backend->fallback = DeliveryOutcome::delivered();
    }
    ASSERT_TRUE(stepUntil(rig.clock, [&] { return exporter->idleForTest(); }));
    EXPECT_FALSE(exporter->backlogged());
  }
}

TEST(PushExporterTest, WalWritesEveryPayloadFirstAndDeletesItOnceAcknowledged) {
  TempDir tmp;
  Rig rig;
  auto config = fastConfig(tmp.path());
  config.max_in_flight = 3;  // still one record at a time: order is the log's
  ASSERT_TRUE(rig.create(config));
  auto& exporter = rig.exporter;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(exporter->send(batchOf(i * 100, 100)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return exporter->idleForTest(); }));
  std::vector<int> expected(500);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(deliveredValues(*rig.backend), expected);
  const PushStats stats = exporter->stats();
  EXPECT_EQ(stats.journaled_samples, 500u);  // every sample went through the log
  EXPECT_EQ(stats.spooled_samples, 0u);      // and none had to wait there
  EXPECT_EQ(stats.sent_samples, 500u);
  EXPECT_EQ(stats.retried_samples, 0u);  // a first send from the log is no retry
  EXPECT_EQ(stats.spool_records, 0u);
  EXPECT_EQ(stats.spool_bytes, 0u);  // acknowledged segments are deleted
}

TEST(PushExporterTest, WalKeepsOrderAcrossAnOutageWithManySenders) {
  TempDir tmp;
  Rig rig;
  auto& backend = rig.backend;
  backend->fallback = DeliveryOutcome::retry("connection refused");
  auto config = fastConfig(tmp.path());
  config.max_in_flight = 4;
  ASSERT_TRUE(rig.create(config));
  auto& exporter = rig.exporter;
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(exporter->send(batchOf(i * 100, 100)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return backend->attemptCount() >= 3; }));
  {
    std::lock_guard<std::mutex> lock(backend->mu);
    backend->fallback = DeliveryOutcome::delivered();
  }
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return exporter->idleForTest(); }));
  std::vector<int> expected(800);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(deliveredValues(*backend), expected);
  const PushStats stats = exporter->stats();
  EXPECT_EQ(stats.dropped_samples, 0u);
  // Only the oldest record was ever refused: every failed attempt was it.
  EXPECT_EQ(stats.failed_samples % 100, 0u);
  EXPECT_EQ(stats.retried_samples, stats.failed_samples);
}

TEST(PushExporterTest, WalHoldsPayloadsInMemoryWhileTheDiskRefusesThenResumes) {
  // The spool directory vanishes (as a full or failed disk would refuse
  // writes): payloads wait in memory, at most queue_capacity of them (the
  // oldest dropped and counted beyond), the disk is retried after a
  // backoff, not at every payload, and writing resumes once it works.
  TempDir tmp;
  Rig rig;
  auto& backend = rig.backend;
  backend->fallback = DeliveryOutcome::retry("connection refused");
  auto config = fastConfig(tmp.path());
  config.queue_capacity = 2;
  config.retry.initial_backoff = 1s;
  config.retry.max_backoff = 4s;
  ASSERT_TRUE(rig.create(config));
  auto& exporter = rig.exporter;
  const std::string dir = tmp.path() + "/t";
  std::filesystem::remove_all(dir);
  // Payload 0 is refused by the disk, then sent live (the spool is empty)
  // and retried by its sender; 1 and 2 are held, then dropped for 3 and 4.
  ASSERT_TRUE(exporter->send(batchOf(0, 100)));
  ASSERT_TRUE(waitFor([&] { return backend->attemptCount() >= 1; }));
  for (int i = 1; i < 5; ++i) ASSERT_TRUE(exporter->send(batchOf(i * 100, 100)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return exporter->stats().dropped_samples == 200; }));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return backend->attemptCount() >= 3; }));
  const PushStats refused = exporter->stats();
  EXPECT_EQ(refused.journaled_samples, 0u);
  EXPECT_EQ(refused.spooled_samples, 0u);
  // One failed write, then the backoff: the next payloads did not touch it.
  EXPECT_EQ(refused.spool_write_errors, 1u);
  EXPECT_EQ(registryValue(rig.registry, "kubemetrics_exporter_spool_write_errors_total",
                          {{"exporter", "t"}}),
            1);
  EXPECT_EQ(registryValue(rig.registry, "kubemetrics_exporter_push_dropped_samples_total",
                          {{"exporter", "t"}, {"reason", "spool_error"}}),
            200);
  ASSERT_TRUE(std::filesystem::create_directory(dir));
  {
    std::lock_guard<std::mutex> lock(backend->mu);
    backend->fallback = DeliveryOutcome::delivered();
  }
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return exporter->idleForTest(); }));
  std::vector<int> expected(100);
  std::iota(expected.begin(), expected.end(), 0);
  for (int v = 300; v < 500; ++v) expected.push_back(v);
  EXPECT_EQ(deliveredValues(*backend), expected);
  // Once payload 0 was through, the held ones went to disk or straight out.
  ASSERT_TRUE(exporter->send(batchOf(500, 100)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return backend->deliveredSamples() == 400; }));
  EXPECT_GE(exporter->stats().journaled_samples, 100u);
}

TEST(PushExporterTest, WalShutdownDeliversWhatTheBackendTakesBeforeTheDeadline) {
  TempDir tmp;
  Rig rig;
  auto config = fastConfig(tmp.path());
  config.batch.max_wait = 10s;  // still pending at shutdown
  ASSERT_TRUE(rig.create(config));
  ASSERT_TRUE(rig.exporter->send(batchOf(0, 50)));
  rig.shutdown(2s);
  EXPECT_EQ(rig.backend->deliveredSamples(), 50u);
  EXPECT_EQ(rig.exporter->stats().spool_records, 0u);
}

std::vector<std::string> journalFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".journal") files.push_back(entry.path().string());
  }
  return files;
}

std::string valuesText(int from, int count) {
  std::string text;
  for (int i = from; i < from + count; ++i) text += std::to_string(i) + ",";
  return text;
}

void walJournalsTheBatchBeingFilledUntilItIsSpooled(bool appending) {
  TempDir tmp;
  Rig rig;
  rig.appending = appending;
  auto config = fastConfig(tmp.path());
  config.batch.max_wait = 10s;
  ASSERT_TRUE(rig.create(config));
  ASSERT_TRUE(rig.exporter->send(batchOf(0, 30)));
  ASSERT_TRUE(rig.exporter->send(batchOf(30, 20)));
  // A SIGKILL now would leave this file: the 50 samples not yet cut, as
  // the encoder's bytes when it appends.
  const std::vector<std::string> files = journalFiles(tmp.path() + "/t");
  ASSERT_EQ(files.size(), 1u);
  prometheus::Registry reader_registry;
  PushMetrics reader_metrics(reader_registry, "reader");
  auto reader = BatchJournal::open(tmp.path() + "/t", reader_metrics);
  ASSERT_TRUE(reader);
  const BatchJournal::Leftover left = (*reader)->read((*reader)->leftovers().at(0));
  if (appending) {
    EXPECT_TRUE(left.samples.empty());
    EXPECT_EQ(left.encoded, valuesText(0, 50));
    EXPECT_EQ(left.encoded_samples, 50u);
  } else {
    ASSERT_EQ(left.samples.size(), 50u);
    EXPECT_EQ(left.samples.back().value, 49);
    EXPECT_TRUE(left.encoded.empty());
  }
  // Once cut and spooled, the journal goes.
  rig.exporter->flushForTest();
  EXPECT_TRUE(journalFiles(tmp.path() + "/t").empty());
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return rig.backend->deliveredSamples() == 50; }));
}

TEST(PushExporterTest, WalJournalsTheBatchBeingFilledUntilItIsSpooled) {
  forEachEncoderMode(walJournalsTheBatchBeingFilledUntilItIsSpooled);
}

// Leaves in `dir` what a run killed while filling a batch leaves: the
// journal `write` fills, never cut nor released.
void leaveKilledRunsJournal(const std::string& dir,
                            const std::function<void(BatchJournal&)>& write) {
  ASSERT_TRUE(std::filesystem::create_directories(dir));
  prometheus::Registry registry;
  PushMetrics metrics(registry, "t");
  auto killed = BatchJournal::open(dir, metrics);
  ASSERT_TRUE(killed);
  write(**killed);
}

// What a run killed with 150 samples not yet cut leaves is sent first by
// the next, before anything it adds, whatever its spool mode, and whether
// the killed run journaled samples (an encoder of whole batches, or an
// older version of the agent) or an appending encoder's bytes.
void restartSendsTheBatchAKilledRunWasFillingFirst(SpoolConfig::Mode mode, bool appending,
                                                   bool killed_appended) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/t";
  leaveKilledRunsJournal(dir, [&](BatchJournal& killed) {
    if (killed_appended) {
      killed.recordEncoded(valuesText(0, 120), 120);
      killed.recordEncoded(valuesText(120, 30), 30);
    } else {
      killed.record(batchOf(0, 120)->samples);
      killed.record(batchOf(120, 30)->samples);
    }
  });
  Rig rig;
  rig.appending = appending;
  auto config = fastConfig(tmp.path());
  config.max_in_flight = 1;
  config.spool.mode = mode;
  ASSERT_TRUE(rig.create(config));
  ASSERT_TRUE(rig.exporter->send(batchOf(150, 50)));
  // The new batch is journaled in wal mode only (the clock has not moved:
  // it is still being filled).
  EXPECT_EQ(journalFiles(dir).size(), mode == SpoolConfig::Mode::kWal ? 1u : 0u);
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return rig.exporter->idleForTest(); }));
  std::vector<int> expected(200);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(deliveredValues(*rig.backend), expected);
  EXPECT_EQ(rig.exporter->stats().journal_recovered_samples, 150u);
  EXPECT_EQ(registryValue(rig.registry, "kubemetrics_exporter_journal_recovered_samples_total",
                          {{"exporter", "t"}}),
            150);
  EXPECT_TRUE(journalFiles(dir).empty());
  std::lock_guard<std::mutex> lock(rig.backend->mu);
  // Samples are cut at max_samples: 100 + 50, then 50; bytes go as they
  // were written, one batch of the killed run (which wrote 150 here).
  EXPECT_EQ(rig.backend->delivered.size(), killed_appended ? 2u : 3u);
}

TEST(PushExporterTest, RestartSendsTheBatchAKilledRunWasFillingFirst) {
  for (const auto mode : {SpoolConfig::Mode::kWal, SpoolConfig::Mode::kOverflow}) {
    for (const bool appending : {true, false}) {
      for (const bool killed_appended : {true, false}) {
        if (killed_appended && !appending) continue;  // below
        SCOPED_TRACE(std::string(mode == SpoolConfig::Mode::kWal ? "wal" : "switched to overflow") +
                     (appending ? ", appending encoder" : ", encoder of whole batches") +
                     (killed_appended ? ", bytes left" : ", samples left"));
        restartSendsTheBatchAKilledRunWasFillingFirst(mode, appending, killed_appended);
      }
    }
  }
}

// Bytes of an appending encoder cannot go through one that does not
// append (the exporter's format changed between the runs): dropped and
// counted, never sent as something else.
TEST(PushExporterTest, EncodedLeftoversAnEncoderCannotTakeAreDroppedAndCounted) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/t";
  leaveKilledRunsJournal(dir,
                         [](BatchJournal& killed) { killed.recordEncoded(valuesText(0, 40), 40); });
  Rig rig;
  rig.appending = false;
  ASSERT_TRUE(rig.create(fastConfig(tmp.path())));
  ASSERT_TRUE(rig.exporter->send(batchOf(40, 10)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return rig.exporter->idleForTest(); }));
  EXPECT_EQ(deliveredValues(*rig.backend),
            (std::vector<int>{40, 41, 42, 43, 44, 45, 46, 47, 48, 49}));
  EXPECT_EQ(registryValue(rig.registry, "kubemetrics_exporter_push_dropped_samples_total",
                          {{"exporter", "t"}, {"reason", "encode_error"}}),
            40);
  EXPECT_TRUE(journalFiles(dir).empty());
}

TEST(PushExporterTest, FlushModeReplaysAtOnceWithShortBatchesAndBackoff) {
  // The node goes away in two minutes (a spot interruption): the replay
  // must not wait out a long backoff, nor a batch its long max_wait.
  TempDir tmp;
  Rig rig;
  auto& backend = rig.backend;
  backend->fallback = DeliveryOutcome::retry("connection refused");
  auto config = fastConfig(tmp.path());
  config.batch.max_wait = 30s;
  config.retry.initial_backoff = 10s;
  config.retry.max_backoff = 60s;
  ASSERT_TRUE(rig.create(config));
  auto& exporter = rig.exporter;
  ASSERT_TRUE(exporter->send(batchOf(0, 100)));  // a full batch: cut at once
  const std::map<std::string, std::string> labels{{"exporter", "t"}};
  // Refused, and nothing delivered since: the spool will never empty.
  ASSERT_TRUE(stepUntil(rig.clock, [&] {
    return backend->attemptCount() >= 1 &&
           std::isinf(
               registryValue(rig.registry, "kubemetrics_exporter_spool_seconds_to_empty", labels));
  }));
  {
    std::lock_guard<std::mutex> lock(backend->mu);
    backend->fallback = DeliveryOutcome::delivered();
  }
  const auto notice = rig.clock.now();
  exporter->prepareForTermination(rig.clock.wallNow() + 120s);
  EXPECT_EQ(registryValue(rig.registry, "kubemetrics_exporter_push_flush_mode", labels), 1);
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return backend->deliveredSamples() == 100; }));
  // Within the 1 s cap, not the 5-10 s backoff. The clock keeps stepping
  // while a loaded machine is slow to run the woken sender (5 ms of clock
  // per real ms), so the bound leaves 2 s of clock for that: it still tells
  // the two apart, and does not fail on a busy CI machine (it did at 1050
  // ms under TSan with both cores loaded).
  EXPECT_LE(rig.clock.now() - notice, 3s);
  // A batch that does not fill leaves after at most 1 s, not 30 s.
  const auto sent = rig.clock.now();
  ASSERT_TRUE(exporter->send(batchOf(100, 10)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return backend->deliveredSamples() == 110; }));
  EXPECT_LE(rig.clock.now() - sent, 3s);
  ASSERT_TRUE(stepUntil(rig.clock, [&] {
    return registryValue(rig.registry, "kubemetrics_exporter_spool_seconds_to_empty", labels) == 0;
  }));
}

// A receiver without an out-of-order window refuses a whole request for
// one old sample (Prometheus answers 400 "out of order sample").
std::optional<DeliveryOutcome> refuseValues(const EncodedPayload& p, const std::set<int>& old) {
  for (int v : old) {
    const std::string value = std::to_string(v) + ",";
    if (p.body.rfind(value, 0) == 0 || p.body.find("," + value) != std::string::npos) {
      return DeliveryOutcome::drop("HTTP 400: out of order sample", true);
    }
  }
  return std::nullopt;
}

TEST(PushExporterTest, ARefusedSampleIsDroppedAndTheRestOfThePayloadDelivered) {
  for (const bool wal : {true, false}) {
    SCOPED_TRACE(wal ? "wal" : "no spool");
    TempDir tmp;
    Rig rig;
    rig.backend->judge = [](const EncodedPayload& p) { return refuseValues(p, {13, 77}); };
    ASSERT_TRUE(rig.create(fastConfig(wal ? tmp.path() : "")));
    ASSERT_TRUE(rig.exporter->send(batchOf(0, 100)));
    ASSERT_TRUE(stepUntil(rig.clock, [&] { return rig.exporter->idleForTest(); }));
    std::vector<int> expected;
    for (int v = 0; v < 100; ++v) {
      if (v != 13 && v != 77) expected.push_back(v);
    }
    EXPECT_EQ(deliveredValues(*rig.backend), expected);
    const PushStats stats = rig.exporter->stats();
    EXPECT_EQ(stats.sent_samples, 98u);
    EXPECT_EQ(stats.dropped_samples, 2u);
    EXPECT_EQ(registryValue(rig.registry, "kubemetrics_exporter_push_dropped_samples_total",
                            {{"exporter", "t"}, {"reason", "rejected"}}),
              2);
    // Two halvings per refused value and level: far from one per sample.
    EXPECT_LE(stats.requests, 30u);
    EXPECT_EQ(stats.spool_records, 0u);
  }
}

TEST(PushExporterTest, ARefusalOfEverySampleEndsWithinTheSplitBudget) {
  Rig rig;
  rig.backend->fallback = DeliveryOutcome::drop("HTTP 400: too old", true);
  ASSERT_TRUE(rig.create(fastConfig("")));
  ASSERT_TRUE(rig.exporter->send(batchOf(0, 100)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return rig.exporter->idleForTest(); }));
  const PushStats stats = rig.exporter->stats();
  EXPECT_EQ(stats.dropped_samples, 100u);
  EXPECT_EQ(stats.sent_samples, 0u);
  // 64, then the parts already cut (one per halving level, 100 -> 1: 7).
  EXPECT_LE(stats.requests, 64u + 7u);
  EXPECT_GT(stats.requests, 1u);
}

TEST(PushExporterTest, ARefusedBodyIsNotSplit) {
  Rig rig;
  rig.backend->fallback = DeliveryOutcome::drop("HTTP 400: snappy: corrupt input");
  ASSERT_TRUE(rig.create(fastConfig("")));
  ASSERT_TRUE(rig.exporter->send(batchOf(0, 100)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return rig.exporter->idleForTest(); }));
  EXPECT_EQ(rig.exporter->stats().dropped_samples, 100u);
  EXPECT_EQ(rig.exporter->stats().requests, 1u);
}

TEST(PushExporterTest, UnauthorizedBacklogIsKeptUntilTheBackendAccepts) {
  // An expired token answers 401 for a while: the spooled backlog must
  // survive it (it used to be popped as "refused for good").
  TempDir tmp;
  Rig rig;
  auto& backend = rig.backend;
  backend->fallback = classifyHttpStatus(401, "", "token expired");
  ASSERT_TRUE(rig.create(fastConfig(tmp.path())));
  ASSERT_TRUE(rig.exporter->send(batchOf(0, 100)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return rig.exporter->stats().spooled_samples == 100; }));
  // Several replays are refused too.
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return backend->attemptCount() >= 6; }));
  EXPECT_EQ(rig.exporter->stats().spool_records, 1u);
  {
    std::lock_guard<std::mutex> lock(backend->mu);
    backend->fallback = DeliveryOutcome::delivered();
  }
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return rig.exporter->idleForTest(); }));
  EXPECT_EQ(backend->deliveredSamples(), 100u);
  EXPECT_EQ(rig.exporter->stats().dropped_samples, 0u);
}

TEST(PushExporterTest, ShutdownSpoolsAndRestartReplays) {
  TempDir tmp;
  auto down = std::make_shared<FakeBackend>();
  down->fallback = DeliveryOutcome::retry("connection refused");
  {
    Rig rig(down);
    auto config = fastConfig(tmp.path());
    config.batch.max_wait = 10s;  // still pending at shutdown
    ASSERT_TRUE(rig.create(config));
    ASSERT_TRUE(rig.exporter->send(batchOf(0, 50)));
    // Retries run out or the deadline passes, on the clock: spooled either way.
    rig.shutdown(300ms);
    EXPECT_EQ(rig.exporter->stats().spooled_samples, 50u);
  }
  Rig rig;
  ASSERT_TRUE(rig.create(fastConfig(tmp.path())));
  ASSERT_TRUE(waitFor([&] { return rig.backend->deliveredSamples() == 50; }));
  ASSERT_TRUE(waitFor([&] { return rig.exporter->idleForTest(); }));
}

TEST(PushExporterTest, WithoutSpoolExhaustedRetriesAreDroppedAndCounted) {
  Rig rig;
  auto& backend = rig.backend;
  backend->fallback = DeliveryOutcome::retry("HTTP 503");
  ASSERT_TRUE(rig.create(fastConfig("")));
  ASSERT_TRUE(rig.exporter->send(batchOf(0, 100)));
  ASSERT_TRUE(stepUntil(rig.clock, [&] { return rig.exporter->stats().dropped_samples == 100; }));
  EXPECT_EQ(registryValue(rig.registry, "kubemetrics_exporter_push_dropped_samples_total",
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
  // Samples refused (the rest may go in parts), or the body itself.
  EXPECT_TRUE(bad.refused_samples);
  EXPECT_TRUE(classifyHttpStatus(400, "",
                                 "the sample has been rejected because its timestamp is too "
                                 "old (err-mimir-sample-timestamp-too-old)")
                  .refused_samples);
  EXPECT_TRUE(classifyHttpStatus(400, "", "Duplicate sample for timestamp").refused_samples);
  EXPECT_FALSE(classifyHttpStatus(400, "", "snappy: corrupt input").refused_samples);
  EXPECT_FALSE(classifyHttpStatus(422, "", "").refused_samples);
  EXPECT_EQ(classifyHttpStatus(422, "", "").kind, DeliveryOutcome::Kind::kDrop);
  // The receiver's state, not the body: an expired token, a route being
  // deployed, a lowered limit. Retried, so nothing spooled is discarded.
  for (int status : {401, 403, 404, 408, 413}) {
    EXPECT_EQ(classifyHttpStatus(status, "", "").kind, DeliveryOutcome::Kind::kRetry) << status;
  }
  EXPECT_EQ(classifyHttpStatus(401, "3", "").retry_after, 3s);
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

TEST(PushConfigTest, SpoolModeIsWalUnlessOverflowIsAsked) {
  auto parse = [](const std::string& yaml, std::vector<std::string>* errors) {
    auto doc = ConfigDocument::parse(yaml, "inline");
    ConfigNode root = doc->root();
    ConfigNode spool = root.child("spool");
    SpoolConfig config = parseSpoolConfig(spool);
    for (const ConfigError& e : doc->errors()) errors->push_back(e.toString());
    return config;
  };
  std::vector<std::string> errors;
  EXPECT_EQ(parse("spool: {dir: /x}\n", &errors).mode, SpoolConfig::Mode::kWal);
  EXPECT_EQ(parse("spool: {mode: overflow}\n", &errors).mode, SpoolConfig::Mode::kOverflow);
  EXPECT_EQ(errors, std::vector<std::string>{});
  parse("spool: {mode: journal}\n", &errors);
  EXPECT_EQ(errors, std::vector<std::string>{
                        "spool.mode: expected one of wal, overflow (got \"journal\")"});
}

}  // namespace
}  // namespace kubemetrics::push
