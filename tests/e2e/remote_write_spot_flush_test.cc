// A spot interruption announced during a backend outage: the agent binary
// polls a fake instance metadata service (tests/unit/scrapers/ec2/
// fake_imds.h, which follows the IMDS documentation: IMDSv2 tokens, 404
// on spot/instance-action until an interruption is scheduled, then
// {"action": "terminate", "time": "<RFC 3339>"}), its remote write
// backend, a real VictoriaMetrics, is down, and the retry backoff has grown
// long (max_backoff 60s). The notice gives 45 s; the backend comes back
// after 30. Flush mode must have the spool empty before the announced
// time, every sample scraped during the outage stored.
#include <gtest/gtest.h>

#include <cmath>
#include <ctime>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include "support/agent_process.h"
#include "support/backends.h"
#include "support/counting_target.h"
#include "support/process.h"
#include "unit/scrapers/ec2/fake_imds.h"

namespace kubemetrics {
namespace {

using namespace std::chrono_literals;
using namespace kubemetrics::testing;
using scrapers::ec2::testing::FakeImds;
using Clock = std::chrono::steady_clock;

constexpr int kSeries = 20;
const std::string kLabels = "exporter=\"remote_write\"";

std::string rfc3339(std::chrono::system_clock::time_point at) {
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

TEST(RemoteWriteSpotFlushTest, SpoolIsEmptyBeforeTheAnnouncedTime) {
  FakeImds imds;
  CountingTarget target("kmtest_spot", kSeries, 1000000);
  TempDir dir;
  const int vm_port = freeLoopbackPort();
  const std::string config = dir.write("agent.yaml",
                                       "cluster: e2e\n"
                                       "sources:\n"
                                       "  host: {enabled: false}\n"
                                       "  ec2: {enabled: true, endpoint: \"" +
                                           imds.endpoint() +
                                           "\", spot_interval: 500ms, timeout: 1s}\n"
                                           "  prometheus:\n"
                                           "    - {name: spot, url: \"" +
                                           target.url() +
                                           "\", interval: 500ms, timeout: 400ms}\n"
                                           "exporters:\n"
                                           // Self-metrics read the moment they change.
                                           "  prometheus: {cache_for: 0s}\n"
                                           "  remote_write:\n"
                                           "    enabled: true\n"
                                           "    url: \"http://127.0.0.1:" +
                                           std::to_string(vm_port) +
                                           "/api/v1/write\"\n"
                                           "    timeout: 2s\n"
                                           "    retry: {initial_backoff: 1s, max_backoff: 60s}\n"
                                           "  spool: {dir: \"" +
                                           dir.path() + "/spool\"}\n");
  // CTest disables IMDS for every e2e test (AWS_EC2_METADATA_DISABLED):
  // this one points the agent at the fake on 127.0.0.1 instead.
  AgentProcess agent =
      AgentProcess::start({"--config", config}, {"AWS_EC2_METADATA_DISABLED=false"});
  ASSERT_GT(agent.port, 0) << agent.process->output();

  // The outage: long enough for the backoff to grow past the notice.
  std::this_thread::sleep_for(20s);
  ASSERT_GT(agent.metric("kubemetrics_exporter_spool_records", kLabels), 0)
      << agent.process->output();
  const int served_before_notice = target.served();
  const auto announced = std::chrono::system_clock::now() + 45s;
  const auto announced_steady = Clock::now() + 45s;
  imds.setSpotAction("{\"action\": \"terminate\", \"time\": \"" + rfc3339(announced) + "\"}");
  ASSERT_TRUE(agent.process->waitForOutput("flush mode", 10s)) << agent.process->output();
  EXPECT_EQ(agent.metric("kubemetrics_exporter_push_flush_mode", kLabels), 1);
  EXPECT_TRUE(std::isinf(agent.metric("kubemetrics_exporter_spool_seconds_to_empty", kLabels)));

  std::this_thread::sleep_for(30s);
  TempDir vm_dir;
  Backend vm = startVictoriaMetrics(vm_dir.path(), vm_port);
  ASSERT_GT(vm.port, 0) << vm.process->output();
  const auto back = Clock::now();
  bool emptied = false;
  while (Clock::now() < announced_steady) {
    if (agent.metric("kubemetrics_exporter_spool_records", kLabels) == 0) {
      emptied = true;
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  const auto empty_after = std::chrono::duration<double>(Clock::now() - back).count();
  const auto margin = std::chrono::duration<double>(announced_steady - Clock::now()).count();
  std::cout << "spool empty " << empty_after << " s after the backend came back, " << margin
            << " s before the announced time\n";
  EXPECT_TRUE(emptied) << agent.process->output();

  // Everything scraped up to the notice is stored.
  std::map<long, int> series_per_value;
  for (int i = 0; i < 40; ++i) {
    series_per_value.clear();
    for (const ReadSeries& s : exportFromVictoriaMetrics(vm.port, "kmtest_spot")) {
      for (double v : s.values) {
        if (!std::isnan(v)) ++series_per_value[std::lround(v)];
      }
    }
    int complete = 0;
    for (int k = 0; k < served_before_notice; ++k) complete += series_per_value[k] == kSeries;
    if (complete == served_before_notice) break;
    std::this_thread::sleep_for(250ms);
  }
  for (int k = 0; k < served_before_notice; ++k) {
    EXPECT_EQ(series_per_value[k], kSeries) << "value " << k;
  }
}

}  // namespace
}  // namespace kubemetrics
