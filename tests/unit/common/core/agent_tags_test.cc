#include "kubemetrics/agent_tags.h"

#include <gtest/gtest.h>

#include <string_view>

namespace kubemetrics {
namespace {

bool isPhase(std::string_view name) { return name == "phase"; }

TEST(AgentTagsTest, SnapshotHoldsTheTagsInOrderWithAVersion) {
  RuntimeTags runtime;
  const AgentTags tags({{"cluster", "prod"}, {"empty", ""}, {"team", "a"}}, &runtime);
  runtime.set({{"region", "eu-west-1"}});
  const auto snapshot = tags.current();
  EXPECT_EQ(snapshot->version, tags.version());
  ASSERT_EQ(snapshot->tags.size(), 3u);  // an empty value is no tag
  EXPECT_EQ(snapshot->tags[0].name.view(), "cluster");
  EXPECT_EQ(snapshot->tags[1].name.view(), "team");
  EXPECT_EQ(snapshot->tags[2].value.view(), "eu-west-1");
  EXPECT_FALSE(snapshot->pipeline_only);
  EXPECT_EQ(tags.current(), snapshot);  // unchanged tags: the same snapshot
}

TEST(AgentTagsTest, ATagNamedAsAnEarlierStageLabelMakesTheSnapshotPipelineOnly) {
  EXPECT_TRUE(AgentTags({{"cluster", "prod"}, {"phase", "unknown"}}, nullptr, isPhase)
                  .current()
                  ->pipeline_only);
  EXPECT_FALSE(AgentTags({{"cluster", "prod"}}, nullptr, isPhase).current()->pipeline_only);
  // Without the predicate (no enrichment) nothing is.
  EXPECT_FALSE(AgentTags(AgentTags::Tags{{"phase", "unknown"}}).current()->pipeline_only);
}

TEST(AgentTagsTest, RunTimeTagsDecidePipelineOnlyPerVersion) {
  RuntimeTags runtime;
  const AgentTags tags({{"cluster", "prod"}}, &runtime, isPhase);
  EXPECT_FALSE(tags.current()->pipeline_only);
  runtime.set({{"phase", "from-ec2"}});
  EXPECT_TRUE(tags.current()->pipeline_only);
  runtime.set({{"region", "eu-west-1"}});
  EXPECT_FALSE(tags.current()->pipeline_only);
}

}  // namespace
}  // namespace kubemetrics
