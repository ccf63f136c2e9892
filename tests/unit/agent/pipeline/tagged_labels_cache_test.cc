#include "agent/pipeline/tagged_labels_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kubemetrics {
namespace {

Labels labelsOf(const std::string& value) {
  LabelsBuilder b;
  b.set("series", value);
  return b.build();
}

Labels tagged(const Labels& input) {
  LabelsBuilder b;
  b.reset(input);
  b.set("cluster", "c");
  return b.build();
}

TEST(TaggedLabelsCacheTest, FindsWhatWasStoredThroughGrowth) {
  TaggedLabelsCache cache(100000);
  std::vector<Labels> inputs;
  for (int i = 0; i < 5000; ++i) inputs.push_back(labelsOf(std::to_string(i)));
  for (const Labels& input : inputs) {
    EXPECT_EQ(cache.find(input), nullptr);
    cache.insert(input, tagged(input));
  }
  EXPECT_EQ(cache.size(), 5000u);
  for (const Labels& input : inputs) {
    const Labels* hit = cache.find(input);
    ASSERT_NE(hit, nullptr);
    EXPECT_EQ(*hit, tagged(input));
  }
  EXPECT_EQ(cache.find(labelsOf("never stored")), nullptr);
}

TEST(TaggedLabelsCacheTest, TheEmptySetHasItsOwnEntry) {
  TaggedLabelsCache cache(16);
  EXPECT_EQ(cache.find(Labels()), nullptr);
  cache.insert(Labels(), tagged(Labels()));
  const Labels* hit = cache.find(Labels());
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(*hit, tagged(Labels()));
  EXPECT_EQ(cache.size(), 1u);
  cache.clear();
  EXPECT_EQ(cache.find(Labels()), nullptr);
}

TEST(TaggedLabelsCacheTest, EmptiesItselfAtItsBoundAndZeroDisables) {
  TaggedLabelsCache cache(3);
  const Labels a = labelsOf("a"), b = labelsOf("b"), c = labelsOf("c"), d = labelsOf("d");
  for (const Labels& input : {a, b, c}) cache.insert(input, tagged(input));
  EXPECT_EQ(cache.size(), 3u);
  cache.insert(d, tagged(d));  // full: emptied first
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find(a), nullptr);
  ASSERT_NE(cache.find(d), nullptr);

  TaggedLabelsCache off(0);
  off.insert(a, tagged(a));
  EXPECT_EQ(off.find(a), nullptr);
  EXPECT_EQ(off.size(), 0u);
}

}  // namespace
}  // namespace kubemetrics
