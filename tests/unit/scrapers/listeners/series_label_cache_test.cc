#include "scrapers/listeners/series_label_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace kubemetrics::scrapers::listeners {
namespace {

Labels jobLabels(std::string_view job) {
  LabelsBuilder b;
  b.set("job", job);
  return b.build();
}

TEST(SeriesLabelCacheTest, FindsExactlyTheStoredBytes) {
  SeriesLabelCache cache(16, 4096);
  const Symbol name = Symbol::intern("up");
  cache.insert("\x0a\x05key-a", name, jobLabels("a"));
  cache.insert("\x0a\x05key-b", name, jobLabels("b"));
  const SeriesLabelCache::Entry* a = cache.find("\x0a\x05key-a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, name);
  EXPECT_EQ(a->labels, jobLabels("a"));
  ASSERT_NE(cache.find("\x0a\x05key-b"), nullptr);
  EXPECT_EQ(cache.find("\x0a\x05key-b")->labels, jobLabels("b"));
  // Same length, one byte off; a prefix; a longer key: all misses.
  EXPECT_EQ(cache.find("\x0a\x05key-c"), nullptr);
  EXPECT_EQ(cache.find("\x0a\x05key-"), nullptr);
  EXPECT_EQ(cache.find("\x0a\x05key-aa"), nullptr);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(SeriesLabelCacheTest, EmptiesItselfAtItsBounds) {
  SeriesLabelCache by_count(4, 1 << 20);
  const Symbol name = Symbol::intern("up");
  for (int i = 0; i < 4; ++i) by_count.insert("series-" + std::to_string(i), name, {});
  EXPECT_EQ(by_count.size(), 4u);
  by_count.insert("series-4", name, {});  // full: emptied, then stored
  EXPECT_EQ(by_count.size(), 1u);
  EXPECT_EQ(by_count.find("series-0"), nullptr);
  EXPECT_NE(by_count.find("series-4"), nullptr);

  SeriesLabelCache by_bytes(1000, 40);
  by_bytes.insert(std::string(30, 'a'), name, {});
  by_bytes.insert(std::string(30, 'b'), name, {});  // 60 > 40 bytes: emptied first
  EXPECT_EQ(by_bytes.size(), 1u);
  EXPECT_EQ(by_bytes.find(std::string(30, 'a')), nullptr);
  by_bytes.insert(std::string(41, 'c'), name, {});  // larger than the bound: never stored
  EXPECT_EQ(by_bytes.find(std::string(41, 'c')), nullptr);
}

TEST(SeriesLabelCacheTest, ManyKeysStayFindableAndZeroDisables) {
  SeriesLabelCache cache(5000, 1 << 20);
  const Symbol name = Symbol::intern("m");
  for (int i = 0; i < 5000; ++i) cache.insert("k" + std::to_string(i), name, {});
  // Probes are bounded: a few keys may stay uncached, never found wrongly.
  std::size_t found = 0;
  for (int i = 0; i < 5000; ++i) {
    if (const auto* e = cache.find("k" + std::to_string(i))) {
      EXPECT_EQ(e->name, name);
      ++found;
    }
  }
  EXPECT_GT(found, 4900u);
  EXPECT_EQ(found, cache.size());

  SeriesLabelCache off(0, 1 << 20);
  off.insert("k", name, {});
  EXPECT_FALSE(off.enabled());
  EXPECT_EQ(off.find("k"), nullptr);
}

}  // namespace
}  // namespace kubemetrics::scrapers::listeners
