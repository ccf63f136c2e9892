// A receiver that refuses some samples of a request for good, against a
// real Prometheus remote-write receiver without an out-of-order window:
// once the agent's first samples of one series are stored, another writer
// stores a sample of that series ten minutes ahead, so every later sample
// the agent sends for it is "out of order" — and Prometheus answers 400 for
// the whole request and stores none of it. The agent must send the request
// again in parts and drop only that series' samples (counted as rejected),
// so every other series arrives whole.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "exporters/remote_write/remote_write_encoder.h"
#include "support/agent_process.h"
#include "support/agent_yaml.h"
#include "support/backends.h"
#include "support/counting_target.h"
#include "support/process.h"

namespace kubemetrics {
namespace {

using namespace std::chrono_literals;
using namespace kubemetrics::testing;

constexpr int kSeries = 20;
constexpr int kScrapes = 24;
constexpr int kRefusedSeries = 7;

// Writes one sample of `series` (its labels as stored, __name__ included)
// ten minutes ahead, as another writer of the same series would (remote
// write 1.0, the spec's headers).
bool writeNewerSample(int port, const ReadSeries& series) {
  LabelsBuilder labels;
  for (const auto& [name, value] : series.labels) {
    if (name != "__name__") labels.set(name, value);
  }
  const auto ahead = std::chrono::system_clock::now() + 10min;
  const Sample sample{
      Symbol::intern(series.labels.at("__name__")), labels.build(), 999,
      std::chrono::duration_cast<std::chrono::milliseconds>(ahead.time_since_epoch()).count()};
  exporters::remote_write::RemoteWriteEncoder encoder;
  std::size_t dropped = 0;
  auto payload = encoder.encode(std::vector<Sample>{sample}, &dropped);
  if (!payload) return false;
  httplib::Client client("127.0.0.1", port);
  httplib::Headers headers = {{"Content-Encoding", "snappy"},
                              {"X-Prometheus-Remote-Write-Version", "0.1.0"}};
  auto res = client.Post("/api/v1/write", headers, payload->body, "application/x-protobuf");
  return res && res->status / 100 == 2;
}

TEST(RemoteWriteRefusedSampleTest, OnlyTheRefusedSeriesIsDroppedTheRestArrives) {
  TempDir prometheus_dir;
  Backend prometheus = startPrometheus(prometheus_dir, "global: {}\n", freeLoopbackPort());
  ASSERT_GT(prometheus.port, 0) << prometheus.process->output();

  CountingTarget target("kmtest_refused", kSeries, kScrapes);
  TempDir dir;
  const std::string config = dir.write(
      "agent.yaml", remoteWriteAgentYaml("refused", target.url(), prometheus.port,
                                         "    batch: {max_samples: 1000, max_wait: 500ms}\n",
                                         "{dir: \"" + dir.path() + "/spool\"}"));
  auto agent = AgentProcess::start({"--config", config});
  ASSERT_GT(agent.port, 0) << agent.process->output();

  // The agent's first samples of the series arrive; then the other writer
  // moves it ahead.
  const std::string refused = std::to_string(kRefusedSeries);
  std::optional<ReadSeries> first;
  for (int i = 0; i < 100 && !first; ++i) {  // 10 s at most
    for (const ReadSeries& s : queryPrometheus(prometheus.port, "kmtest_refused[30m]")) {
      if (s.labels.at("series") == refused) first = s;
    }
    if (!first) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(first) << agent.process->output();
  ASSERT_TRUE(writeNewerSample(prometheus.port, *first));
  ASSERT_LT(target.served(), kScrapes - 4) << "too late: most scrapes are done";

  // Every other series whole.
  const std::size_t want = static_cast<std::size_t>(kSeries - 1) * kScrapes;
  std::size_t got = 0;
  std::vector<ReadSeries> stored;
  for (int i = 0; i < 100 && got < want; ++i) {  // 30 s at most
    std::this_thread::sleep_for(300ms);
    stored = queryPrometheus(prometheus.port, "kmtest_refused[30m]");
    got = 0;
    for (const ReadSeries& s : stored) {
      if (s.labels.at("series") != refused) got += s.values.size();
    }
  }
  EXPECT_EQ(got, want) << agent.process->output();
  EXPECT_EQ(target.served(), kScrapes);
  // The refused series: what came before the other writer's sample (which
  // a query at the present does not show); every later one of the agent's
  // (each scrape's and the staleness marker) dropped and counted, and
  // nothing else.
  std::size_t stored_before = 0;
  for (const ReadSeries& s : stored) {
    if (s.labels.at("series") != refused) continue;
    stored_before = s.values.size();
    for (std::size_t k = 0; k < s.values.size(); ++k) EXPECT_EQ(s.values[k], k);
  }
  EXPECT_GE(stored_before, first->values.size());
  const double want_rejected = static_cast<double>(kScrapes + 1 - stored_before);
  const auto rejected = [&] {
    return agent.metric("kubemetrics_exporter_push_dropped_samples_total",
                        "exporter=\"remote_write\",reason=\"rejected\"");
  };
  for (int i = 0; i < 50 && rejected() < want_rejected; ++i) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(rejected(), want_rejected) << agent.process->output();
}

}  // namespace
}  // namespace kubemetrics
