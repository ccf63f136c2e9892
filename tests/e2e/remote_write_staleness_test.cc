// Staleness markers against the real backends: a series whose last sample is
// followed by a marker (kStaleNaN) must stop answering instant queries at the
// marker, while a series without one stays visible for the query lookback
// (5 minutes). Prometheus (remote write receiver) and VictoriaMetrics are
// started on 127.0.0.1 with fresh storage; the exporter runs in-process.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "exporters/remote_write/remote_write_exporter.h"
#include "support/backends.h"
#include "support/process.h"

namespace kubemetrics::exporters::remote_write {
namespace {

using namespace std::chrono_literals;
using namespace kubemetrics::testing;

// `ended`: samples at t0 and t0+10s, a marker at t0+20s; `kept`: the same
// samples and no marker. t0 is two minutes ago.
std::int64_t sendSeries(const std::string& url) {
  const std::int64_t t0 = (nowMs() - 120000) / 1000 * 1000;
  auto batch = std::make_shared<SampleBatch>();
  const Symbol name = Symbol::intern("kmtest_staleness");
  for (const char* series : {"ended", "kept"}) {
    LabelsBuilder b;
    b.set("series", series);
    const Labels labels = b.build();
    batch->samples.push_back(Sample{name, labels, 1, t0});
    batch->samples.push_back(Sample{name, labels, 2, t0 + 10000});
    if (std::string_view(series) == "ended")
      batch->samples.push_back(Sample{name, labels, kStaleNaN, t0 + 20000});
  }
  RemoteWriteConfig c;
  c.enabled = true;
  c.url = url;
  c.push.timeout = 5s;
  c.push.batch.max_wait = 1h;  // cut by flushForTest only
  c.push.spool.enabled = false;
  c.push.retry.initial_backoff = 100ms;
  prometheus::Registry registry;
  auto exporter = createRemoteWriteExporter("remote_write", c, registry);
  EXPECT_TRUE(exporter) << exporter.error().message();
  if (!exporter) return t0;
  EXPECT_TRUE((*exporter)->send(std::move(batch)));
  (*exporter)->flushForTest();
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (!(*exporter)->idleForTest() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  const auto stats = (*exporter)->stats();
  EXPECT_EQ(stats.sent_samples, 5u);
  EXPECT_EQ(stats.dropped_samples, 0u);
  (*exporter)->shutdown(deadlineIn(5s));
  return t0;
}

// The series labels `series` answering the instant query of the metric at
// `at_ms` ("ended,kept", "kept", ...); "?" when the query failed.
std::string seriesAt(int port, std::int64_t at_ms) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10, 0);
  char time[32];
  std::snprintf(time, sizeof time, "%.3f", static_cast<double>(at_ms) / 1000.0);
  auto res = client.Get("/api/v1/query?nocache=1&query=kmtest_staleness&time=" + std::string(time));
  if (!res || res->status != 200) return "?";
  std::string out;
  for (const char* series : {"ended", "kept"}) {
    if (res->body.find(std::string("\"series\":\"") + series + "\"") == std::string::npos) continue;
    if (!out.empty()) out += ",";
    out += series;
  }
  return out;
}

// Polls until the backend has ingested both series (bounded).
void waitForIngestion(int port, std::int64_t t0) {
  for (int i = 0; i < 50 && seriesAt(port, t0 + 15000) != "ended,kept"; ++i) {
    httplib::Client("127.0.0.1", port).Get("/internal/force_flush");  // VictoriaMetrics
    std::this_thread::sleep_for(200ms);
  }
}

void expectEndedAtTheMarker(int port, std::int64_t t0) {
  waitForIngestion(port, t0);
  EXPECT_EQ(seriesAt(port, t0 + 15000), "ended,kept");  // before the marker: both
  EXPECT_EQ(seriesAt(port, t0 + 25000), "kept");        // after it: ended is gone
  EXPECT_EQ(seriesAt(port, t0 + 60000), "kept");        // kept: within the lookback
}

TEST(RemoteWriteStalenessTest, PrometheusEndsTheSeriesAtTheMarker) {
  TempDir dir;
  Backend prom = startPrometheus(dir);
  ASSERT_GT(prom.port, 0) << prom.process->output();
  const std::int64_t t0 = sendSeries(prom.writeUrl());
  expectEndedAtTheMarker(prom.port, t0);
}

TEST(RemoteWriteStalenessTest, VictoriaMetricsEndsTheSeriesAtTheMarker) {
  TempDir dir;
  Backend vm = startVictoriaMetrics(dir.path());
  ASSERT_GT(vm.port, 0) << vm.process->output();
  const std::int64_t t0 = sendSeries(vm.writeUrl());
  expectEndedAtTheMarker(vm.port, t0);
}

}  // namespace
}  // namespace kubemetrics::exporters::remote_write
