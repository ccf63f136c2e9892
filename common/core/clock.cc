#include "kubemetrics/clock.h"

namespace kubemetrics {
namespace {

class SystemClock final : public Clock {
 public:
  SteadyClock::time_point now() const override { return SteadyClock::now(); }
  std::chrono::system_clock::time_point wallNow() const override {
    return std::chrono::system_clock::now();
  }
  bool waitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 SteadyClock::time_point until, const std::function<bool()>& done) const override {
    return cv.wait_until(lock, until, done);
  }
};

}  // namespace

const Clock& systemClock() {
  static const SystemClock clock;
  return clock;
}

}  // namespace kubemetrics
