// Single-thread semantics of BoundedRing, plus the blocking waitPop()/wakeAll()
// behaviour with one helper thread. The multi-producer/multi-consumer
// invariants are in ring_stress_test.cc.

#include "kubemetrics/ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>

namespace kubemetrics {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds elapsedMs(Clock::time_point since) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - since);
}

TEST(BoundedRingTest, CapacityIsRoundedUpToPowerOfTwo) {
  EXPECT_EQ(BoundedRing<int>(0).capacity(), 2u);
  EXPECT_EQ(BoundedRing<int>(1).capacity(), 2u);
  EXPECT_EQ(BoundedRing<int>(2).capacity(), 2u);
  EXPECT_EQ(BoundedRing<int>(3).capacity(), 4u);
  EXPECT_EQ(BoundedRing<int>(5).capacity(), 8u);
  EXPECT_EQ(BoundedRing<int>(1000).capacity(), 1024u);
  EXPECT_EQ(BoundedRing<int>(1024).capacity(), 1024u);
  EXPECT_EQ(BoundedRing<int>(1025).capacity(), 2048u);
}

TEST(BoundedRingTest, RoundedCapacityIsUsable) {
  BoundedRing<int> ring(5);  // rounded up to 8
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(ring.tryPush(i)) << i;
  EXPECT_FALSE(ring.tryPush(8));
  EXPECT_EQ(ring.sizeApprox(), 8u);
}

TEST(BoundedRingTest, PopsInFifoOrder) {
  BoundedRing<int> ring(16);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(ring.tryPush(i));
  EXPECT_EQ(ring.sizeApprox(), 10u);
  for (int i = 0; i < 10; ++i) {
    const std::optional<int> item = ring.tryPop();
    ASSERT_TRUE(item.has_value()) << i;
    EXPECT_EQ(*item, i);
  }
  EXPECT_EQ(ring.sizeApprox(), 0u);
  EXPECT_FALSE(ring.tryPop().has_value());
}

TEST(BoundedRingTest, FifoOrderHoldsAcrossManyLaps) {
  // Interleaved pushes and pops wrap the indices around the cells many times.
  BoundedRing<std::uint64_t> ring(4);
  std::uint64_t next_push = 0;
  std::uint64_t next_pop = 0;
  for (int round = 0; round < 1000; ++round) {
    const int pushes = 1 + round % 4;
    for (int i = 0; i < pushes; ++i) ASSERT_TRUE(ring.tryPush(next_push++));
    for (int i = 0; i < pushes; ++i) {
      const auto item = ring.tryPop();
      ASSERT_TRUE(item.has_value());
      ASSERT_EQ(*item, next_pop++);
    }
  }
  EXPECT_FALSE(ring.tryPop().has_value());
  EXPECT_EQ(next_push, next_pop);
}

TEST(BoundedRingTest, TryPushFailsWhenFullAndLeavesRingUnchanged) {
  BoundedRing<int> ring(4);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(ring.tryPush(100 + i));
  EXPECT_FALSE(ring.tryPush(999));
  EXPECT_FALSE(ring.tryPush(998));
  EXPECT_EQ(ring.sizeApprox(), 4u);
  // The rejected items are nowhere; the accepted ones are intact and in order.
  for (int i = 0; i < 4; ++i) {
    const auto item = ring.tryPop();
    ASSERT_TRUE(item.has_value());
    EXPECT_EQ(*item, 100 + i);
  }
  EXPECT_FALSE(ring.tryPop().has_value());
  // Popping one frees exactly one slot.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(ring.tryPush(i));
  ASSERT_EQ(ring.tryPop(), std::optional<int>(0));
  EXPECT_TRUE(ring.tryPush(4));
  EXPECT_FALSE(ring.tryPush(5));
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(ring.tryPop(), std::optional<int>(i));
}

TEST(BoundedRingTest, TryPopReturnsNulloptWhenEmpty) {
  BoundedRing<int> ring(8);
  EXPECT_FALSE(ring.tryPop().has_value());
  ASSERT_TRUE(ring.tryPush(7));
  EXPECT_EQ(ring.tryPop(), std::optional<int>(7));
  EXPECT_FALSE(ring.tryPop().has_value());
  EXPECT_FALSE(ring.tryPop().has_value());
}

TEST(BoundedRingTest, StoresPointers) {
  int a = 1;
  int b = 2;
  BoundedRing<int*> ring(2);
  ASSERT_TRUE(ring.tryPush(&a));
  ASSERT_TRUE(ring.tryPush(&b));
  EXPECT_EQ(ring.tryPop(), std::optional<int*>(&a));
  EXPECT_EQ(ring.tryPop(), std::optional<int*>(&b));
}

TEST(BoundedRingTest, WaitPopReturnsQueuedItemImmediately) {
  BoundedRing<int> ring(8);
  ASSERT_TRUE(ring.tryPush(3));
  const auto start = Clock::now();
  EXPECT_EQ(ring.waitPop(milliseconds(5000)), std::optional<int>(3));
  EXPECT_LT(elapsedMs(start), milliseconds(1000));
}

TEST(BoundedRingTest, WaitPopTimesOutWhenEmpty) {
  BoundedRing<int> ring(8);
  const auto start = Clock::now();
  EXPECT_FALSE(ring.waitPop(milliseconds(100)).has_value());
  const milliseconds took = elapsedMs(start);
  EXPECT_GE(took, milliseconds(95));  // steady_clock: no early return
  EXPECT_LT(took, milliseconds(2000));
}

