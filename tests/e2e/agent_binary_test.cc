// The built kubemetrics-agent binary, run as a user runs it: default
// configuration, real /proc, HTTP on loopback; promtool and a real
// Prometheus check what it serves.

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "support/agent_process.h"
#include "support/backends.h"
#include "support/process.h"

namespace kubemetrics::testing {
namespace {

using std::chrono::seconds;

TEST(AgentBinaryTest, DefaultConfigServesHostMetricsTaggedWithCluster) {
  auto agent = AgentProcess::start({}, {"CLUSTER_NAME=e2e-cluster"});
  ASSERT_GT(agent.port, 0) << agent.process->output();

  const std::string body =
      pollUntil(agent.port, "/metrics", "node_memory_MemTotal_bytes{cluster=\"e2e-cluster\"");
  EXPECT_NE(body.find("node_memory_MemTotal_bytes{cluster=\"e2e-cluster\""), std::string::npos)
      << body.substr(0, 2000);
  EXPECT_NE(body.find("node_cpu_seconds_total{"), std::string::npos);
  EXPECT_NE(body.find("kubemetrics_pipeline_processed_samples_total"), std::string::npos);
  EXPECT_NE(body.find("kubemetrics_scrapes_total{source=\"host\"}"), std::string::npos);

  httplib::Client client("127.0.0.1", agent.port);
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_NE(ready->body.find("source host: up"), std::string::npos) << ready->body;
  auto missing = client.Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  // gzip when asked, and only then.
  client.set_decompress(false);
  auto gzipped = client.Get("/metrics", {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(gzipped);
  EXPECT_EQ(gzipped->get_header_value("Content-Encoding"), "gzip");
  EXPECT_LT(gzipped->body.size(), body.size());
  auto plain = client.Get("/metrics");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->get_header_value("Content-Encoding"), "");
}

TEST(AgentBinaryTest, PromtoolAcceptsTheMetricsPage) {
  auto agent = AgentProcess::start({}, {"CLUSTER_NAME=promtool"});
  ASSERT_GT(agent.port, 0) << agent.process->output();
  const std::string body = pollUntil(agent.port, "/metrics", "node_memory_MemTotal_bytes{");
  ASSERT_NE(body.find("node_memory_MemTotal_bytes{"), std::string::npos);
  const CommandResult check = runCommand({"promtool", "check", "metrics"}, body);
  // promtool exits 1 on a page it cannot parse and 3 on lint findings. The
  // one finding we accept is its camelCase rule on node_exporter's own
  // meminfo names (node_memory_MemTotal_bytes...): node_exporter emits them
  // so, every node dashboard queries them so, and renaming would break them.
  // Every other finding fails the test.
  ASSERT_TRUE(check.exit_code == 0 || check.exit_code == 3) << check.output;
  std::istringstream lines(check.output);
  std::string line;
  const std::regex accepted(
      "^node_memory_[A-Za-z0-9_]+ metric names should be written in 'snake_case' not "
      "'camelCase'$");
  int findings = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    ++findings;
    EXPECT_TRUE(std::regex_match(line, accepted)) << "promtool: " << line;
  }
  EXPECT_EQ(check.exit_code == 0, findings == 0) << check.output;
}

TEST(AgentBinaryTest, RealPrometheusScrapesHostMetricWithClusterLabel) {
  auto agent = AgentProcess::start({}, {"CLUSTER_NAME=prom-e2e"});
  ASSERT_GT(agent.port, 0) << agent.process->output();

  TempDir dir;
  const Backend prometheus = startPrometheus(dir, scrapeAgentConfig(agent.port));
  ASSERT_GT(prometheus.port, 0) << prometheus.process->output();

  const std::string body =
      pollUntil(prometheus.port,
                "/api/v1/query?query=node_memory_MemTotal_bytes%7Bcluster%3D%22prom-e2e%22%7D",
                "\"cluster\":\"prom-e2e\"", seconds(60));
  EXPECT_NE(body.find("\"status\":\"success\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"__name__\":\"node_memory_MemTotal_bytes\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"cluster\":\"prom-e2e\""), std::string::npos) << body;
}

TEST(AgentBinaryTest, SigtermDrainsAndExitsCleanly) {
  auto agent = AgentProcess::start({});
  ASSERT_GT(agent.port, 0) << agent.process->output();
  pollUntil(agent.port, "/readyz", "source host: up");
  agent.process->signal(SIGTERM);
  const auto code = agent.process->wait(seconds(20));
  ASSERT_TRUE(code.has_value()) << "agent did not exit after SIGTERM";
  EXPECT_EQ(*code, 0) << agent.process->output();
  const std::string out = agent.process->output();
  EXPECT_NE(out.find("received SIGTERM"), std::string::npos) << out;
  EXPECT_NE(out.find("drained"), std::string::npos) << out;
  EXPECT_NE(out.find("stopped"), std::string::npos) << out;
}

TEST(AgentBinaryTest, CheckConfigExitCodes) {
  const CommandResult valid = runCommand({KM_AGENT_BINARY, "--check-config"});
  EXPECT_EQ(valid.exit_code, 0) << valid.output;
  EXPECT_NE(valid.output.find("cluster:"), std::string::npos) << valid.output;
  EXPECT_NE(valid.output.find("ring_capacity: 65536"), std::string::npos) << valid.output;

  TempDir dir;
  const std::string bad = dir.write("bad.yaml", R"(cluster: c1
pipeline:
  ring_capacity: lots
server:
  listen: nowhere
)");
  const CommandResult invalid = runCommand({KM_AGENT_BINARY, "--config", bad, "--check-config"});
  EXPECT_EQ(invalid.exit_code, 1) << invalid.output;
  EXPECT_NE(invalid.output.find("pipeline.ring_capacity"), std::string::npos) << invalid.output;
  EXPECT_NE(invalid.output.find("server.listen"), std::string::npos) << invalid.output;

  // Starting (not just checking) with a bad file fails fast too.
  const CommandResult start = runCommand({KM_AGENT_BINARY, "--config", bad}, "", seconds(10));
  EXPECT_EQ(start.exit_code, 1) << start.output;

  const CommandResult unknown_flag = runCommand({KM_AGENT_BINARY, "--frobnicate"});
  EXPECT_EQ(unknown_flag.exit_code, 2);
  const CommandResult version = runCommand({KM_AGENT_BINARY, "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.output, "kubemetrics-agent " KM_VERSION "\n");
  const CommandResult bad_listen =
      runCommand({KM_AGENT_BINARY, "--check-config", "--listen", "127.0.0.1"});
  EXPECT_EQ(bad_listen.exit_code, 1) << bad_listen.output;
  EXPECT_NE(bad_listen.output.find("--listen"), std::string::npos);
}

TEST(AgentBinaryTest, PortInUseFailsWithAClearMessage) {
  auto first = AgentProcess::start({});
  ASSERT_GT(first.port, 0);
  const CommandResult second = runCommand(
      {KM_AGENT_BINARY, "--listen", "127.0.0.1:" + std::to_string(first.port)}, "", seconds(20));
  EXPECT_EQ(second.exit_code, 1) << second.output;
  EXPECT_NE(second.output.find(std::to_string(first.port)), std::string::npos) << second.output;
}

}  // namespace
}  // namespace kubemetrics::testing
