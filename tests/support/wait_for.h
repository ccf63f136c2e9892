#pragma once
// Bounded polling for tests that wait on another thread or process.

#include <chrono>
#include <thread>

namespace kubemetrics::testing {

/// Calls `done` every `every` of real time until it holds; false when it
/// still fails after `limit`. The limit bounds a hang and is no timing
/// assertion: a test waits for the very state it asserts next, never for
/// time to pass. `done` runs on the calling thread and must read shared
/// state safely (atomics, or a lock it takes itself).
template <class Pred>
bool waitFor(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(15),
             std::chrono::milliseconds every = std::chrono::milliseconds(10)) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < give_up) {
    if (done()) return true;
    std::this_thread::sleep_for(every);
  }
  return done();
}

}  // namespace kubemetrics::testing
