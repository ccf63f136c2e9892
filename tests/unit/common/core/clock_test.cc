#include "kubemetrics/clock.h"

#include <gtest/gtest.h>

#include <thread>

#include "support/manual_clock.h"

namespace kubemetrics {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(SystemClockTest, WaitReturnsAtOnceWhenDone) {
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(mu);
  EXPECT_TRUE(
      systemClock().waitUntil(lock, cv, systemClock().now() + seconds(60), [] { return true; }));
}

TEST(SystemClockTest, WaitEndsAtThePointGiven) {
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(mu);
  const auto until = systemClock().now() + milliseconds(5);
  EXPECT_FALSE(systemClock().waitUntil(lock, cv, until, [] { return false; }));
  EXPECT_GE(systemClock().now(), until);
}

TEST(ManualClockTest, MovesOnlyWhenAdvanced) {
  testing::ManualClock clock;
  const auto steady = clock.now();
  const auto wall = clock.wallMs();
  EXPECT_EQ(wall, testing::ManualClock::kStartWallMs);
  clock.advance(seconds(90));
  EXPECT_EQ(clock.now() - steady, seconds(90));
  EXPECT_EQ(clock.wallMs() - wall, 90000);
  clock.stepWall(-seconds(30));
  EXPECT_EQ(clock.now() - steady, seconds(90));
  EXPECT_EQ(clock.wallMs() - wall, 60000);
}

TEST(ManualClockTest, SleeperWakesWhenTheTestAdvancesPastItsTime) {
  testing::ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  const auto until = clock.now() + seconds(30);
  bool woke_done = true;
  std::thread sleeper([&] {
    std::unique_lock<std::mutex> lock(mu);
    woke_done = clock.waitUntil(lock, cv, until, [] { return false; });
  });
  while (clock.waiting() == 0) std::this_thread::yield();
  clock.advance(seconds(29));
  EXPECT_EQ(clock.waiting(), 1);  // 29 s is not yet its time: still asleep
  clock.advance(seconds(1));
  sleeper.join();
  EXPECT_FALSE(woke_done);
  EXPECT_EQ(clock.waiting(), 0);
}

TEST(ManualClockTest, SleeperWakesWhenItsConditionHolds) {
  testing::ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  bool woke_done = false;
  std::thread sleeper([&] {
    std::unique_lock<std::mutex> lock(mu);
    woke_done = clock.waitUntil(lock, cv, clock.now() + seconds(30), [&] { return stop; });
  });
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
  }
  cv.notify_all();
  sleeper.join();
  EXPECT_TRUE(woke_done);
}

}  // namespace
}  // namespace kubemetrics
