#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>

#include "common/push/push_exporter.h"
#include "kubemetrics/mutex.h"

namespace kubemetrics::push {

/// The retry schedule of one PushExporter (retry.initial_backoff doubling up
/// to retry.max_backoff), shared by the sender pool (live payloads) and the
/// spool replayer (replays). Each caller keeps its own current backoff and
/// asks this class for the next one and for the jittered wait.
///
/// Thread-safe: the configuration is immutable after construction but for
/// the cap, an atomic that only shrinks (flush mode); the random engine is
/// under its own mutex (a leaf).
class Backoff {
 public:
  explicit Backoff(const PushConfig::Retry& retry)
      : retry_(retry), cap_ms_(retry.max_backoff.count()) {}

  std::chrono::milliseconds initial() const { return std::min(retry_.initial_backoff, cap()); }
  /// `backoff` doubled, capped at retry.max_backoff (or the flush cap).
  std::chrono::milliseconds next(std::chrono::milliseconds backoff) const {
    return std::min(backoff * 2, cap());
  }
  /// The longest wait from now on: retry.max_backoff, or less once capAt()
  /// lowered it.
  std::chrono::milliseconds cap() const {
    return std::chrono::milliseconds(cap_ms_.load(std::memory_order_relaxed));
  }
  /// Lowers the cap of every later wait to `cap` (never raises it).
  void capAt(std::chrono::milliseconds cap) {
    std::int64_t now = cap_ms_.load(std::memory_order_relaxed);
    while (cap.count() < now && !cap_ms_.compare_exchange_weak(now, cap.count())) {
    }
  }
  /// How long to wait before retrying after `outcome`: `backoff` with
  /// "equal jitter" (half fixed, half random, so senders that failed
  /// together do not retry together), or the backend's Retry-After when that
  /// is longer, capped at retry.max_backoff.
  std::chrono::milliseconds waitFor(std::chrono::milliseconds backoff,
                                    const DeliveryOutcome& outcome);

 private:
  std::chrono::milliseconds jittered(std::chrono::milliseconds backoff);

  const PushConfig::Retry retry_;
  std::atomic<std::int64_t> cap_ms_;
  Mutex rng_mu_;
  std::mt19937_64 rng_ KM_GUARDED_BY(rng_mu_){std::random_device{}()};
};

}  // namespace kubemetrics::push
