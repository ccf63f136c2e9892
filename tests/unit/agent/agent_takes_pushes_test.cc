// Whether the agent takes pushed data decides how much freed memory main()
// keeps for request buffers (agent/main.cc, sizeTrimThresholdFor): an
// enabled listener of either kind, and nothing else, makes it so.
#include <gtest/gtest.h>

#include <string>

#include "agent/agent.h"

namespace kubemetrics {
namespace {

bool takesPushes(const std::string& listeners_yaml) {
  const std::string yaml =
      "cluster: t\nnode: n1\nserver: {listen: 127.0.0.1:0}\nsources:\n"
      "  host: {enabled: false}\n  ec2: {enabled: false}\n" +
      listeners_yaml;
  auto agent = Agent::create(yaml, "test");
  EXPECT_TRUE(agent) << (agent ? "" : agent.error().message());
  return agent && (*agent)->takesPushes();
}

TEST(AgentTakesPushesTest, OnlyWithAnEnabledListener) {
  EXPECT_FALSE(takesPushes(""));
  EXPECT_FALSE(takesPushes("  listeners:\n    remote_write: {enabled: false}\n"));
  EXPECT_TRUE(
      takesPushes("  listeners:\n    remote_write: {enabled: true, listen: 127.0.0.1:0}\n"));
  EXPECT_TRUE(takesPushes("  listeners:\n    wavefront: {enabled: true, listen: 127.0.0.1:0}\n"));
}

}  // namespace
}  // namespace kubemetrics