TEST(BoundedRingTest, WaitPopWithZeroTimeoutDoesNotBlock) {
  BoundedRing<int> ring(8);
  const auto start = Clock::now();
  EXPECT_FALSE(ring.waitPop(milliseconds(0)).has_value());
  EXPECT_LT(elapsedMs(start), milliseconds(1000));
}

TEST(BoundedRingTest, WaitsThatSpinInVainShortenTheSpin) {
  // Each empty wait halves how long the next one spins, down to the floor;
  // waits still take what is queued and sleep until the timeout.
  BoundedRing<int> ring(8);
  EXPECT_EQ(ring.spinsForTest(), 64);
  for (int expected : {32, 16, 8, 4, 2, 2}) {
    EXPECT_FALSE(ring.waitPop(milliseconds(0)).has_value());
    EXPECT_EQ(ring.spinsForTest(), expected);
  }
  ASSERT_TRUE(ring.tryPush(5));
  EXPECT_EQ(ring.waitPop(milliseconds(5000)), std::optional<int>(5));
  // Found at the first look: spinning neither helped nor failed.
  EXPECT_EQ(ring.spinsForTest(), 2);
  EXPECT_FALSE(ring.waitPop(milliseconds(20)).has_value());
}

TEST(BoundedRingTest, WaitPopWakesPromptlyOnPushFromAnotherThread) {
  BoundedRing<int> ring(8);
  std::atomic<bool> waiting{false};
  std::thread producer([&] {
    // Wait (bounded) until the consumer is about to sleep, then give it a
    // moment to actually block so the push has to wake it.
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (!waiting.load() && Clock::now() < deadline) std::this_thread::yield();
    std::this_thread::sleep_for(milliseconds(50));
    EXPECT_TRUE(ring.tryPush(42));
  });
  const auto start = Clock::now();
  waiting.store(true);
  const std::optional<int> item = ring.waitPop(milliseconds(10000));
  const milliseconds took = elapsedMs(start);
  producer.join();
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(*item, 42);
  EXPECT_LT(took, milliseconds(3000)) << "woken by the timeout, not by the push";
}

TEST(BoundedRingTest, WakeAllWakesASleeperBeforeItsTimeout) {
  BoundedRing<int> ring(8);
  std::atomic<bool> returned{false};
  std::optional<int> result{-1};
  milliseconds took{0};
  std::thread consumer([&] {
    const auto start = Clock::now();
    result = ring.waitPop(milliseconds(10000));
    took = elapsedMs(start);
    returned.store(true);
  });
  // Keep waking until the consumer returns (a wakeAll() issued before it went
  // to sleep is allowed to be missed), bounded at 5 s of the 10 s timeout.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (!returned.load() && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
    ring.wakeAll();
  }
  consumer.join();
  EXPECT_FALSE(result.has_value());  // nothing was pushed
  EXPECT_LT(took, milliseconds(5000)) << "wakeAll() did not end waitPop()";
}

TEST(BoundedRingTest, WakeAllWakesEverySleeper) {
  BoundedRing<int> ring(8);
  constexpr int kSleepers = 3;
  std::atomic<int> returned{0};
  std::atomic<int> slow{0};
  std::thread consumers[kSleepers];
  for (auto& t : consumers) {
    t = std::thread([&] {
      const auto start = Clock::now();
      EXPECT_FALSE(ring.waitPop(milliseconds(10000)).has_value());
      if (elapsedMs(start) >= milliseconds(5000)) slow.fetch_add(1);
      returned.fetch_add(1);
    });
  }
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (returned.load() < kSleepers && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
    ring.wakeAll();
  }
  for (auto& t : consumers) t.join();
  EXPECT_EQ(slow.load(), 0);
}

TEST(BoundedRingTest, WakeAllDoesNotEndLaterWaits) {
  // wakeAll() ends the waits in progress, not the ones that start after it.
  BoundedRing<int> ring(8);
  ring.wakeAll();
  const auto start = Clock::now();
  EXPECT_FALSE(ring.waitPop(milliseconds(100)).has_value());
  EXPECT_GE(elapsedMs(start), milliseconds(95));
}

TEST(BoundedRingTest, RingWorksNormallyAfterWakeAll) {
  BoundedRing<int> ring(8);
  std::atomic<bool> returned{false};
  std::optional<int> result;
  std::thread consumer([&] {
    result = ring.waitPop(milliseconds(10000));
    returned.store(true);
  });
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (!returned.load() && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
    ring.wakeAll();
  }
  consumer.join();
  EXPECT_FALSE(result.has_value());
  // The ring still works normally afterwards.
  ASSERT_TRUE(ring.tryPush(5));
  EXPECT_EQ(ring.waitPop(milliseconds(1000)), std::optional<int>(5));
}

TEST(BoundedRingTest, WakeAllWithoutSleepersIsHarmless) {
  BoundedRing<int> ring(8);
  ring.wakeAll();
  ASSERT_TRUE(ring.tryPush(1));
  ring.wakeAll();
  EXPECT_EQ(ring.tryPop(), std::optional<int>(1));
  EXPECT_FALSE(ring.tryPop().has_value());
}

}  // namespace
}  // namespace kubemetrics
