#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

#include "kubemetrics/deadline.h"

namespace kubemetrics {

/// Where a component that schedules by time reads the time and sleeps: the
/// monotonic clock for intervals, backoff and deadlines, the wall clock for
/// sample timestamps only. The agent gives every component systemClock();
/// a test gives it a clock it steps by hand (tests/support/manual_clock.h),
/// so what happens after "30 s" is decided by the test, not by how busy the
/// machine is. Network I/O keeps real time: an HttpClient deadline is a real
/// deadline.
///
/// Implementations are thread-safe; the instance outlives its users.
class Clock {
 public:
  virtual ~Clock() = default;

  /// Monotonic time.
  virtual SteadyClock::time_point now() const = 0;
  /// Wall-clock time (may step backwards); sample timestamps only.
  virtual std::chrono::system_clock::time_point wallNow() const = 0;
  /// Waits on `cv`, whose mutex `lock` holds, until `done()` is true or
  /// now() reaches `until`, and returns done(). A thread that sleeps for a
  /// time calls this instead of cv.wait_until, so a test clock can move the
  /// time and wake it. `done` runs with the lock held.
  virtual bool waitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         SteadyClock::time_point until,
                         const std::function<bool()>& done) const = 0;

  /// wallNow() in milliseconds since the Unix epoch.
  std::int64_t wallMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(wallNow().time_since_epoch())
        .count();
  }
};

/// The real clocks (std::chrono::steady_clock and system_clock). Lives for
/// the whole process; thread-safe.
const Clock& systemClock();

}  // namespace kubemetrics
