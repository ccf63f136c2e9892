// BoundedRing micro benchmarks.
//
//   BM_RingPushPopPair      one thread: tryPush then tryPop (uncontended cost)
//   BM_RingBurst            one thread: fill 512, then drain 512
//   BM_RingThroughput       P producers (the benchmark thread plus P-1 helpers)
//                           into one ring, one consumer thread draining.
//                           Items/s counts what the consumer popped while the
//                           timer ran (real time). spin=0: the consumer uses
//                           waitPop() as the pipeline does, so when it is
//                           faster than the producers it sleeps and pushes pay
//                           for the wake-up; spin=1: it polls tryPop() and
//                           yields, which isolates the ring's own cost.
//
// Producers retry a full ring with a yield, so on a machine with fewer cores
// than threads the figures include scheduling; compare runs on one machine.

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "kubemetrics/ring.h"

namespace kubemetrics {
namespace {

void BM_RingPushPopPair(benchmark::State& state) {
  BoundedRing<std::uint64_t> ring(1024);
  std::uint64_t i = 0;
  for (auto _ : state) {
    const bool pushed = ring.tryPush(i++);
    auto item = ring.tryPop();
    benchmark::DoNotOptimize(pushed);
    benchmark::DoNotOptimize(item);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RingPushPopPair);

void BM_RingBurst(benchmark::State& state) {
  constexpr int kBurst = 512;
  BoundedRing<std::uint64_t> ring(kBurst);
  std::uint64_t sum = 0;
  for (auto _ : state) {
    for (int i = 0; i < kBurst; ++i) benchmark::DoNotOptimize(ring.tryPush(i));
    for (int i = 0; i < kBurst; ++i) sum += ring.tryPop().value_or(0);
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * kBurst);
}
BENCHMARK(BM_RingBurst);

void pushOrYield(BoundedRing<std::uint64_t>& ring, std::uint64_t item) {
  while (!ring.tryPush(item)) std::this_thread::yield();
}

void BM_RingThroughput(benchmark::State& state) {
  const int producers = static_cast<int>(state.range(0));
  BoundedRing<std::uint64_t> ring(static_cast<std::size_t>(state.range(1)));
  std::atomic<bool> stop_producers{false};
  std::atomic<bool> stop_consumer{false};
  std::atomic<std::uint64_t> consumed{0};

  const bool spin = state.range(2) != 0;
  std::thread consumer([&] {
    std::uint64_t local = 0;
    for (;;) {
      const auto item = spin ? ring.tryPop() : ring.waitPop(std::chrono::milliseconds(1));
      if (item) {
        // Publish every few items: one shared counter write per pop would be
        // the bottleneck being measured.
        if ((++local & 63) == 0) consumed.store(local, std::memory_order_relaxed);
      } else if (stop_consumer.load(std::memory_order_acquire)) {
        break;
      } else if (spin) {
        std::this_thread::yield();
      }
    }
    consumed.store(local, std::memory_order_relaxed);
  });
  std::vector<std::thread> helpers;
  for (int p = 1; p < producers; ++p) {
    helpers.emplace_back([&, p] {
      std::uint64_t seq = 0;
      while (!stop_producers.load(std::memory_order_relaxed)) {
        pushOrYield(ring, (static_cast<std::uint64_t>(p) << 48) | seq++);
      }
    });
  }

  const std::uint64_t start = consumed.load(std::memory_order_relaxed);
  std::uint64_t seq = 0;
  for (auto _ : state) pushOrYield(ring, seq++);
  const std::uint64_t end = consumed.load(std::memory_order_relaxed);

  stop_producers.store(true);
  for (std::thread& t : helpers) t.join();
  stop_consumer.store(true, std::memory_order_release);
  ring.wakeAll();
  consumer.join();

  state.SetItemsProcessed(static_cast<std::int64_t>(end - start));
  state.counters["producers"] = producers;
}
BENCHMARK(BM_RingThroughput)
    ->ArgNames({"producers", "capacity", "spin"})
    ->ArgsProduct({{1, 2}, {1024, 65536}, {0, 1}})
    ->UseRealTime()
    ->MinTime(0.5);

}  // namespace
}  // namespace kubemetrics
