#include "agent/self_metrics_forwarder.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <string>
#include <vector>

#include "exporters/remote_write/remote_write_exporter.h"

namespace kubemetrics {
namespace {

/// An exporter that is not a push exporter (as /metrics is not).
class PlainExporter : public Exporter {
 public:
  std::string_view name() const override { return "plain"; }
  Result<void> send(SharedBatch) override { return {}; }
  void shutdown(Deadline) override {}
};

TEST(SelfMetricsForwarderTest, CollectionCarriesTheJobLabelAndGoesToTheNamedExporters) {
  prometheus::Registry registry;
  prometheus::BuildCounter()
      .Name("kubemetrics_scrapes_total")
      .Help("h")
      .Register(registry)
      .Add({{"source", "host"}})
      .Increment(2);
  std::vector<std::string> delivered_to;
  SampleBatchPtr delivered;
  SelfMetricsForwarder forwarder({{"remote_write", std::chrono::seconds(60)}}, registry,
                                 [&](SampleBatchPtr batch, std::span<const std::string> to) {
                                   delivered = std::move(batch);
                                   delivered_to.assign(to.begin(), to.end());
                                   return true;
                                 });
  const std::vector<std::string> to = {"remote_write", "wavefront"};
  forwarder.collectFor(to);

  ASSERT_NE(delivered, nullptr);
  EXPECT_EQ(delivered_to, to);
  EXPECT_EQ(delivered->source, "self_metrics");
  ASSERT_EQ(delivered->samples.size(), 1u);
  const Sample& sample = delivered->samples[0];
  EXPECT_EQ(sample.name.view(), "kubemetrics_scrapes_total");
  EXPECT_EQ(sample.value, 2);
  EXPECT_EQ(sample.labels.get("job"), kSelfMetricsJob);
  EXPECT_EQ(sample.labels.get("source"), "host");
  EXPECT_GT(sample.timestamp_ms, 0);
}

TEST(SelfMetricsForwarderTest, APushExporterWithSelfMetricsOnIsARoute) {
  prometheus::Registry registry;
  exporters::remote_write::RemoteWriteConfig config;
  config.url = "http://127.0.0.1:1/api/v1/write";  // never sent to
  config.push.spool.enabled = false;
  config.push.self_metrics = true;
  config.push.self_metrics_interval = std::chrono::seconds(5);
  auto asking = exporters::remote_write::createRemoteWriteExporter("asking", config, registry);
  config.push.self_metrics = false;
  auto silent = exporters::remote_write::createRemoteWriteExporter("silent", config, registry);
  ASSERT_TRUE(asking && silent);
  std::vector<ExporterPtr> exporters;
  exporters.push_back(std::make_unique<PlainExporter>());
  exporters.push_back(std::move(*silent));
  exporters.push_back(std::move(*asking));

  const std::vector<SelfMetricsRoute> routes = selfMetricsRoutes(exporters);
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].exporter, "asking");
  EXPECT_EQ(routes[0].interval, std::chrono::seconds(5));
  for (const ExporterPtr& exporter : exporters)
    exporter->shutdown(deadlineIn(std::chrono::seconds(1)));
}

TEST(SelfMetricsForwarderTest, StopWithoutStartAndTwiceIsHarmless) {
  prometheus::Registry registry;
  int deliveries = 0;
  SelfMetricsForwarder forwarder({{"remote_write", std::chrono::seconds(60)}}, registry,
                                 [&](SampleBatchPtr, std::span<const std::string>) {
                                   ++deliveries;
                                   return true;
                                 });
  forwarder.stop();
  forwarder.start();  // after stop(): the thread sees stopping_ and ends
  forwarder.stop();
  EXPECT_EQ(deliveries, 0);
}

}  // namespace
}  // namespace kubemetrics
