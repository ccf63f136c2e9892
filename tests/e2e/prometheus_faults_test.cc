// The agent binary with one healthy Prometheus target and one target per
// fault of issue 4 (slow, refused, 500, truncated, over the body limit,
// invalid UTF-8 in a label value, a 10k-label line): the agent stays up, the
// faulty targets report up 0 with a counted reason, the healthy one keeps
// its schedule and its data.
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

using std::chrono::milliseconds;
using std::chrono::seconds;

// The value of the first line starting with `name{` that contains every
// `needle`, or NaN.
double valueOf(const std::string& body, const std::string& name,
               const std::vector<std::string>& needles) {
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + "{", 0) != 0) continue;
    bool all = true;
    for (const std::string& n : needles) all &= line.find(n) != std::string::npos;
    if (all) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return std::nan("");
}

TEST(PrometheusFaultsTest, FaultyTargetsDoNotDisturbTheAgentOrEachOther) {
  const std::string ksm =
      readFile(std::string(KM_FIXTURES_DIR) + "/ksm/ksm-v2.19.0_k8s-1.35_nri.prom");
  std::string many_labels = "many{";
  for (int i = 0; i < 10000; ++i) many_labels += "l" + std::to_string(i) + "=\"v\",";
  many_labels += "} 1\n";
  std::atomic<bool> stopping{false};
  httplib::Server server;
  server.Get("/good", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(ksm, "text/plain; version=0.0.4");
  });
  server.Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    for (int i = 0; i < 30 && !stopping; ++i) std::this_thread::sleep_for(milliseconds(50));
    res.set_content("a 1\n", "text/plain");
  });
  server.Get("/status500", [](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content("internal error\n", "text/plain");
  });
  server.Get("/truncated", [](const httplib::Request&, httplib::Response& res) {
    res.set_content_provider(100000, "text/plain",
                             [](std::size_t, std::size_t, httplib::DataSink& sink) {
                               sink.write("a 1\nb 2\n", 8);
                               return false;
                             });
  });
  server.Get("/toolarge", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(ksm, "text/plain");  // ~270 KiB against a 64KiB limit
  });
  server.Get("/badutf8", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("a{x=\"ok\"} 1\nb{x=\"\xc3\x28\"} 1\n", "text/plain");
  });
  server.Get("/manylabels", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(many_labels, "text/plain");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread thread([&] { server.listen_after_bind(); });
  const int refused_port = freeLoopbackPort();

  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  std::string config =
      "cluster: faults\nnode: n1\nsources:\n  host: {enabled: false}\n  ec2: {enabled: false}\n"
      "  prometheus:\n";
  for (const char* name :
       {"good", "slow", "status500", "truncated", "toolarge", "badutf8", "manylabels"}) {
    const std::string n = name;
    // The healthy target gets a whole interval; only "toolarge" a small body limit.
    config += "    - {name: " + n + ", url: \"" + base + "/" + n +
              "\", interval: 1s, timeout: " + (n == "good" ? "1s" : "500ms") +
              (n == "toolarge" ? ", max_body_bytes: 64KiB" : "") + "}\n";
  }
  config += "    - {name: refused, url: \"http://127.0.0.1:" + std::to_string(refused_port) +
            "/metrics\", interval: 1s, timeout: 500ms}\n";
  TempDir dir;
  auto agent = AgentProcess::start({"--config", dir.write("agent.yaml", config)});
  ASSERT_GT(agent.port, 0) << agent.process->output();

  const std::vector<std::pair<std::string, std::string>> faults = {
      {"slow", "timeout"},        {"status500", "http_status"},
      {"truncated", "truncated"}, {"toolarge", "body_too_large"},
      {"badutf8", "parse"},       {"manylabels", "limit"},
      {"refused", "unreachable"}};
  std::string body;
  const auto until = std::chrono::steady_clock::now() + seconds(20);
  auto complete = [&] {
    if (!(valueOf(body, "kubemetrics_scrapes_total", {"source=\"prometheus/good\""}) >= 3))
      return false;
    for (const auto& [name, reason] : faults) {
      if (!(valueOf(body, "kubemetrics_prometheus_scrape_errors_total",
                    {"target=\"prometheus/" + name + "\"", "reason=\"" + reason + "\""}) >= 2)) {
        return false;
      }
    }
    return true;
  };
  while (std::chrono::steady_clock::now() < until) {
    body = metricsPage(agent.port);
    if (complete()) break;
    std::this_thread::sleep_for(milliseconds(250));
  }
  std::string counters;
  {
    std::istringstream in(body);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("kubemetrics_prometheus_scrape_errors_total{", 0) == 0 ||
          line.rfind("kubemetrics_scrapes_total{", 0) == 0) {
        counters += line + "\n";
      }
    }
  }
  EXPECT_TRUE(complete()) << counters;
  EXPECT_EQ(valueOf(body, "up", {"job=\"good\""}), 1);
  EXPECT_FALSE(std::isnan(valueOf(body, "kube_pod_info", {"job=\"good\""})));
  for (const auto& [name, reason] : faults) {
    EXPECT_EQ(valueOf(body, "up", {"job=\"" + name + "\""}), 0) << name;
    EXPECT_FALSE(std::isnan(valueOf(body, "scrape_duration_seconds", {"job=\"" + name + "\""})))
        << name;
    EXPECT_EQ(valueOf(body, "kubemetrics_source_up", {"source=\"prometheus/" + name + "\""}), 0)
        << name;
  }
  // Nothing of the failed bodies got through.
  EXPECT_TRUE(std::isnan(valueOf(body, "a", {"job=\"truncated\""})));
  EXPECT_TRUE(std::isnan(valueOf(body, "a", {"job=\"badutf8\""})));
  // Rate-limited log lines name the target and the reason.
  const std::string out = agent.process->output();
  EXPECT_NE(out.find("[prometheus/status500]"), std::string::npos) << out;
  EXPECT_NE(out.find("(http_status)"), std::string::npos) << out;
  // Still alive and serving.
  httplib::Client client("127.0.0.1", agent.port);
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  stopping = true;
  agent.process.reset();
  server.stop();
  thread.join();
}

}  // namespace
}  // namespace kubemetrics::testing
