#include "agent/scheduler.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kubemetrics {
namespace {

using std::chrono::milliseconds;

// Records when each of its scrapes began.
class RecordingSource : public Source {
 public:
  RecordingSource(std::string name, milliseconds interval, milliseconds phase)
      : name_(std::move(name)), interval_(interval), phase_(phase) {}

  std::string_view name() const override { return name_; }
  milliseconds interval() const override { return interval_; }
  milliseconds phase() const override { return phase_; }
  Result<ScrapeStats> scrape(SampleBatch&, Deadline) override {
    std::lock_guard<std::mutex> lock(mu_);
    began_.push_back(SteadyClock::now());
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
  mutable std::mutex mu_;
  std::vector<SteadyClock::time_point> began_;
};

// The phase holds for every scrape, not only the first: two sources of one
// interval half an interval apart stay half an interval apart. (Before, the
// first scrape was delayed inside the source and the fixed-rate schedule
// brought every later one back into step with the others.)
TEST(SchedulerTest, SourcesKeepTheirPhaseOnEveryScrape) {
  constexpr milliseconds kInterval(600);
  constexpr milliseconds kPhase(300);
  auto early = std::make_unique<RecordingSource>("early", kInterval, milliseconds(0));
  auto late = std::make_unique<RecordingSource>("late", kInterval, kPhase);
  RecordingSource* a = early.get();
  RecordingSource* b = late.get();
  std::vector<SourcePtr> sources;
  sources.push_back(std::move(early));
  sources.push_back(std::move(late));
  prometheus::Registry registry;
  Scheduler scheduler(
      std::move(sources), [](SampleBatchPtr) {}, registry);
  scheduler.start();
  // Bounded: four scrapes of each take 2.1 s on schedule; give up after 10 s.
  const auto give_up = SteadyClock::now() + std::chrono::seconds(10);
  while ((a->began().size() < 4 || b->began().size() < 4) && SteadyClock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  scheduler.stop();
  const auto ta = a->began();
  const auto tb = b->began();
  ASSERT_GE(ta.size(), 4u);
  ASSERT_GE(tb.size(), 4u);
  for (std::size_t k = 0; k < 4; ++k) {
    const auto apart = std::chrono::duration_cast<milliseconds>(tb[k] - ta[k]);
    // Half an interval apart, give or take a loaded machine's wake-up delay;
    // in step (the old behaviour after the first scrape) would be ~0.
    EXPECT_GT(apart.count(), 150) << "scrape " << k;
    EXPECT_LT(apart.count(), 450) << "scrape " << k;
  }
}

}  // namespace
}  // namespace kubemetrics
