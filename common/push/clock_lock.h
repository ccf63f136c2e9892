#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>

#include "kubemetrics/clock.h"
#include "kubemetrics/thread_annotations.h"

namespace kubemetrics::push {

/// A std::mutex with clang capability annotations that a Clock can wait on.
/// kubemetrics::Mutex hides its std::mutex, and Clock::waitUntil() needs a
/// std::unique_lock<std::mutex>, so the parts of the push exporter that
/// sleep by the clock guard their state with this instead (KM_GUARDED_BY
/// works the same). Same cost as std::mutex. Thread-safe.
class KM_CAPABILITY("mutex") ClockMutex {
 public:
  void lock() KM_ACQUIRE() { mu_.lock(); }
  void unlock() KM_RELEASE() { mu_.unlock(); }

 private:
  friend class ClockLock;
  std::mutex mu_;
};

/// Holds a ClockMutex for its scope, and sleeps on a condition variable
/// through a Clock with the mutex released meanwhile. Owned by one thread.
class KM_SCOPED_CAPABILITY ClockLock {
 public:
  explicit ClockLock(ClockMutex& mu) KM_ACQUIRE(mu) : lock_(mu.mu_) {}
  ~ClockLock() KM_RELEASE() {}
  ClockLock(const ClockLock&) = delete;
  ClockLock& operator=(const ClockLock&) = delete;

  void lock() KM_ACQUIRE() { lock_.lock(); }
  void unlock() KM_RELEASE() { lock_.unlock(); }

  /// Clock::waitUntil() on this lock: returns done() once it is true or
  /// `clock` reaches `until`. The lock is held again on return and while
  /// done() runs, so `done` may be a lambda annotated KM_REQUIRES(mu).
  bool waitUntil(const Clock& clock, std::condition_variable& cv, SteadyClock::time_point until,
                 const std::function<bool()>& done) {
    return clock.waitUntil(lock_, cv, until, done);
  }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace kubemetrics::push
