// Decoding a metrics.k8s.io/v1beta1 PodMetricsList as metrics-server serves
// it (PodMetrics v1beta1 reference, k8s.io/metrics/pkg/apis/metrics/
// v1beta1/types.go: metadata, timestamp, window, containers[].usage with
// resource.Quantity strings), and the JSON path of a bad field.
#include "common/kube/pod_metrics.h"

#include <gtest/gtest.h>

namespace kubemetrics::kube {
namespace {

constexpr std::string_view kList = R"({
  "kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {},
  "items": [
    {"metadata": {"name": "coredns-5d78c9869d-8xq2k", "namespace": "kube-system",
                  "creationTimestamp": "2024-05-02T10:00:11Z",
                  "labels": {"k8s-app": "kube-dns"}},
     "timestamp": "2024-05-02T10:00:02Z", "window": "10.317s",
     "containers": [{"name": "coredns", "usage": {"cpu": "1532417n", "memory": "24180Ki"}}]},
    {"metadata": {"name": "web-0", "namespace": "shop"},
     "timestamp": "2024-05-02T10:00:05Z", "window": "15s",
     "containers": [{"name": "app", "usage": {"cpu": "250m", "memory": "128Mi"}},
                    {"name": "proxy", "usage": {"cpu": "2", "memory": "1e6"}},
                    {"name": "idle", "usage": {}}]},
    {"metadata": {"name": "starting", "namespace": "shop"}, "containers": []}
  ]
})";

TEST(PodMetricsTest, SumsEachPodsContainers) {
  auto list = decodePodMetricsList(kList);
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_EQ(list->items.size(), 3u);
  EXPECT_EQ(list->items[0].namespace_name, "kube-system");
  EXPECT_EQ(list->items[0].name, "coredns-5d78c9869d-8xq2k");
  EXPECT_DOUBLE_EQ(list->items[0].cpu_millicores, 1.532417);  // 1532417 ns/s
  EXPECT_DOUBLE_EQ(list->items[0].memory_bytes, 24180.0 * 1024);
  EXPECT_EQ(list->items[1].name, "web-0");
  EXPECT_DOUBLE_EQ(list->items[1].cpu_millicores, 250.0 + 2000.0);
  EXPECT_DOUBLE_EQ(list->items[1].memory_bytes, 128.0 * 1024 * 1024 + 1e6);
  EXPECT_EQ(list->items[2].cpu_millicores, 0);
  EXPECT_EQ(list->items[2].memory_bytes, 0);
}

TEST(PodMetricsTest, ABadFieldIsAnErrorAtItsPath) {
  auto bad_quantity =
      decodePodMetricsList(R"({"items":[{"metadata":{"name":"a","namespace":"n"},"containers":[)"
                           R"({"name":"c","usage":{"cpu":"1m","memory":"12Q"}}]}]})");
  ASSERT_FALSE(bad_quantity);
  EXPECT_EQ(bad_quantity.error().message().rfind("items[0].containers[0].usage.memory: ", 0), 0u)
      << bad_quantity.error().message();

  auto no_usage =
      decodePodMetricsList(R"({"items":[{"metadata":{"name":"a"},"containers":[{"name":"c"}]}]})");
  ASSERT_FALSE(no_usage);
  EXPECT_EQ(no_usage.error().message(), "items[0].containers[0].usage: missing");

  auto no_name = decodePodMetricsList(R"({"items":[{"metadata":{"namespace":"n"}}]})");
  ASSERT_FALSE(no_name);
  EXPECT_EQ(no_name.error().message(), "items[0].metadata.name: missing");

  auto not_json = decodePodMetricsList("<html>");
  ASSERT_FALSE(not_json);
  EXPECT_EQ(not_json.error().message().rfind("invalid JSON", 0), 0u);
}

}  // namespace
}  // namespace kubemetrics::kube
