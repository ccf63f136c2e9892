#include "common/push/pointer_index.h"

#include <gtest/gtest.h>

#include <vector>

namespace kubemetrics::push {
namespace {

TEST(PointerIndexTest, KeepsTheFirstValueOfEachKey) {
  std::vector<int> objects(5000);
  PointerIndex index;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const auto [value, added] = index.findOrAdd(&objects[i], static_cast<std::uint32_t>(i));
    EXPECT_TRUE(added);
    EXPECT_EQ(value, i);
  }
  EXPECT_EQ(index.size(), objects.size());
  // Grown past the initial 256 slots, and never over half full.
  EXPECT_GE(index.capacity(), 2 * objects.size());
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const auto [value, added] = index.findOrAdd(&objects[i], 999999);
    EXPECT_FALSE(added);
    EXPECT_EQ(value, i);
  }
}

TEST(PointerIndexTest, ClearForgetsEveryKeyAndKeepsItsSlots) {
  std::vector<long> objects(1000);
  PointerIndex index;
  for (auto& object : objects) index.findOrAdd(&object, 1);
  const std::size_t capacity = index.capacity();
  index.clear();
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.capacity(), capacity);
  const auto [value, added] = index.findOrAdd(&objects[7], 2);
  EXPECT_TRUE(added);
  EXPECT_EQ(value, 2u);
  EXPECT_EQ(index.size(), 1u);
}

}  // namespace
}  // namespace kubemetrics::push
