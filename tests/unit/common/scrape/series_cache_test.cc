// SeriesCache's lookups in the previous scrape's order: a steady target's
// series are found without a hash lookup, a series that vanished or
// appeared (alone or in a block) costs one lookup and the order is picked
// up again after it, and whatever the order, every sample gets its own
// series' labels. `in_order` counts the finds the order answered, so these
// tests fail if the order is not followed (or followed wrongly).
#include "common/scrape/series_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/scrape/parser.h"

namespace kubemetrics::scrape {
namespace {

// Series i: "m<i%4>{pod=\"p<i>\"}", so names repeat and texts do not.
std::string lineOf(int i) {
  return "m" + std::to_string(i % 4) + "{pod=\"p" + std::to_string(i) + "\"} " + std::to_string(i) +
         "\n";
}

std::vector<int> range(int first, int end) {
  std::vector<int> out;
  for (int i = first; i < end; ++i) out.push_back(i);
  return out;
}

class OrderedScrapes : public ::testing::Test {
 protected:
  // One kept scrape of the series `ids`, in that order; checks that every
  // sample carries its own series' name and labels (the labeler adds
  // job="j") and returns the cache's statistics.
  SeriesCacheStats scrape(const std::vector<int>& ids) {
    SampleBatch out;
    cache_.beginScrape(ExpositionFormat::kText, &out, ++ts_);
    parser_.begin(ExpositionFormat::kText, &out, ts_, cache_);
    std::string body;
    for (int id : ids) body += lineOf(id);
    EXPECT_TRUE(parser_.feed(body));
    EXPECT_TRUE(parser_.finish());
    cache_.endScrape(/*kept=*/true);
    std::size_t values = 0;
    for (const Sample& s : out.samples) {
      if (isStaleMarker(s.value)) continue;
      const int id = static_cast<int>(s.value);
      EXPECT_EQ(id, ids[values]);
      EXPECT_EQ(s.name.view(), "m" + std::to_string(id % 4));
      EXPECT_EQ(s.labels.get("pod"), "p" + std::to_string(id));
      EXPECT_EQ(s.labels.get("job"), "j");
      ++values;
    }
    EXPECT_EQ(values, ids.size());
    return cache_.stats();
  }

  SeriesCache cache_{[](const Symbol&, LabelsBuilder& scraped) {
    scraped.set("job", "j");
    return scraped.build();
  }};
  TextParser parser_;
  std::int64_t ts_ = 1000;
};

TEST_F(OrderedScrapes, SteadyScrapeIsAnsweredByTheOrderAlone) {
  EXPECT_EQ(scrape(range(0, 100)).in_order, 0u);  // nothing to follow yet
  const SeriesCacheStats second = scrape(range(0, 100));
  EXPECT_EQ(second.in_order, 100u);
  EXPECT_EQ(second.new_series, 0u);
  EXPECT_EQ(scrape(range(0, 100)).in_order, 100u);
}

TEST_F(OrderedScrapes, VanishedBlockAndNewSeriesCostOneLookupEach) {
  scrape(range(0, 100));
  // 1-4 and 50-79 vanished, 1000 new after 10, 1001 new at the end.
  std::vector<int> ids = {0};
  for (int i = 5; i < 50; ++i) {
    ids.push_back(i);
    if (i == 10) ids.push_back(1000);
  }
  for (int i = 80; i < 100; ++i) ids.push_back(i);
  ids.push_back(1001);
  const SeriesCacheStats stats = scrape(ids);
  EXPECT_EQ(stats.new_series, 2u);
  // Looked up: 5 (after the first gap) and 80 (after the second); 11 comes
  // right after 10 although 1000 came between.
  EXPECT_EQ(stats.in_order, ids.size() - 2 - 2);
  // The new order is followed next time, the new series with it.
  EXPECT_EQ(scrape(ids).in_order, ids.size());
}

TEST_F(OrderedScrapes, ReturningSeriesAndRepeatsResolveToTheirOwnLabels) {
  scrape(range(0, 50));
  scrape(range(10, 50));  // 0-9 vanish (and get markers)
  // They return at the end; 20 is repeated (a second sample of a series
  // already seen in this scrape does not move the order back).
  std::vector<int> ids = range(10, 50);
  ids.insert(ids.begin() + 30, 20);
  for (int i = 0; i < 10; ++i) ids.push_back(i);
  const SeriesCacheStats stats = scrape(ids);
  EXPECT_EQ(stats.in_order, 40u);
}

TEST_F(OrderedScrapes, AnyOrderResolvesEverySeries) {
  scrape(range(0, 64));
  std::vector<int> reversed = range(0, 64);
  std::reverse(reversed.begin(), reversed.end());
  // Each lookup moves the expectation to the series after the one found,
  // which the reversed order never wants: every find is a lookup.
  EXPECT_EQ(scrape(reversed).in_order, 0u);
  std::vector<int> interleaved;
  for (int i = 0; i < 32; ++i) {
    interleaved.push_back(i);
    interleaved.push_back(63 - i);
  }
  scrape(interleaved);
  EXPECT_EQ(scrape(interleaved).in_order, 64u);
}

TEST_F(OrderedScrapes, SeriesWithTheirOwnTimestampsAreLookedUp) {
  // Series stamped by the target are not tracked for staleness, so they
  // have no place in the order: found by lookup, and correctly.
  const auto stamped = [](int first, int end) {
    std::string body;
    for (int i = first; i < end; ++i) {
      std::string line = lineOf(i);
      line.insert(line.size() - 1, " 1700000000000");
      body += line;
    }
    return body;
  };
  for (int round = 0; round < 2; ++round) {
    SampleBatch out;
    cache_.beginScrape(ExpositionFormat::kText, &out, ++ts_);
    parser_.begin(ExpositionFormat::kText, &out, ts_, cache_);
    ASSERT_TRUE(parser_.feed(stamped(0, 20)));
    ASSERT_TRUE(parser_.finish());
    cache_.endScrape(/*kept=*/true);
    EXPECT_EQ(cache_.stats().in_order, 0u);
    ASSERT_EQ(out.samples.size(), 20u);
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(out.samples[i].labels.get("pod"), "p" + std::to_string(i));
      EXPECT_EQ(out.samples[i].timestamp_ms, 1700000000000);
    }
  }
}

}  // namespace
}  // namespace kubemetrics::scrape
