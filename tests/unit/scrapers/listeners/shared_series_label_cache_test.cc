#include "scrapers/listeners/shared_series_label_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace kubemetrics::scrapers::listeners {
namespace {

Labels seriesLabels(int i) {
  LabelsBuilder b;
  b.set("series", std::to_string(i));
  return b.build();
}

std::string keyOf(int i) { return "\x0a\x10series-" + std::to_string(i); }

TEST(SharedSeriesLabelCacheTest, FindsWhatWasStoredAcrossShards) {
  SharedSeriesLabelCache cache(64 * 1024, 64 * 1024 * 64, 16);
  EXPECT_EQ(cache.shards(), 16u);
  const Symbol name = Symbol::intern("up");
  for (int i = 0; i < 20000; ++i) cache.insert(keyOf(i), name, seriesLabels(i));
  // Probes are bounded: a few keys may stay uncached, never found wrongly.
  std::size_t found = 0;
  for (int i = 0; i < 20000; ++i) {
    Symbol got_name;
    Labels got_labels;
    if (cache.find(keyOf(i), got_name, got_labels)) {
      ++found;
      EXPECT_EQ(got_name, name);
      EXPECT_EQ(got_labels, seriesLabels(i));
    }
  }
  EXPECT_GT(found, 19500u);
  EXPECT_EQ(cache.size(), found);
  Symbol got_name;
  Labels got_labels;
  EXPECT_FALSE(cache.find(keyOf(20000), got_name, got_labels));
}

TEST(SharedSeriesLabelCacheTest, StaysWithinItsBoundByEmptyingAShard) {
  // 4 shards of 1,024 entries: 10,000 keys never leave more than 4,096.
  SharedSeriesLabelCache cache(4096, 4096 * 64, 4);
  ASSERT_EQ(cache.shards(), 4u);
  const Symbol name = Symbol::intern("up");
  for (int i = 0; i < 10000; ++i) {
    cache.insert(keyOf(i), name, {});
    ASSERT_LE(cache.size(), 4096u);
  }
  // The latest keys are there (their shards were emptied before them at most).
  Symbol got_name;
  Labels got_labels;
  EXPECT_TRUE(cache.find(keyOf(9999), got_name, got_labels));
  // A small bound takes fewer shards, so one shard's share is not tiny.
  EXPECT_EQ(SharedSeriesLabelCache(2048, 2048 * 64, 16).shards(), 2u);
  EXPECT_EQ(SharedSeriesLabelCache(100, 100 * 64, 16).shards(), 1u);
}

TEST(SharedSeriesLabelCacheTest, EntriesAreFoundOnlyUnderTheirVersion) {
  SharedSeriesLabelCache cache(4096, 4096 * 64, 1);
  const Symbol name = Symbol::intern("up");
  auto findsAt = [&](int i, std::uint64_t version) {
    const std::string key = keyOf(i);
    Labels got;
    const bool hit = cache.visit(key, cache.hashOf(key), version,
                                 [&](const Symbol&, const Labels& labels) { got = labels; });
    return hit && got == seriesLabels(i);
  };
  auto insertAt = [&](int i, std::uint64_t version) {
    const std::string key = keyOf(i);
    cache.insert(key, cache.hashOf(key), version, name, seriesLabels(i));
  };
  insertAt(1, 3);
  EXPECT_TRUE(findsAt(1, 3));
  EXPECT_FALSE(findsAt(1, 0));
  EXPECT_FALSE(findsAt(1, 4));
  // A newer version's insert empties the shard: its entries had old tags.
  insertAt(2, 4);
  EXPECT_FALSE(findsAt(1, 3));
  EXPECT_TRUE(findsAt(2, 4));
  EXPECT_EQ(cache.size(), 1u);
  // An older version's insert (a request decoded as the tags changed) is dropped.
  insertAt(3, 3);
  EXPECT_FALSE(findsAt(3, 3));
  EXPECT_TRUE(findsAt(2, 4));
  EXPECT_EQ(cache.size(), 1u);
}

TEST(SharedSeriesLabelCacheTest, ZeroDisables) {
  SharedSeriesLabelCache cache(0, 0);
  EXPECT_FALSE(cache.enabled());
  cache.insert(keyOf(1), Symbol::intern("up"), {});
  Symbol got_name;
  Labels got_labels;
  EXPECT_FALSE(cache.find(keyOf(1), got_name, got_labels));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(SharedSeriesLabelCacheTest, DecodersOnSeveralThreadsShareIt) {
  // Two threads store and look up overlapping keys (for TSan); every hit
  // returns the labels stored for that key.
  SharedSeriesLabelCache cache(8192, 8192 * 64, 4);
  const Symbol name = Symbol::intern("up");
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (int i = t * 1000; i < t * 1000 + 3000; ++i) {
          Symbol got_name;
          Labels got_labels;
          if (cache.find(keyOf(i), got_name, got_labels)) {
            if (got_labels != seriesLabels(i)) ++wrong;
          } else {
            cache.insert(keyOf(i), name, seriesLabels(i));
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(cache.size(), 3000u);
}

}  // namespace
}  // namespace kubemetrics::scrapers::listeners
