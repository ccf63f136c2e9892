#include "common/text/prometheus_names.h"

#include <gtest/gtest.h>

namespace kubemetrics::text {
namespace {

TEST(PrometheusNamesTest, MapsMetricNames) {
  EXPECT_EQ(mapMetricName("kubernetes.node.cpu.usage_rate"), "kubernetes_node_cpu_usage_rate");
  EXPECT_EQ(mapMetricName("node_cpu_seconds_total"), "node_cpu_seconds_total");
  EXPECT_EQ(mapMetricName("ns:rule:rate5m"), "ns:rule:rate5m");
  EXPECT_EQ(mapMetricName("9lives"), "_9lives");
  EXPECT_EQ(mapMetricName("a-b/c d\xc3\xa9"), "a_b_c_d__");
  EXPECT_EQ(mapMetricName(""), "_");
}

TEST(PrometheusNamesTest, MapsLabelNamesWithoutColon) {
  EXPECT_EQ(mapLabelName("app.kubernetes.io/name"), "app_kubernetes_io_name");
  EXPECT_EQ(mapLabelName("a:b"), "a_b");
  EXPECT_EQ(mapLabelName("1st"), "_1st");
  EXPECT_EQ(mapLabelName("pod_name"), "pod_name");
}

}  // namespace
}  // namespace kubemetrics::text
