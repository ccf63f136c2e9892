#include "common/http/body_buffer_pool.h"

#include <gtest/gtest.h>

#include <string>

namespace kubemetrics {
namespace {

std::string bodyOf(std::size_t bytes) { return std::string(bytes, 'x'); }

TEST(BodyBufferPoolTest, HandsBackAnEmptyStringWithTheCapacityGiven) {
  BodyBufferPool pool(2, 1 << 20);
  EXPECT_EQ(pool.take().capacity(), std::string().capacity()) << "nothing spare yet";
  std::string body = bodyOf(200'000);
  const char* memory = body.data();
  pool.give(std::move(body));
  EXPECT_EQ(pool.spare(), 1u);
  std::string again = pool.take();
  EXPECT_TRUE(again.empty());
  EXPECT_GE(again.capacity(), 200'000u);
  EXPECT_EQ(again.data(), memory) << "the same memory, not a copy";
  EXPECT_EQ(pool.spare(), 0u);
}

TEST(BodyBufferPoolTest, KeepsAtMostItsCountAndOnlyMidSizedBuffers) {
  BodyBufferPool pool(2, 1 << 20);
  pool.give(bodyOf(100));               // small: not worth keeping
  pool.give(bodyOf((1 << 20) + 4096));  // over the size bound
  EXPECT_EQ(pool.spare(), 0u);
  for (int i = 0; i < 5; ++i) pool.give(bodyOf(100'000));
  EXPECT_EQ(pool.spare(), 2u);
}

}  // namespace
}  // namespace kubemetrics
