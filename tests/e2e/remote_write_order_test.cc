// Delivery order after an outage, against a real Prometheus remote-write
// receiver without an out-of-order window: it refuses (HTTP 400, "out of
// order sample") any sample older than the newest it has for that series.
// The agent scrapes a counting target while Prometheus is down, spools, and
// Prometheus comes up mid-run: the backlog must arrive before anything
// newer, so every scraped sample is stored and none is refused.
#include <gtest/gtest.h>
#include <httplib.h>

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

// A replay backs off up to retry.max_backoff while the backend is down, and
// new payloads keep coming every scrape: when it comes back, a new payload
// is the first to reach it unless the agent queues it behind the backlog.

// Both spool modes: wal (every payload through the spool) and overflow
// (payloads spooled only once retries run out).
class RemoteWriteOrderTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RemoteWriteOrderTest, BacklogReachesPrometheusBeforeNewerSamplesAndNoneIsRefused) {
  constexpr int kSeries = 20;
  constexpr int kServedScrapes = 40;  // 10 s at 250 ms: outage, then recovery
  CountingTarget target("kmtest_order", kSeries, kServedScrapes);

  TempDir dir;
  const int prometheus_port = freeLoopbackPort();
  const std::string config = dir.write(
      "agent.yaml",
      remoteWriteAgentYaml(
          "order", target.url(), prometheus_port,
          "    timeout: 2s\n"
          "    batch: {max_samples: 1000, max_wait: 200ms}\n"
          "    retry: {initial_backoff: 100ms, max_backoff: 2s, max_attempts: 2}\n",
          "{mode: " + GetParam() + ", dir: \"" + dir.path() + "/spool\", max_bytes: 64MiB}"));
  auto agent = AgentProcess::start({"--config", config});
  ASSERT_GT(agent.port, 0) << agent.process->output();

  // The outage: Prometheus is down for the first scrapes, until the agent
  // has spooled some after failed attempts.
  const auto until = std::chrono::steady_clock::now() + 30s;
  auto outageSeen = [&] {
    return agent.metric("kubemetrics_exporter_push_failed_samples_total",
                        "exporter=\"remote_write\"") > 0 &&
           agent.metric("kubemetrics_exporter_push_spooled_samples_total",
                        "exporter=\"remote_write\"") > 0;
  };
  while (!outageSeen() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(outageSeen()) << agent.process->output();
  ASSERT_LT(target.served(), kServedScrapes) << "the outage outlasted the target's scrapes";
  TempDir prometheus_dir;
  Backend prometheus =
      startPrometheus(prometheus_dir, "global:\n  scrape_interval: 1m\n", prometheus_port);
  ASSERT_GT(prometheus.port, 0) << prometheus.process->output();

  const std::size_t want = static_cast<std::size_t>(kSeries) * kServedScrapes;
  std::size_t got = 0;
  for (int i = 0; i < 150 && got < want; ++i) {  // 45 s at most
    std::this_thread::sleep_for(300ms);
    got = totalSamples(queryPrometheus(prometheus.port, "kmtest_order[10m]"));
  }
  EXPECT_EQ(got, want) << agent.process->output();
  EXPECT_EQ(target.served(), kServedScrapes);
  // Nothing was refused: no 400 ("out of order sample") at all.
  EXPECT_EQ(agent.metric("kubemetrics_exporter_push_dropped_samples_total",
                         "exporter=\"remote_write\",reason=\"rejected\""),
            0)
      << agent.process->output();
}

INSTANTIATE_TEST_SUITE_P(SpoolModes, RemoteWriteOrderTest, ::testing::Values("wal", "overflow"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace kubemetrics
