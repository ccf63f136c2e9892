// One `sources.prometheus` job with several URLs, through the agent binary:
// as Prometheus' static_configs, every target is scraped under the one
// `job`, each with its own `instance` and `up`.

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/agent_process.h"
#include "support/backends.h"
#include "support/process.h"

namespace kubemetrics::testing {
namespace {

/// An exposition server on 127.0.0.1 answering one gauge with `value`.
struct Target {
  explicit Target(int value) {
    server.Get("/metrics", [value](const httplib::Request&, httplib::Response& res) {
      res.set_content("# TYPE kmtest_value gauge\nkmtest_value " + std::to_string(value) + "\n",
                      "text/plain; version=0.0.4");
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~Target() {
    server.stop();
    thread.join();
  }
  httplib::Server server;
  int port = 0;
  std::thread thread;
};

TEST(PrometheusJobTargetsTest, OneJobWithTwoUrlsScrapesBothUnderTheJob) {
  Target first(1);
  Target second(2);
  const std::string a = "127.0.0.1:" + std::to_string(first.port);
  const std::string b = "127.0.0.1:" + std::to_string(second.port);
  TempDir dir;
  const std::string config =
      dir.write("agent.yaml",
                "cluster: job-test\nnode: n1\nsources:\n  host: {enabled: false}\n"
                "  ec2: {enabled: false}\n  prometheus:\n    - name: apps\n      urls: "
                "[\"http://" +
                    a + "/metrics\", \"http://" + b + "/metrics\"]\n      interval: 1s\n");
  auto agent = AgentProcess::start({"--config", config});
  ASSERT_GT(agent.port, 0) << agent.process->output();

  const std::string want_a =
      "kmtest_value{cluster=\"job-test\",instance=\"" + a + "\",job=\"apps\",node=\"n1\"} 1";
  const std::string want_b =
      "kmtest_value{cluster=\"job-test\",instance=\"" + b + "\",job=\"apps\",node=\"n1\"} 2";
  std::string page = pollUntil(agent.port, "/metrics", want_a);
  if (page.find(want_b) == std::string::npos) page = pollUntil(agent.port, "/metrics", want_b);
  EXPECT_NE(page.find(want_a), std::string::npos) << page.substr(0, 3000);
  EXPECT_NE(page.find(want_b), std::string::npos) << page.substr(0, 3000);
  for (const std::string& instance : {a, b}) {
    EXPECT_NE(page.find("up{cluster=\"job-test\",instance=\"" + instance +
                        "\",job=\"apps\",node=\"n1\"} 1"),
              std::string::npos)
        << instance;
    // Each target is its own source, named after the job and the instance.
    EXPECT_NE(page.find("kubemetrics_scrapes_total{source=\"prometheus/apps/" + instance + "\"}"),
              std::string::npos)
        << instance;
  }
}

}  // namespace
}  // namespace kubemetrics::testing
