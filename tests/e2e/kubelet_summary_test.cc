// The agent binary with the kubelet source enabled, reading an in-process
// fake kubelet over HTTPS (test CA, bearer token), exporting on /metrics,
// scraped by a real Prometheus; the kubelet metrics are queried back with
// their cluster and nodename labels.

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/agent_process.h"
#include "support/agent_yaml.h"
#include "support/backends.h"
#include "support/process.h"
#include "support/tls_certs.h"
#include "unit/scrapers/kubelet/fake_kubelet.h"
#include "unit/scrapers/kubelet/summary_support.h"

namespace kubemetrics::testing {
namespace {

using std::chrono::seconds;

class KubeletSummaryE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const TlsCerts& certs = TlsCerts::shared();
    kubelet_ = std::make_unique<scrapers::kubelet::testing::FakeKubelet>(
        certs.server_cert, certs.server_key, "e2e-token");
    ASSERT_TRUE(kubelet_->valid());
    kubelet_->setBody(
        scrapers::kubelet::testing::fixture("summary_k8s-1.35_containerd_psi_nri.json"));
    const std::string token = dir_.write("token", "e2e-token\n");
    config_ = dir_.write("agent.yaml",
                         kubeletAgentYaml("e2e-kubelet", kubelet_->url(), token, certs.ca_cert));
  }

  TempDir dir_;
  std::string config_;
  std::unique_ptr<scrapers::kubelet::testing::FakeKubelet> kubelet_;
};

TEST_F(KubeletSummaryE2eTest, AgentServesKubeletMetricsOnItsPage) {
  auto agent = AgentProcess::start({"--config", config_});
  ASSERT_GT(agent.port, 0) << agent.process->output();
  const std::string body =
      pollUntil(agent.port, "/metrics", "kubernetes_node_memory_working_set", seconds(20));
  EXPECT_NE(body.find("kubernetes_node_memory_working_set{"), std::string::npos) << body;
  EXPECT_NE(body.find("nodename=\"datagen-1-35\""), std::string::npos);
  EXPECT_NE(body.find("cluster=\"e2e-kubelet\""), std::string::npos);
  EXPECT_NE(body.find("kubemetrics_source_up{source=\"kubelet\"} 1"), std::string::npos) << body;
  EXPECT_NE(body.find("kubemetrics_kubelet_rate_cache_series"), std::string::npos);
  // The page passes promtool.
  const CommandResult check = runCommand({"promtool", "check", "metrics"}, body);
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST_F(KubeletSummaryE2eTest, RealPrometheusQueriesKubeletMetricsBack) {
  auto agent = AgentProcess::start({"--config", config_});
  ASSERT_GT(agent.port, 0) << agent.process->output();

  const Backend prometheus = startPrometheus(dir_, scrapeAgentConfig(agent.port));
  ASSERT_GT(prometheus.port, 0) << prometheus.process->output();

  // kubernetes_node_memory_working_set{cluster="e2e-kubelet",nodename="datagen-1-35"}
  const std::string body = pollUntil(
      prometheus.port,
      "/api/v1/query?query=kubernetes_node_memory_working_set%7Bcluster%3D%22e2e-kubelet%22%2C"
      "nodename%3D%22datagen-1-35%22%7D",
      "\"nodename\":\"datagen-1-35\"", seconds(60));
  EXPECT_NE(body.find("\"status\":\"success\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"cluster\":\"e2e-kubelet\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"type\":\"node\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"917110784\""), std::string::npos) << body;  // node workingSetBytes

  // A pod-level series with its namespace and pod tags.
  const std::string pod = pollUntil(
      prometheus.port,
      "/api/v1/query?query=kubernetes_pod_memory_working_set%7Bpod_name%3D%22kube-controller-"
      "manager-datagen-1-35%22%7D",
      "\"namespace_name\":\"kube-system\"", seconds(30));
  EXPECT_NE(pod.find("\"66478080\""), std::string::npos) << pod;
  EXPECT_GT(kubelet_->requests(), 0);
}

}  // namespace
}  // namespace kubemetrics::testing
