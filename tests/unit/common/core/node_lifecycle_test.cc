#include "kubemetrics/node_lifecycle.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kubemetrics {
namespace {

using namespace std::chrono_literals;

TEST(NodeLifecycleTest, ListenersHearANewOrEarlierNoticeOnce) {
  NodeLifecycle lifecycle;
  std::vector<std::string> heard;
  lifecycle.subscribe([&](const TerminationNotice& n) { heard.push_back("a:" + n.reason); });
  lifecycle.subscribe([&](const TerminationNotice& n) { heard.push_back("b:" + n.reason); });
  EXPECT_FALSE(lifecycle.termination().has_value());
  const auto t = std::chrono::system_clock::time_point(1700000000s);
  lifecycle.announceTermination({t, "spot"});
  lifecycle.announceTermination({t, "spot"});         // every poll repeats it
  lifecycle.announceTermination({t + 60s, "later"});  // a later one changes nothing
  EXPECT_EQ(heard, (std::vector<std::string>{"a:spot", "b:spot"}));
  lifecycle.announceTermination({t - 30s, "sooner"});
  EXPECT_EQ(heard.size(), 4u);
  EXPECT_EQ(heard.back(), "b:sooner");
  EXPECT_EQ(lifecycle.termination()->at, t - 30s);
}

}  // namespace
}  // namespace kubemetrics
