#pragma once

// Driving a push exporter's ManualClock from a test (push exporter, remote
// write and wavefront tests).

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <utility>

#include "support/manual_clock.h"

namespace kubemetrics::testing {

/// Steps `clock` by `step` until `done()` holds, pausing a millisecond of
/// real time between steps so the exporter's threads (a ManualClock sleeper
/// looks at the time every real millisecond) can act on each step. When a
/// timer fires is decided by the manual time alone: a sender cannot retry
/// before its backoff has passed on the clock, so a test may assert lower
/// bounds on manual times whatever the machine's speed. Real time only
/// bounds a hang: false when `done()` still fails after `limit`.
template <class Pred>
bool stepUntil(ManualClock& clock, Pred done,
               std::chrono::milliseconds step = std::chrono::milliseconds(5),
               std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < give_up) {
    if (done()) return true;
    clock.advance(step);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

/// Steps `clock` by `step` every real millisecond while it lives, for a
/// call that waits by the clock itself (PushExporter::shutdown(), an
/// exporter's destructor), so the call cannot wait for a manual time that
/// never comes. Owned by the test thread.
class ClockStepper {
 public:
  explicit ClockStepper(ManualClock& clock,
                        std::chrono::milliseconds step = std::chrono::milliseconds(5))
      : thread_([this, &clock, step] {
          while (!stop_.load()) {
            clock.advance(step);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
        }) {}
  ~ClockStepper() {
    stop_ = true;
    thread_.join();
  }
  ClockStepper(const ClockStepper&) = delete;
  ClockStepper& operator=(const ClockStepper&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

/// Calls `fn` when it goes out of scope, while a ClockStepper steps
/// `clock`. Declared after an exporter on a manual clock, it shuts the
/// exporter down even when an assertion has returned early, and a sender
/// asleep in manual time cannot hold that up for ever. Owned by the test
/// thread.
class ScopeExitStepping {
 public:
  ScopeExitStepping(ManualClock& clock, std::function<void()> fn)
      : clock_(clock), fn_(std::move(fn)) {}
  ~ScopeExitStepping() {
    ClockStepper stepper(clock_);
    fn_();
  }
  ScopeExitStepping(const ScopeExitStepping&) = delete;
  ScopeExitStepping& operator=(const ScopeExitStepping&) = delete;

 private:
  ManualClock& clock_;
  std::function<void()> fn_;
};

}  // namespace kubemetrics::testing
