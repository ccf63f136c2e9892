// Multi-producer / multi-consumer stress of BoundedRing. Built and run under
// ThreadSanitizer in CI (KM_TEST_SUBSET=tsan), so every payload is published
// through the ring only: producers write a plain array slot before pushing its
// index, consumers read it after popping, and TSan checks that the ring's
// release/acquire pairs order the two.
//
// Everything is bounded: producers and consumers give up at a deadline and the
// test fails instead of hanging.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include "kubemetrics/ring.h"

#if defined(__SANITIZE_THREAD__)
#define KM_RING_STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KM_RING_STRESS_TSAN 1
#endif
#endif

namespace kubemetrics {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

#if defined(KM_RING_STRESS_TSAN)
constexpr std::uint64_t kTotalItems = 2'000'000;  // TSan is ~10x slower
constexpr auto kDeadline = std::chrono::seconds(120);
#else
constexpr std::uint64_t kTotalItems = 4'000'000;
constexpr auto kDeadline = std::chrono::seconds(60);
#endif

constexpr int kProducers = 4;
constexpr int kConsumers = 2;
constexpr int kSeqBits = 40;
constexpr std::uint64_t kSeqMask = (std::uint64_t{1} << kSeqBits) - 1;

std::uint64_t encode(int producer, std::uint64_t seq) {
  return (static_cast<std::uint64_t>(producer) << kSeqBits) | seq;
}
int producerOf(std::uint64_t item) { return static_cast<int>(item >> kSeqBits); }
std::uint64_t seqOf(std::uint64_t item) { return item & kSeqMask; }

// The payload a producer stores for (producer, seq); any function of both.
std::uint64_t payloadFor(int producer, std::uint64_t seq) {
  return (seq * 0x9e3779b97f4a7c15ULL) ^ (static_cast<std::uint64_t>(producer) + 1);
}

/// What one consumer saw, checked as it goes.
struct ConsumerLog {
  std::vector<std::uint64_t> items;  // everything it popped, in pop order
  std::uint64_t out_of_order = 0;    // seq not above the last one from that producer
  std::uint64_t bad_producer = 0;    // producer id out of range
  std::uint64_t bad_payload = 0;     // array slot did not hold what the producer wrote
};

/// Pops with waitPop() until `done` is set and the ring is then empty, or the
/// deadline passes. `slow` adds a pause after each item.
void consume(BoundedRing<std::uint64_t>& ring, const std::atomic<bool>& done,
             const std::vector<std::vector<std::uint64_t>>& payloads, Clock::time_point deadline,
             bool slow, ConsumerLog& log) {
  std::vector<std::int64_t> last(kProducers, -1);
  const auto take = [&](std::uint64_t item) {
    const int p = producerOf(item);
    if (p < 0 || p >= kProducers) {
      ++log.bad_producer;
      return;
    }
    const std::uint64_t seq = seqOf(item);
    if (static_cast<std::int64_t>(seq) <= last[p]) ++log.out_of_order;
    last[p] = static_cast<std::int64_t>(seq);
    if (seq >= payloads[p].size() || payloads[p][seq] != payloadFor(p, seq)) ++log.bad_payload;
    log.items.push_back(item);
  };
  while (Clock::now() < deadline) {
    if (std::optional<std::uint64_t> item = ring.waitPop(milliseconds(10))) {
      take(*item);
      if (slow) std::this_thread::sleep_for(std::chrono::microseconds(50));
      continue;
    }
    if (done.load(std::memory_order_acquire)) {
      // Every push happened before `done`: an empty ring now stays empty.
      while (std::optional<std::uint64_t> item = ring.tryPop()) take(*item);
      return;
    }
  }
}

/// Per producer, how many times each sequence number was consumed.
std::vector<std::vector<std::uint8_t>> countSeen(const std::vector<ConsumerLog>& logs,
                                                 std::uint64_t per_producer) {
  std::vector<std::vector<std::uint8_t>> seen(kProducers,
                                              std::vector<std::uint8_t>(per_producer, 0));
  for (const ConsumerLog& log : logs) {
    for (std::uint64_t item : log.items) {
      const int p = producerOf(item);
      const std::uint64_t seq = seqOf(item);
      if (p >= 0 && p < kProducers && seq < per_producer && seen[p][seq] < 255) ++seen[p][seq];
    }
  }
  return seen;
}

void expectCleanLogs(const std::vector<ConsumerLog>& logs) {
  for (std::size_t c = 0; c < logs.size(); ++c) {
    EXPECT_EQ(logs[c].out_of_order, 0u) << "consumer " << c << " saw a producer's items reordered";
    EXPECT_EQ(logs[c].bad_producer, 0u) << "consumer " << c;
    EXPECT_EQ(logs[c].bad_payload, 0u) << "consumer " << c << " read an unpublished payload";
  }
}

TEST(BoundedRingStressTest, FourProducersTwoConsumersNoLossNoDuplicateOrdered) {
  constexpr std::uint64_t kPerProducer = kTotalItems / kProducers;
  BoundedRing<std::uint64_t> ring(1024);  // small: producers keep hitting full
  const Clock::time_point deadline = Clock::now() + kDeadline;

  std::vector<std::vector<std::uint64_t>> payloads(kProducers,
                                                   std::vector<std::uint64_t>(kPerProducer, 0));
  std::atomic<bool> done{false};
  std::atomic<bool> producer_timed_out{false};
  std::vector<std::uint64_t> full_retries(kProducers, 0);
  std::vector<ConsumerLog> logs(kConsumers);
  for (ConsumerLog& log : logs) log.items.reserve(kTotalItems / kConsumers + kTotalItems / 8);

  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back(
        [&, c] { consume(ring, done, payloads, deadline, /*slow=*/false, logs[c]); });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      std::uint64_t retries = 0;
      for (std::uint64_t seq = 0; seq < kPerProducer; ++seq) {
        payloads[p][seq] = payloadFor(p, seq);  // published by the push below
        while (!ring.tryPush(encode(p, seq))) {
          // Full: retry. Look at the clock only now and then; it is not free.
          if (++retries % 256 == 0 && Clock::now() >= deadline) {
            producer_timed_out.store(true);
            full_retries[p] = retries;
            return;
          }
          std::this_thread::yield();
        }
      }
      full_retries[p] = retries;
    });
  }
  for (std::thread& t : producers) t.join();
  done.store(true, std::memory_order_release);
  ring.wakeAll();
  for (std::thread& t : consumers) t.join();

  ASSERT_FALSE(producer_timed_out.load()) << "producers did not finish before the deadline";
  ASSERT_LT(Clock::now(), deadline) << "consumers did not drain before the deadline";
  expectCleanLogs(logs);

  std::uint64_t consumed = 0;
  for (const ConsumerLog& log : logs) consumed += log.items.size();
  EXPECT_EQ(consumed, kPerProducer * kProducers);
  const auto seen = countSeen(logs, kPerProducer);
  for (int p = 0; p < kProducers; ++p) {
    const auto lost = std::count(seen[p].begin(), seen[p].end(), 0);
    const auto dup = std::count_if(seen[p].begin(), seen[p].end(), [](auto n) { return n > 1; });
    EXPECT_EQ(lost, 0) << "producer " << p << ": items lost";
    EXPECT_EQ(dup, 0) << "producer " << p << ": items consumed twice";
  }
  // Both consumers took part, and the ring really was full at times: the test
  // exercised the full path, not just an always-empty ring.
  for (std::size_t c = 0; c < logs.size(); ++c) EXPECT_GT(logs[c].items.size(), 0u) << c;
  std::uint64_t total_retries = 0;
  for (std::uint64_t r : full_retries) total_retries += r;
  EXPECT_GT(total_retries, 0u) << "the ring never filled up";
  EXPECT_EQ(ring.sizeApprox(), 0u);
  RecordProperty("full_retries", static_cast<int>(std::min<std::uint64_t>(total_retries, 1 << 30)));
}

