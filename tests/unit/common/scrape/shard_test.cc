// shardOf: deterministic (fixed values any build must reproduce, so
// replicas built apart agree), in range, and spread; parseShardOrdinal.
#include "common/scrape/shard.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kubemetrics::scrape {
namespace {

TEST(ShardTest, FixedValuesOfFnv1a) {
  // FNV-1a 64 of "" is the offset basis 0xcbf29ce484222325; of "a"
  // 0xaf63dc4c8601ec8c (the published test vectors).
  EXPECT_EQ(shardOf("", 1000), static_cast<int>(0xcbf29ce484222325ULL % 1000));
  EXPECT_EQ(shardOf("a", 1000), static_cast<int>(0xaf63dc4c8601ec8cULL % 1000));
  EXPECT_EQ(shardOf("http://10.0.0.1:8080/metrics", 1), 0);
  EXPECT_EQ(shardOf("http://10.0.0.1:8080/metrics", 0), 0);
}

TEST(ShardTest, EveryShardGetsAFairPart) {
  for (int total : {2, 3, 5}) {
    std::vector<int> counts(static_cast<std::size_t>(total));
    for (int i = 0; i < 3000; ++i) {
      const int shard = shardOf("http://10.1." + std::to_string(i / 250) + "." +
                                    std::to_string(i % 250) + ":8080/metrics",
                                total);
      ASSERT_GE(shard, 0);
      ASSERT_LT(shard, total);
      ++counts[static_cast<std::size_t>(shard)];
    }
    for (int count : counts) {
      EXPECT_GT(count, 3000 / total * 8 / 10) << total;
      EXPECT_LT(count, 3000 / total * 12 / 10) << total;
    }
  }
}

TEST(ShardTest, OrdinalFromNumberOrStatefulSetPodName) {
  EXPECT_EQ(parseShardOrdinal("0"), 0);
  EXPECT_EQ(parseShardOrdinal("3"), 3);
  EXPECT_EQ(parseShardOrdinal("kubemetrics-cluster-2"), 2);
  EXPECT_EQ(parseShardOrdinal("web-12"), 12);
  EXPECT_EQ(parseShardOrdinal(""), std::nullopt);
  EXPECT_EQ(parseShardOrdinal("kubemetrics-cluster"), std::nullopt);
  EXPECT_EQ(parseShardOrdinal("kubemetrics-cluster-"), std::nullopt);
  EXPECT_EQ(parseShardOrdinal("pod-2a"), std::nullopt);
}

}  // namespace
}  // namespace kubemetrics::scrape
