// Self-metrics pushed to a real Prometheus remote-write receiver: the agent
// binary, with only remote write (no one scrapes it) and `self_metrics:
// true`, must make its health queryable in Prometheus as it would be from a
// scrape: counters that rate(), histograms that histogram_quantile(), the
// agent's tags and job="kubemetrics-agent", nothing refused.
#include <gtest/gtest.h>
#include <httplib.h>

#include <regex>
#include <set>
#include <string>
#include <thread>

#include "support/agent_process.h"
#include "support/agent_yaml.h"
#include "support/backends.h"
#include "support/counting_target.h"
#include "support/process.h"

namespace kubemetrics {
namespace {

using namespace std::chrono_literals;
using namespace kubemetrics::testing;

/// The raw answer of an instant PromQL query, "" when it failed.
std::string instantQuery(int port, const std::string& query) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10, 0);
  auto res = client.Get("/api/v1/query?query=" + encodeQuery(query));
  return res && res->status == 200 ? res->body : std::string();
}

/// The metric names of the series matching `selector` in Prometheus.
std::set<std::string> namesMatching(int port, const std::string& selector) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10, 0);
  auto res = client.Get("/api/v1/label/__name__/values?match%5B%5D=" + encodeQuery(selector));
  std::set<std::string> names;
  if (!res || res->status != 200) return names;
  static const std::regex name("\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"");
  for (auto it = std::sregex_iterator(res->body.begin(), res->body.end(), name);
       it != std::sregex_iterator(); ++it) {
    if ((*it)[1] != "status" && (*it)[1] != "success" && (*it)[1] != "data") {
      names.insert((*it)[1]);
    }
  }
  return names;
}

TEST(RemoteWriteSelfMetricsTest, PrometheusCanQueryTheAgentsHealthWithoutScrapingIt) {
  CountingTarget target("kmtest_selfm", 3, 1000000);
  TempDir dir;
  Backend prom = startPrometheus(dir);
  ASSERT_GT(prom.port, 0) << prom.process->output();
  const std::string config =
      dir.write("agent.yaml", remoteWriteAgentYaml("selfm", target.url(), prom.port,
                                                   "    batch: {max_wait: 200ms}\n"
                                                   "    self_metrics: true\n"
                                                   "    self_metrics_interval: 1s\n",
                                                   "{enabled: false}"));
  auto agent = AgentProcess::start({"--config", config});
  ASSERT_GT(agent.port, 0) << agent.process->output();

  // Counters: several pushes, increasing, with the agent's tags.
  const std::string scrapes =
      "kubemetrics_scrapes_total{job=\"kubemetrics-agent\",source=\"prometheus/selfm\"}";
  std::vector<ReadSeries> got;
  for (int i = 0; i < 150; ++i) {
    got = queryPrometheus(prom.port, scrapes + "[1m]");
    if (got.size() == 1 && got[0].values.size() >= 4) break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(got.size(), 1u) << agent.process->output();
  ASSERT_GE(got[0].values.size(), 4u);
  EXPECT_EQ(got[0].labels.at("cluster"), "e2e");
  EXPECT_FALSE(got[0].labels.at("node").empty());
  EXPECT_GT(got[0].values.back(), got[0].values.front());
  EXPECT_NE(instantQuery(prom.port, "rate(" + scrapes + "[30s]) > 0").find("\"result\":[{"),
            std::string::npos);

  // Histograms: buckets with le, usable by histogram_quantile.
  const std::string quantile = instantQuery(
      prom.port,
      "histogram_quantile(0.5, sum by (le) (rate("
      "kubemetrics_exporter_push_request_duration_seconds_bucket{job=\"kubemetrics-agent\","
      "exporter=\"remote_write\"}[30s])))");
  EXPECT_NE(quantile.find("\"result\":[{"), std::string::npos) << quantile;
  EXPECT_EQ(quantile.find("NaN"), std::string::npos) << quantile;

  // Every self-metric Prometheus holds is one the agent's page shows, and
  // the collected series keep their own job.
  httplib::Client page_client("127.0.0.1", agent.port);
  auto page = page_client.Get("/metrics");
  ASSERT_TRUE(page && page->status == 200);
  const std::set<std::string> pushed = namesMatching(prom.port, "{job=\"kubemetrics-agent\"}");
  EXPECT_TRUE(pushed.count("kubemetrics_build_info"));
  EXPECT_GE(pushed.size(), 20u);  // the scheduler, pipeline, exporter families and more
  for (const std::string& name : pushed) {
    EXPECT_NE(page->body.find("\n" + name), std::string::npos) << name;
  }
  EXPECT_FALSE(pushed.count("kmtest_selfm"));
  const std::set<std::string> collected = namesMatching(prom.port, "{job=\"selfm\"}");
  EXPECT_TRUE(collected.count("kmtest_selfm"));
  for (const std::string& name : collected) EXPECT_NE(name.rfind("kubemetrics_", 0), 0u) << name;
  // Prometheus refused nothing (each sample newer than the last of its series).
  EXPECT_LE(agent.metric("kubemetrics_exporter_push_dropped_samples_total",
                         "exporter=\"remote_write\",reason=\"rejected\""),
            0);
}

}  // namespace
}  // namespace kubemetrics
