#include "common/rate/counter_rate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace kubemetrics {
namespace {

class CounterRatesTest : public ::testing::Test {
 protected:
  Labels podLabels(std::string_view pod) { return LabelsBuilder().set("pod_name", pod).build(); }

  CounterRates rates_;
  Symbol cpu_ = Symbol::intern("kubernetes.pod.cpu.usage");
};

TEST_F(CounterRatesTest, FirstObservationHasNoRate) {
  EXPECT_EQ(rates_.update(cpu_, podLabels("a"), 100, 1'000), std::nullopt);
  EXPECT_EQ(rates_.size(), 1u);
}

TEST_F(CounterRatesTest, RateIsDeltaPerSecond) {
  const Labels a = podLabels("a");
  rates_.update(cpu_, a, 100, 10'000);
  auto rate = rates_.update(cpu_, a, 130, 25'000);  // +30 over 15 s
  ASSERT_TRUE(rate.has_value());
  EXPECT_DOUBLE_EQ(*rate, 2.0);
  rate = rates_.update(cpu_, a, 130, 26'000);  // flat counter
  ASSERT_TRUE(rate.has_value());
  EXPECT_DOUBLE_EQ(*rate, 0.0);
  rate = rates_.update(cpu_, a, 130.5, 26'500);
  ASSERT_TRUE(rate.has_value());
  EXPECT_DOUBLE_EQ(*rate, 1.0);
}

TEST_F(CounterRatesTest, SeriesAreIndependent) {
  const Labels a = podLabels("a");
  const Labels b = podLabels("b");
  const Symbol mem = Symbol::intern("kubernetes.pod.memory.page_faults");
  rates_.update(cpu_, a, 0, 0);
  rates_.update(cpu_, b, 1000, 0);
  rates_.update(mem, a, 50, 0);
  EXPECT_EQ(rates_.size(), 3u);
  EXPECT_DOUBLE_EQ(rates_.update(cpu_, a, 10, 1'000).value(), 10.0);
  EXPECT_DOUBLE_EQ(rates_.update(cpu_, b, 1100, 2'000).value(), 50.0);
  EXPECT_DOUBLE_EQ(rates_.update(mem, a, 50, 5'000).value(), 0.0);
}

TEST_F(CounterRatesTest, EqualTextsAreTheSameSeries) {
  rates_.update(Symbol::intern("x"), podLabels("a"), 1, 1'000);
  // Freshly built handles of the same texts hit the same entry.
  EXPECT_DOUBLE_EQ(rates_.update(Symbol::intern("x"), podLabels("a"), 3, 2'000).value(), 2.0);
  EXPECT_EQ(rates_.size(), 1u);
}

TEST_F(CounterRatesTest, RepeatedTimestampKeepsBase) {
  const Labels a = podLabels("a");
  rates_.update(cpu_, a, 100, 10'000);
  EXPECT_EQ(rates_.update(cpu_, a, 150, 10'000), std::nullopt);
  // The base is still (100, 10 s), not (150, 10 s).
  EXPECT_DOUBLE_EQ(rates_.update(cpu_, a, 200, 20'000).value(), 10.0);
}

TEST_F(CounterRatesTest, TimeGoingBackwardsRebases) {
  const Labels a = podLabels("a");
  rates_.update(cpu_, a, 100, 10'000);
  EXPECT_EQ(rates_.update(cpu_, a, 110, 5'000), std::nullopt);
  EXPECT_DOUBLE_EQ(rates_.update(cpu_, a, 120, 6'000).value(), 10.0);
}

TEST_F(CounterRatesTest, CounterResetRebases) {
  const Labels a = podLabels("a");
  rates_.update(cpu_, a, 1000, 10'000);
  EXPECT_EQ(rates_.update(cpu_, a, 5, 20'000), std::nullopt);
  EXPECT_DOUBLE_EQ(rates_.update(cpu_, a, 25, 30'000).value(), 2.0);
}

TEST_F(CounterRatesTest, StartMarkerChangeRebases) {
  const Labels a = podLabels("a");
  rates_.update(cpu_, a, 100, 10'000, /*start_marker=*/111);
  EXPECT_DOUBLE_EQ(rates_.update(cpu_, a, 200, 20'000, 111).value(), 10.0);
  // A restarted container whose counter already passed the old value: the
  // marker, not the value, shows the restart.
  EXPECT_EQ(rates_.update(cpu_, a, 500, 30'000, 222), std::nullopt);
  EXPECT_DOUBLE_EQ(rates_.update(cpu_, a, 600, 40'000, 222).value(), 10.0);
}

TEST_F(CounterRatesTest, NonFiniteValueIsIgnored) {
  const Labels a = podLabels("a");
  EXPECT_EQ(rates_.update(cpu_, a, std::numeric_limits<double>::quiet_NaN(), 1'000), std::nullopt);
  EXPECT_EQ(rates_.size(), 0u);
  rates_.update(cpu_, a, 10, 1'000);
  EXPECT_EQ(rates_.update(cpu_, a, std::numeric_limits<double>::infinity(), 2'000), std::nullopt);
  EXPECT_DOUBLE_EQ(rates_.update(cpu_, a, 20, 3'000).value(), 5.0);
}

TEST_F(CounterRatesTest, PrunesSeriesNotSeen) {
  const Labels a = podLabels("a");
  const Labels b = podLabels("b");
  rates_.update(cpu_, a, 1, 1'000);
  rates_.update(cpu_, b, 1, 1'000);
  rates_.endScrape(2);
  EXPECT_EQ(rates_.size(), 2u);

  // Only `a` keeps reporting; `b` survives two missed scrapes, not three.
  for (int scrape = 1; scrape <= 2; ++scrape) {
    rates_.update(cpu_, a, 1 + scrape, 1'000 + scrape * 1'000);
    rates_.endScrape(2);
    EXPECT_EQ(rates_.size(), 2u) << "after scrape " << scrape;
  }
  rates_.update(cpu_, a, 4, 4'000);
  rates_.endScrape(2);
  EXPECT_EQ(rates_.size(), 1u);

  // A pruned series starts over: its next point is a first observation.
  EXPECT_EQ(rates_.update(cpu_, b, 100, 5'000), std::nullopt);
  EXPECT_DOUBLE_EQ(rates_.update(cpu_, a, 5, 5'000).value(), 1.0);
}

TEST_F(CounterRatesTest, KeepZeroDropsEverythingNotUpdatedThisScrape) {
  rates_.update(cpu_, podLabels("a"), 1, 1'000);
  rates_.endScrape(0);
  EXPECT_EQ(rates_.size(), 1u);
  rates_.endScrape(0);
  EXPECT_EQ(rates_.size(), 0u);
}

}  // namespace
}  // namespace kubemetrics
