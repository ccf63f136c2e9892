#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

#include "kubemetrics/clock.h"

namespace kubemetrics::testing {

/// A Clock that moves only when the test calls advance(): a component's
/// schedule, backoff and batching timers follow the test's steps, whatever
/// the machine's speed. Starts at the real steady time of its construction
/// (so a real deadline computed from it stays sensible) and at a fixed wall
/// time.
///
/// waitUntil() re-checks its condition and the time every millisecond of
/// real time, so advance() needs no list of waiters to wake: a waiter sees
/// the new time within a millisecond, and whether it wakes is decided by the
/// manual time alone. Thread-safe.
class ManualClock final : public Clock {
 public:
  /// 2026-11-26T00:00:00Z, an arbitrary fixed wall time.
  static constexpr std::int64_t kStartWallMs = 1795651200000;

  ManualClock()
      : steady_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(
                       SteadyClock::now().time_since_epoch())
                       .count()),
        wall_ms_(kStartWallMs) {}

  SteadyClock::time_point now() const override {
    return SteadyClock::time_point(std::chrono::duration_cast<SteadyClock::duration>(
        std::chrono::nanoseconds(steady_ns_.load(std::memory_order_acquire))));
  }
  std::chrono::system_clock::time_point wallNow() const override {
    return std::chrono::system_clock::time_point(
        std::chrono::milliseconds(wall_ms_.load(std::memory_order_acquire)));
  }
  bool waitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 SteadyClock::time_point until, const std::function<bool()>& done) const override {
    waiting_.fetch_add(1, std::memory_order_acq_rel);
    bool result = done();
    while (!result && now() < until) {
      cv.wait_for(lock, std::chrono::milliseconds(1));
      result = done();
    }
    waiting_.fetch_sub(1, std::memory_order_acq_rel);
    return result;
  }

  /// Moves both clocks forward by `d`.
  void advance(std::chrono::nanoseconds d) {
    steady_ns_.fetch_add(d.count(), std::memory_order_acq_rel);
    wall_ms_.fetch_add(std::chrono::duration_cast<std::chrono::milliseconds>(d).count(),
                       std::memory_order_acq_rel);
  }
  /// Steps the wall clock alone (a backward NTP step, say).
  void stepWall(std::chrono::milliseconds d) {
    wall_ms_.fetch_add(d.count(), std::memory_order_acq_rel);
  }
  /// Threads inside waitUntil() now: a test may wait for a component to be
  /// asleep before it advances the time.
  int waiting() const { return waiting_.load(std::memory_order_acquire); }

 private:
  std::atomic<std::int64_t> steady_ns_;
  std::atomic<std::int64_t> wall_ms_;
  mutable std::atomic<int> waiting_{0};
};

}  // namespace kubemetrics::testing
