// sources.kubernetes_resource_metrics against the fake API server's resource
// metrics API (tests/support/fake_kube_api.h follows the PodMetrics v1beta1
// reference and the API concepts document for its errors): the usage
// aggregates equal sums computed here from the quantities served, a
// namespace that goes away gets staleness markers, a failed LIST marks
// every series stale and is counted by reason, and only the cluster
// replica of shard 0 lists.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "common/config/config_document.h"
#include "kubemetrics/component.h"
#include "support/component_context.h"
#include "support/config_errors.h"
#include "support/fake_kube_api.h"
#include "support/process.h"
#include "support/registry_value.h"

namespace kubemetrics::scrapers::kubernetes_resource_metrics {
SourceFactory buildSources;
}  // namespace kubemetrics::scrapers::kubernetes_resource_metrics

namespace kubemetrics {
namespace {

using testing::ContainerUsage;
using testing::FakeKubeApi;
using testing::podMetricsJson;
using testing::registryValue;
using testing::TempDir;

constexpr double kKi = 1024;
constexpr double kMi = 1024 * 1024;

// The live (non-stale) value of `name` for namespace `ns` ("" = the cluster
// series) in `batch`, NAN when absent.
double valueOf(const SampleBatch& batch, std::string_view name, std::string_view ns) {
  for (const Sample& s : batch.samples) {
    if (s.name.view() != name || isStaleMarker(s.value)) continue;
    if (s.labels.get("namespace_name") == ns) return s.value;
  }
  return NAN;
}

// The series of `batch` that got a staleness marker, as "name{ns}".
std::vector<std::string> staleSeries(const SampleBatch& batch) {
  std::vector<std::string> out;
  for (const Sample& s : batch.samples) {
    if (isStaleMarker(s.value)) {
      out.push_back(std::string(s.name.view()) + "{" + std::string(s.labels.get("namespace_name")) +
                    "}");
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

class ResourceMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override { token_file_ = dir_.write("token", "fake-token\n"); }

  // The sources the factory builds for an agent of `role`, shard `shard`
  // of `total`, on the fake API server.
  std::vector<SourcePtr> build(const std::string& role, int shard, int total) {
    context_.agent.role = role;
    context_.agent.shard = shard;
    context_.agent.total_shards = total;
    context_.kube.access = KubeApiAccess{api_.url(), token_file_, api_.caFile(), false};
    auto doc = ConfigDocument::parse("{enabled: true, interval: 15s, timeout: 5s}", "t");
    ConfigNode node = doc->root();
    auto sources = scrapers::kubernetes_resource_metrics::buildSources(node, &context_.context);
    EXPECT_TRUE(sources) << sources.error().message();
    return sources ? std::move(*sources) : std::vector<SourcePtr>{};
  }

  Result<ScrapeStats> scrape(Source& source, SampleBatch& batch) {
    return source.scrape(batch, deadlineIn(std::chrono::seconds(10)));
  }

  double errors(const std::string& reason) {
    return registryValue(context_.registry, "kubemetrics_resource_metrics_errors_total",
                         {{"reason", reason}});
  }

  TempDir dir_;
  std::string token_file_;
  FakeKubeApi api_;
  testing::TestComponentContext context_;
};

TEST_F(ResourceMetricsTest, UsageAggregatesAreTheSumsOfThePodsContainers) {
  api_.setPodMetrics({
      podMetricsJson("kube-system", "coredns-1", {{"coredns", "1532417n", "24180Ki"}}),
      podMetricsJson("kube-system", "aws-node-x", {{"aws-node", "3m", "41Mi"}}),
      podMetricsJson("shop", "web-0", {{"app", "250m", "128Mi"}, {"proxy", "0.5", "2Gi"}}),
  });
  auto sources = build("cluster", 0, 1);
  ASSERT_EQ(sources.size(), 1u);
  SampleBatch batch;
  const auto before = std::chrono::system_clock::now();
  auto stats = scrape(*sources[0], batch);
  ASSERT_TRUE(stats) << stats.error().message();
  // Two families for two namespaces and the cluster.
  EXPECT_EQ(stats->samples, 6u);
  EXPECT_EQ(batch.samples.size(), 6u);

  const double kube_system_cpu = 1.532417 + 3;
  const double shop_cpu = 250 + 500;
  const double kube_system_memory = 24180 * kKi + 41 * kMi;
  const double shop_memory = 128 * kMi + 2048 * kMi;
  EXPECT_DOUBLE_EQ(valueOf(batch, "kubernetes.ns.cpu.usage_rate", "kube-system"), kube_system_cpu);
  EXPECT_DOUBLE_EQ(valueOf(batch, "kubernetes.ns.cpu.usage_rate", "shop"), shop_cpu);
  EXPECT_DOUBLE_EQ(valueOf(batch, "kubernetes.ns.memory.working_set", "kube-system"),
                   kube_system_memory);
  EXPECT_DOUBLE_EQ(valueOf(batch, "kubernetes.ns.memory.working_set", "shop"), shop_memory);
  EXPECT_DOUBLE_EQ(valueOf(batch, "kubernetes.cluster.cpu.usage_rate", ""),
                   kube_system_cpu + shop_cpu);
  EXPECT_DOUBLE_EQ(valueOf(batch, "kubernetes.cluster.memory.working_set", ""),
                   kube_system_memory + shop_memory);
  for (const Sample& s : batch.samples) {
    EXPECT_EQ(s.labels.get("type"), s.name.view().starts_with("kubernetes.ns.") ? "ns" : "cluster");
    const auto stamp =
        std::chrono::system_clock::time_point(std::chrono::milliseconds(s.timestamp_ms));
    EXPECT_GE(stamp + std::chrono::milliseconds(1), before);
    EXPECT_LE(stamp, std::chrono::system_clock::now());
  }
  EXPECT_EQ(registryValue(context_.registry, "kubemetrics_resource_metrics_pods"), 3);
  EXPECT_EQ(api_.requests("podmetrics", "list"), 1);
  EXPECT_EQ(api_.requestLog().back(), "GET /apis/metrics.k8s.io/v1beta1/pods");
}

TEST_F(ResourceMetricsTest, ANamespaceThatGoesAwayGetsStalenessMarkers) {
  api_.setPodMetrics({podMetricsJson("a", "p", {{"c", "10m", "1Mi"}}),
                      podMetricsJson("b", "q", {{"c", "20m", "2Mi"}})});
  auto sources = build("cluster", 0, 1);
  ASSERT_EQ(sources.size(), 1u);
  SampleBatch first;
  ASSERT_TRUE(scrape(*sources[0], first));
  EXPECT_TRUE(staleSeries(first).empty());

  api_.setPodMetrics({podMetricsJson("a", "p", {{"c", "15m", "1Mi"}})});
  SampleBatch second;
  ASSERT_TRUE(scrape(*sources[0], second));
  EXPECT_EQ(staleSeries(second), (std::vector<std::string>{"kubernetes.ns.cpu.usage_rate{b}",
                                                           "kubernetes.ns.memory.working_set{b}"}));
  EXPECT_DOUBLE_EQ(valueOf(second, "kubernetes.ns.cpu.usage_rate", "a"), 15);
  EXPECT_DOUBLE_EQ(valueOf(second, "kubernetes.cluster.cpu.usage_rate", ""), 15);
}

TEST_F(ResourceMetricsTest, AFailedListMarksEverySeriesStaleAndIsCountedByReason) {
  auto sources = build("cluster", 0, 1);
  ASSERT_EQ(sources.size(), 1u);
  // No metrics-server yet: the API server answers 404.
  SampleBatch missing;
  EXPECT_FALSE(scrape(*sources[0], missing));
  EXPECT_TRUE(missing.samples.empty());
  EXPECT_EQ(errors("http_404"), 1);

  api_.setPodMetrics({podMetricsJson("a", "p", {{"c", "10m", "1Mi"}})});
  SampleBatch good;
  ASSERT_TRUE(scrape(*sources[0], good));
  ASSERT_EQ(good.samples.size(), 4u);

  api_.failNextRequests(1, 503);
  SampleBatch failed;
  EXPECT_FALSE(scrape(*sources[0], failed));
  EXPECT_EQ(staleSeries(failed),
            (std::vector<std::string>{
                "kubernetes.cluster.cpu.usage_rate{}", "kubernetes.cluster.memory.working_set{}",
                "kubernetes.ns.cpu.usage_rate{a}", "kubernetes.ns.memory.working_set{a}"}));
  EXPECT_EQ(failed.samples.size(), 4u) << "no sum after a failed LIST";
  EXPECT_EQ(errors("http_503"), 1);

  // A body that is not a PodMetricsList: a decode error, nothing emitted.
  api_.setPodMetrics({R"({"metadata":{"namespace":"a"}})"});
  SampleBatch garbled;
  EXPECT_FALSE(scrape(*sources[0], garbled));
  EXPECT_TRUE(garbled.samples.empty()) << "the series were retired by the failure before";
  EXPECT_EQ(errors("decode"), 1);

  api_.setToken("rotated-elsewhere");
  SampleBatch unauthorized;
  EXPECT_FALSE(scrape(*sources[0], unauthorized));
  EXPECT_EQ(errors("unauthorized"), 1);

  api_.setToken("fake-token");
  api_.setPodMetrics({podMetricsJson("a", "p", {{"c", "10m", "1Mi"}})});
  SampleBatch recovered;
  ASSERT_TRUE(scrape(*sources[0], recovered));
  EXPECT_DOUBLE_EQ(valueOf(recovered, "kubernetes.cluster.cpu.usage_rate", ""), 10);
  EXPECT_TRUE(staleSeries(recovered).empty());
}

TEST_F(ResourceMetricsTest, OnlyTheClusterReplicaOfShardZeroLists) {
  EXPECT_TRUE(build("node", 0, 1).empty());
  EXPECT_TRUE(build("cluster", 1, 2).empty());
  EXPECT_EQ(build("cluster", 0, 2).size(), 1u);
  EXPECT_EQ(api_.requests("podmetrics", "list"), 0) << "building lists nothing";
}

TEST(ResourceMetricsConfigTest, ErrorsCarryTheYamlPath) {
  const auto errors = testing::sourceFactoryErrors(
      &scrapers::kubernetes_resource_metrics::buildSources, "kubernetes_resource_metrics",
      "sources:\n  kubernetes_resource_metrics: {enabled: 1x, interval: 10s, timeout: 20s, "
      "url: x}\n");
  ASSERT_EQ(errors.size(), 3u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0].rfind("sources.kubernetes_resource_metrics.enabled: ", 0), 0u) << errors[0];
  EXPECT_EQ(errors[1],
            "sources.kubernetes_resource_metrics.timeout: must not exceed interval (20s > 10s)");
  EXPECT_EQ(errors[2].rfind("sources.kubernetes_resource_metrics.url: unknown key", 0), 0u)
      << errors[2];
}

}  // namespace
}  // namespace kubemetrics
