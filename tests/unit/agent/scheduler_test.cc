#include "agent/scheduler.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/manual_clock.h"

namespace kubemetrics {
namespace {

using std::chrono::milliseconds;

// Records the (manual) time at which each of its scrapes began.
class RecordingSource : public Source {
 public:
  RecordingSource(std::string name, milliseconds interval, milliseconds phase, const Clock& clock)
      : name_(std::move(name)), interval_(interval), phase_(phase), clock_(clock) {}

  std::string_view name() const override { return name_; }
  milliseconds interval() const override { return interval_; }
  milliseconds phase() const override { return phase_; }
  Result<ScrapeStats> scrape(SampleBatch&, Deadline) override {
    std::lock_guard<std::mutex> lock(mu_);
    began_.push_back(clock_.now());
    return ScrapeStats{};
  }
  std::vector<SteadyClock::time_point> began() const {
    std::lock_guard<std::mutex> lock(mu_);
    return began_;
  }

 private:
  std::string name_;
  milliseconds interval_;
  milliseconds phase_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::vector<SteadyClock::time_point> began_;
};

// Waits (bounded in real time) until `source` has scraped `count` times and
// every scheduler thread is asleep again, so the next advance() of the
// clock is the only thing that can wake one.
bool settle(const testing::ManualClock& clock, const RecordingSource& source, std::size_t count,
            int threads) {
  const auto give_up = SteadyClock::now() + std::chrono::seconds(10);
  while (SteadyClock::now() < give_up) {
    if (source.began().size() >= count && clock.waiting() == threads) return true;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return false;
}

// The phase holds for every scrape, not only the first: two sources of one
// interval half an interval apart stay exactly half an interval apart.
// (Before, the first scrape was delayed inside the source and the
// fixed-rate schedule brought every later one back into step with the
// others.)
TEST(SchedulerTest, SourcesKeepTheirPhaseOnEveryScrape) {
  constexpr milliseconds kInterval(600);
  constexpr milliseconds kPhase(300);
  testing::ManualClock clock;
  const auto start = clock.now();
  auto early = std::make_unique<RecordingSource>("early", kInterval, milliseconds(0), clock);
  auto late = std::make_unique<RecordingSource>("late", kInterval, kPhase, clock);
  RecordingSource* a = early.get();
  RecordingSource* b = late.get();
  std::vector<SourcePtr> sources;
  sources.push_back(std::move(early));
  sources.push_back(std::move(late));
  prometheus::Registry registry;
  Scheduler scheduler(
      std::move(sources), [](SampleBatchPtr) {}, registry, clock);
  scheduler.start();
  ASSERT_TRUE(settle(clock, *a, 1, 2));  // phase 0: at once
  for (std::size_t k = 1; k <= 4; ++k) {
    clock.advance(kPhase);
    ASSERT_TRUE(settle(clock, *b, k, 2)) << "late, scrape " << k;
    clock.advance(kInterval - kPhase);
    ASSERT_TRUE(settle(clock, *a, k + 1, 2)) << "early, scrape " << k + 1;
  }
  EXPECT_TRUE(scheduler.stop(clock.now() + std::chrono::hours(1)));
  const auto ta = a->began();
  const auto tb = b->began();
  ASSERT_EQ(ta.size(), 5u);
  ASSERT_EQ(tb.size(), 4u);
  for (std::size_t k = 0; k < 4; ++k) {
    EXPECT_EQ(ta[k] - start, k * kInterval) << "early, scrape " << k;
    EXPECT_EQ(tb[k] - start, k * kInterval + kPhase) << "late, scrape " << k;
  }
}

// A source whose every scrape takes `duration` of the manual clock's time.
class SlowSource : public RecordingSource {
 public:
  SlowSource(milliseconds interval, milliseconds duration, testing::ManualClock& clock)
      : RecordingSource("slow", interval, milliseconds(0), clock),
        duration_(duration),
        manual_(clock) {}
  Result<ScrapeStats> scrape(SampleBatch& out, Deadline deadline) override {
    auto result = RecordingSource::scrape(out, deadline);
    manual_.advance(duration_);
    return result;
  }

 private:
  milliseconds duration_;
  testing::ManualClock& manual_;
};

// A scrape that overruns its interval skips the ticks it missed and keeps
// the phase: no burst of catch-up scrapes.
TEST(SchedulerTest, OverrunSkipsMissedTicks) {
  constexpr milliseconds kInterval(1000);
  testing::ManualClock clock;
  const auto start = clock.now();
  auto slow = std::make_unique<SlowSource>(kInterval, milliseconds(2500), clock);
  RecordingSource* s = slow.get();
  std::vector<SourcePtr> sources;
  sources.push_back(std::move(slow));
  prometheus::Registry registry;
  Scheduler scheduler(
      std::move(sources), [](SampleBatchPtr) {}, registry, clock);
  scheduler.start();
  // First scrape at 0 ends at 2.5 s: the ticks at 1 s and 2 s are skipped,
  // the next is at 3 s.
  ASSERT_TRUE(settle(clock, *s, 1, 1));
  EXPECT_EQ(s->began().size(), 1u);
  clock.advance(milliseconds(499));  // 2.999 s
  ASSERT_TRUE(settle(clock, *s, 1, 1));
  EXPECT_EQ(s->began().size(), 1u);
  clock.advance(milliseconds(1));  // 3 s
  ASSERT_TRUE(settle(clock, *s, 2, 1));
  EXPECT_TRUE(scheduler.stop(clock.now() + std::chrono::hours(1)));
  const auto t = s->began();
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0] - start, milliseconds(0));
  EXPECT_EQ(t[1] - start, 3 * kInterval);
}

// A scrape stuck in a system call (statvfs() on a dead NFS server): it
// returns only when the test lets it.
class StuckSource : public Source {
 public:
  std::string_view name() const override { return "stuck"; }
  milliseconds interval() const override { return milliseconds(1000); }
  Result<ScrapeStats> scrape(SampleBatch&, Deadline) override {
    std::unique_lock<std::mutex> lock(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::seconds(30), [this] { return released_; });
    return ScrapeStats{};
  }
  bool waitEntered() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [this] { return entered_; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool released_ = false;
};

// The stop waits for scrapes in progress until its deadline, not longer, so
// the agent can still drain its pipeline; the other sources are stopped.
TEST(SchedulerTest, StopReturnsAtItsDeadlineWhileAScrapeIsStuck) {
  testing::ManualClock clock;
  auto stuck = std::make_unique<StuckSource>();
  StuckSource* s = stuck.get();
  auto fine =
      std::make_unique<RecordingSource>("fine", std::chrono::hours(1), milliseconds(0), clock);
  RecordingSource* f = fine.get();
  std::vector<SourcePtr> sources;
  sources.push_back(std::move(stuck));
  sources.push_back(std::move(fine));
  prometheus::Registry registry;
  Scheduler scheduler(
      std::move(sources), [](SampleBatchPtr) {}, registry, clock);
  scheduler.start();
  ASSERT_TRUE(s->waitEntered());
  ASSERT_TRUE(settle(clock, *f, 1, 1));  // "fine" asleep until its next scrape
  const Deadline deadline = clock.now() + std::chrono::seconds(5);
  clock.advance(std::chrono::seconds(4));
  std::atomic<bool> stopped{false};
  bool all_stopped = true;
  std::thread stopper([&] {
    all_stopped = scheduler.stop(deadline);
    stopped = true;
  });
  // Not before the deadline (by the clock) ...
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(stopped.load());
  // ... and at it, with the stuck source named and left running.
  clock.advance(std::chrono::seconds(1));
  stopper.join();
  EXPECT_FALSE(all_stopped);
  EXPECT_EQ(f->began().size(), 1u);
  s->release();  // the destructor joins it
}

}  // namespace
}  // namespace kubemetrics
