// Remote write against the real thing: a Prometheus with the remote write
// receiver and a VictoriaMetrics, both started here on 127.0.0.1 with fresh
// storage. The exporter runs in-process with known batches; every series and
// sample sent must come back through the backend's query API with all its
// labels.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "exporters/remote_write/remote_write_exporter.h"
#include "support/backends.h"
#include "support/process.h"

namespace kubemetrics::exporters::remote_write {
namespace {

using namespace std::chrono_literals;
using namespace kubemetrics::testing;

constexpr int kSeries = 20;
constexpr int kPoints = 6;

// kSeries series x kPoints samples, 10 s apart, ending a minute ago. The
// first half of the points go in one batch and the second in another (each
// shuffled, so the encoder's per-series sort is exercised).
std::vector<SharedBatch> knownBatches(std::int64_t end_ms) {
  std::vector<SharedBatch> batches;
  std::mt19937 rng(42);
  for (int half = 0; half < 2; ++half) {
    auto batch = std::make_shared<SampleBatch>();
    for (int s = 0; s < kSeries; ++s) {
      LabelsBuilder b;
      b.set("pod", "web-" + std::to_string(s));
      b.set("namespace", s % 2 ? "default" : "kube-system");
      b.set("app.kubernetes.io/name", "web");
      const Labels labels = b.build();
      for (int p = half * kPoints / 2; p < (half + 1) * kPoints / 2; ++p) {
        batch->samples.push_back(Sample{Symbol::intern("kmtest.e2e.metric"), labels, s * 100.0 + p,
                                        end_ms - (kPoints - 1 - p) * 10000});
      }
    }
    std::shuffle(batch->samples.begin(), batch->samples.end(), rng);
    batches.push_back(std::move(batch));
  }
  return batches;
}

RemoteWriteConfig configFor(const std::string& url) {
  RemoteWriteConfig c;
  c.enabled = true;
  c.url = url;
  c.push.timeout = 5s;
  c.push.batch.max_samples = 100000;
  c.push.batch.max_wait = 1h;  // batches cut by flushForTest only
  c.push.spool.enabled = false;
  c.push.retry.initial_backoff = 100ms;
  c.external_labels = {{"cluster", "e2e"}};
  return c;
}

void sendKnownBatches(const std::string& url) {
  prometheus::Registry registry;
  auto exporter = createRemoteWriteExporter("remote_write", configFor(url), registry);
  ASSERT_TRUE(exporter) << exporter.error().message();
  for (auto& batch : knownBatches(nowMs() - 60000)) {
    ASSERT_TRUE((*exporter)->send(batch));
    (*exporter)->flushForTest();
    // In order: the second payload's samples are newer than the first's.
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (!(*exporter)->idleForTest() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(10ms);
    }
  }
  const auto stats = (*exporter)->stats();
  EXPECT_EQ(stats.sent_samples, static_cast<std::uint64_t>(kSeries * kPoints));
  EXPECT_EQ(stats.dropped_samples, 0u);
  (*exporter)->shutdown(deadlineIn(5s));
}

void expectEverySeries(const std::vector<ReadSeries>& got) {
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kSeries));
  std::set<std::string> pods;
  for (const ReadSeries& s : got) {
    EXPECT_EQ(s.labels.size(), 5u);
    EXPECT_EQ(s.labels.at("__name__"), "kmtest_e2e_metric");
    EXPECT_EQ(s.labels.at("cluster"), "e2e");
    EXPECT_EQ(s.labels.at("app_kubernetes_io_name"), "web");
    const std::string pod = s.labels.at("pod");
    pods.insert(pod);
    const int index = std::stoi(pod.substr(4));
    EXPECT_EQ(s.labels.at("namespace"), index % 2 ? "default" : "kube-system");
    EXPECT_EQ(s.timestamps.size(), static_cast<std::size_t>(kPoints)) << pod;
    EXPECT_TRUE(std::is_sorted(s.timestamps.begin(), s.timestamps.end()));
  }
  EXPECT_EQ(pods.size(), static_cast<std::size_t>(kSeries));
  EXPECT_EQ(totalSamples(got), static_cast<std::size_t>(kSeries * kPoints));
}

TEST(RemoteWriteBackendsTest, PrometheusReadsBackEverySeriesAndSample) {
  TempDir dir;
  Backend prom = startPrometheus(dir);
  ASSERT_GT(prom.port, 0) << prom.process->output();
  sendKnownBatches(prom.writeUrl());
  std::vector<ReadSeries> got;
  for (int i = 0; i < 50 && totalSamples(got) < kSeries * kPoints; ++i) {
    got = queryPrometheus(prom.port, "kmtest_e2e_metric[10m]");
    if (totalSamples(got) < kSeries * kPoints) std::this_thread::sleep_for(200ms);
  }
  expectEverySeries(got);
}

TEST(RemoteWriteBackendsTest, VictoriaMetricsReadsBackEverySeriesAndSample) {
  TempDir dir;
  Backend vm = startVictoriaMetrics(dir.path());
  ASSERT_GT(vm.port, 0) << vm.process->output();
  sendKnownBatches(vm.writeUrl());
  std::vector<ReadSeries> got;
  for (int i = 0; i < 50 && totalSamples(got) < kSeries * kPoints; ++i) {
    got = exportFromVictoriaMetrics(vm.port, "{__name__=\"kmtest_e2e_metric\"}");
    if (totalSamples(got) < kSeries * kPoints) std::this_thread::sleep_for(200ms);
  }
  expectEverySeries(got);
}

}  // namespace
}  // namespace kubemetrics::exporters::remote_write
