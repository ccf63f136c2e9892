// kube-state-metrics is scraped only by the agent with role: cluster: a
// fake kube-state-metrics on loopback counts the requests it gets.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/agent_process.h"
#include "support/http_get.h"
#include "support/process.h"

namespace kubemetrics::testing {
namespace {

using std::chrono::seconds;

class FakeKsm {
 public:
  FakeKsm() : body_(readFile(std::string(KM_FIXTURES_DIR) + "/ksm/ksm-v2.19.0_k8s-1.35_nri.prom")) {
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      ++requests;
      res.set_content(body_, "text/plain; version=0.0.4");
    });
    port = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeKsm() {
    server_.stop();
    thread_.join();
  }
  int port = 0;
  std::atomic<int> requests{0};

 private:
  std::string body_;
  httplib::Server server_;
  std::thread thread_;
};

std::string config(const std::string& role, int port) {
  return "cluster: role-test\nrole: " + role +
         "\nnode: n1\n"
         "sources:\n"
         "  host: {enabled: false}\n"
         "  ec2: {enabled: false}\n"
         "  kube_state_metrics:\n"
         "    enabled: true\n"
         "    url: http://127.0.0.1:" +
         std::to_string(port) +
         "/metrics\n"
         "    interval: 1s\n"
         "    timeout: 1s\n";
}

TEST(PrometheusRoleTest, NodeRoleNeverRequestsKubeStateMetrics) {
  FakeKsm ksm;
  TempDir dir;
  const std::string file = dir.write("agent.yaml", config("node", ksm.port));
  auto agent = AgentProcess::start({"--config", file});
  ASSERT_GT(agent.port, 0) << agent.process->output();
  // Three scrape intervals' worth of time.
  std::this_thread::sleep_for(seconds(3));
  EXPECT_EQ(ksm.requests.load(), 0);
  const std::string out = agent.process->output();
  EXPECT_NE(out.find("only the agent with role: cluster scrapes kube-state-metrics"),
            std::string::npos)
      << out;
  EXPECT_EQ(metricsPage(agent.port).find("kube_pod_info"), std::string::npos);
}

TEST(PrometheusRoleTest, ClusterRoleScrapesKubeStateMetrics) {
  FakeKsm ksm;
  TempDir dir;
  const std::string file = dir.write("agent.yaml", config("cluster", ksm.port));
  auto agent = AgentProcess::start({"--config", file});
  ASSERT_GT(agent.port, 0) << agent.process->output();
  std::string body;
  for (int i = 0; i < 100 && body.find("kube_pod_info{") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    body = metricsPage(agent.port);
  }
  EXPECT_GE(ksm.requests.load(), 1);
  EXPECT_NE(body.find("kube_pod_info{"), std::string::npos) << agent.process->output();
  EXPECT_NE(body.find("job=\"kube-state-metrics\""), std::string::npos);
  EXPECT_NE(body.find("instance=\"127.0.0.1:" + std::to_string(ksm.port) + "\""),
            std::string::npos);
}

}  // namespace
}  // namespace kubemetrics::testing
