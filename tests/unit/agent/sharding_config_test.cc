// `sharding:`: the replica ordinal from a number or a StatefulSet pod name,
// and every mistake reported with its YAML key path.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/agent.h"

namespace kubemetrics {
namespace {

std::vector<std::string> errors(const std::string& yaml) {
  std::vector<std::string> out;
  for (const ConfigError& e : Agent::check(yaml, "test.yaml").errors) out.push_back(e.toString());
  return out;
}

TEST(ShardingConfigTest, OrdinalFromAStatefulSetPodName) {
  const ConfigCheck check = Agent::check(
      "cluster: c\nrole: cluster\nsharding: {total_shards: 3, shard: km-cluster-2}\n", "test.yaml");
  ASSERT_TRUE(check.ok()) << check.errors.front().toString();
  EXPECT_EQ(check.config.shard, 2);
  EXPECT_EQ(check.config.total_shards, 3);
  const ConfigCheck defaults = Agent::check("cluster: c\n", "test.yaml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults.config.shard, 0);
  EXPECT_EQ(defaults.config.total_shards, 1);
}

TEST(ShardingConfigTest, ErrorsCarryTheYamlPath) {
  EXPECT_EQ(errors("cluster: c\nrole: cluster\nsharding: {total_shards: 2, shard: km-cluster-2}\n"),
            std::vector<std::string>{"sharding.shard: must be below total_shards (2) (got 2 from "
                                     "\"km-cluster-2\")"});
  EXPECT_EQ(errors("cluster: c\nrole: cluster\nsharding: {total_shards: 2, shard: km-cluster}\n"),
            std::vector<std::string>{
                "sharding.shard: must be a replica ordinal (a number, or a StatefulSet pod name "
                "ending in -<ordinal>, e.g. ${POD_NAME}) (got \"km-cluster\")"});
  EXPECT_EQ(errors("cluster: c\nsharding: {total_shards: 2}\n"),
            std::vector<std::string>{"sharding.total_shards: sharding is for role: cluster (the "
                                     "DaemonSet's agents each own their node)"});
  const auto range = errors("cluster: c\nrole: cluster\nsharding: {total_shards: 0, shards: 1}\n");
  ASSERT_EQ(range.size(), 2u) << ::testing::PrintToString(range);
  EXPECT_EQ(range[0].rfind("sharding.total_shards: ", 0), 0u) << range[0];
  EXPECT_EQ(range[1].rfind("sharding.shards: unknown key", 0), 0u) << range[1];
}

}  // namespace
}  // namespace kubemetrics