TEST(BoundedRingStressTest, DropNewestAccountsForEveryAttempt) {
  // Producers never retry: a failed tryPush is a drop, counted per producer,
  // as the pipeline's drop-newest policy does. Consumers are slow and the ring
  // tiny, so most attempts are dropped.
#if defined(KM_RING_STRESS_TSAN)
  constexpr std::uint64_t kAttempts = 20'000;
#else
  constexpr std::uint64_t kAttempts = 100'000;
#endif
  BoundedRing<std::uint64_t> ring(8);
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(60);

  std::vector<std::vector<std::uint64_t>> payloads(kProducers,
                                                   std::vector<std::uint64_t>(kAttempts, 0));
  std::atomic<bool> done{false};
  std::vector<std::uint64_t> accepted(kProducers, 0);
  std::vector<std::uint64_t> dropped(kProducers, 0);
  std::atomic<std::uint64_t> over_capacity{0};
  std::vector<ConsumerLog> logs(kConsumers);

  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back(
        [&, c] { consume(ring, done, payloads, deadline, /*slow=*/true, logs[c]); });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (std::uint64_t seq = 0; seq < kAttempts; ++seq) {
        payloads[p][seq] = payloadFor(p, seq);
        if (ring.tryPush(encode(p, seq))) {
          ++accepted[p];
        } else {
          ++dropped[p];
          if (ring.sizeApprox() > ring.capacity()) over_capacity.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : producers) t.join();
  done.store(true, std::memory_order_release);
  ring.wakeAll();
  for (std::thread& t : consumers) t.join();

  ASSERT_LT(Clock::now(), deadline) << "consumers did not drain before the deadline";
  expectCleanLogs(logs);
  EXPECT_EQ(over_capacity.load(), 0u);

  const auto seen = countSeen(logs, kAttempts);
  std::uint64_t total_dropped = 0;
  std::uint64_t total_consumed = 0;
  for (int p = 0; p < kProducers; ++p) {
    const auto consumed = static_cast<std::uint64_t>(
        std::count_if(seen[p].begin(), seen[p].end(), [](auto n) { return n > 0; }));
    const auto dup = std::count_if(seen[p].begin(), seen[p].end(), [](auto n) { return n > 1; });
    EXPECT_EQ(dup, 0) << "producer " << p << ": items consumed twice";
    EXPECT_EQ(accepted[p] + dropped[p], kAttempts) << "producer " << p;
    EXPECT_EQ(consumed + dropped[p], kAttempts) << "producer " << p << ": accepted items lost";
    EXPECT_EQ(consumed, accepted[p]) << "producer " << p;
    total_dropped += dropped[p];
    total_consumed += consumed;
  }
  std::uint64_t popped = 0;
  for (const ConsumerLog& log : logs) popped += log.items.size();
  EXPECT_EQ(popped, total_consumed);
  EXPECT_GT(total_dropped, 0u) << "the ring never filled: the test did not test dropping";
  EXPECT_GT(total_consumed, 0u);
  EXPECT_EQ(ring.sizeApprox(), 0u);
}

}  // namespace
}  // namespace kubemetrics
