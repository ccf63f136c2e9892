#include "agent/self_metrics_samples.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/summary.h>

#include <map>
#include <string>

namespace kubemetrics {
namespace {

constexpr std::int64_t kNowMs = 1700000000123;

/// "name{a=\"1\",b=\"2\"}" -> value, labels in the set's (name) order.
std::map<std::string, double> render(const SampleBatch& batch) {
  std::map<std::string, double> out;
  for (const Sample& s : batch.samples) {
    std::string key(s.name.view());
    key += "{";
    bool first = true;
    for (const Label& l : s.labels) {
      if (!first) key += ",";
      first = false;
      key += std::string(l.name.view()) + "=\"" + std::string(l.value.view()) + "\"";
    }
    key += "}";
    EXPECT_TRUE(out.emplace(key, s.value).second) << "duplicate series " << key;
    EXPECT_EQ(s.timestamp_ms, kNowMs) << key;
  }
  return out;
}

SampleBatch convert(prometheus::Registry& registry, const Labels& extra = {}) {
  SampleBatch batch;
  appendSelfMetricSamples(registry.Collect(), extra, kNowMs, batch);
  return batch;
}

TEST(SelfMetricSamplesTest, CounterAndGaugeKeepTheirNameAndLabels) {
  prometheus::Registry registry;
  auto& scrapes = prometheus::BuildCounter().Name("km_scrapes_total").Help("h").Register(registry);
  scrapes.Add({{"source", "host"}}).Increment(3);
  scrapes.Add({{"source", "kubelet"}}).Increment(1);
  prometheus::BuildGauge().Name("km_ring").Help("h").Register(registry).Add({}).Set(-2.5);

  const auto samples = render(convert(registry));
  const std::map<std::string, double> expected = {
      {"km_scrapes_total{source=\"host\"}", 3},
      {"km_scrapes_total{source=\"kubelet\"}", 1},
      {"km_ring{}", -2.5},
  };
  EXPECT_EQ(samples, expected);
}

TEST(SelfMetricSamplesTest, HistogramBecomesCumulativeBucketsSumAndCount) {
  prometheus::Registry registry;
  auto& latency =
      prometheus::BuildHistogram()
          .Name("km_latency_seconds")
          .Help("h")
          .Register(registry)
          .Add({{"path", "/metrics"}}, prometheus::Histogram::BucketBoundaries{0.005, 1});
  latency.Observe(0.001);
  latency.Observe(0.5);
  latency.Observe(7);

  const auto samples = render(convert(registry));
  const std::map<std::string, double> expected = {
      {"km_latency_seconds_bucket{le=\"0.005\",path=\"/metrics\"}", 1},
      {"km_latency_seconds_bucket{le=\"1\",path=\"/metrics\"}", 2},
      {"km_latency_seconds_bucket{le=\"+Inf\",path=\"/metrics\"}", 3},
      {"km_latency_seconds_sum{path=\"/metrics\"}", 7.501},
      {"km_latency_seconds_count{path=\"/metrics\"}", 3},
  };
  ASSERT_EQ(samples.size(), expected.size());
  for (const auto& [key, value] : expected) {
    ASSERT_TRUE(samples.count(key)) << key;
    EXPECT_DOUBLE_EQ(samples.at(key), value) << key;
  }
}

TEST(SelfMetricSamplesTest, SummaryBecomesQuantilesSumAndCount) {
  prometheus::Registry registry;
  auto& sizes = prometheus::BuildSummary()
                    .Name("km_sizes")
                    .Help("h")
                    .Register(registry)
                    .Add({}, prometheus::Summary::Quantiles{{0.5, 0.05}});
  sizes.Observe(4);

  const auto samples = render(convert(registry));
  const std::map<std::string, double> expected = {
      {"km_sizes{quantile=\"0.5\"}", 4},
      {"km_sizes_sum{}", 4},
      {"km_sizes_count{}", 1},
  };
  EXPECT_EQ(samples, expected);
}

TEST(SelfMetricSamplesTest, ExtraLabelsAreAddedAndASeriesOwnLabelWins) {
  prometheus::Registry registry;
  auto& family = prometheus::BuildGauge().Name("km_g").Help("h").Register(registry);
  family.Add({{"source", "host"}}).Set(1);
  family.Add({{"job", "own"}}).Set(2);
  const Labels extra = LabelsBuilder().set("job", "kubemetrics-agent").build();

  const auto samples = render(convert(registry, extra));
  const std::map<std::string, double> expected = {
      {"km_g{job=\"kubemetrics-agent\",source=\"host\"}", 1},
      {"km_g{job=\"own\"}", 2},
  };
  EXPECT_EQ(samples, expected);
}

TEST(SelfMetricSamplesTest, AppendsToWhatTheBatchHolds) {
  prometheus::Registry registry;
  prometheus::BuildGauge().Name("km_g").Help("h").Register(registry).Add({}).Set(1);
  SampleBatch batch;
  batch.samples.push_back(Sample{Symbol::intern("before"), {}, 0, kNowMs});
  appendSelfMetricSamples(registry.Collect(), {}, kNowMs, batch);
  ASSERT_EQ(batch.samples.size(), 2u);
  EXPECT_EQ(batch.samples[0].name.view(), "before");
  EXPECT_EQ(batch.samples[1].name.view(), "km_g");
}

}  // namespace
}  // namespace kubemetrics
