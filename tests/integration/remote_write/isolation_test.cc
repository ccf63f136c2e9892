// Isolation: one remote write exporter points at a backend that accepts
// connections and never answers; a second one, in the same pipeline, must
// still deliver every sample, promptly.
#include <gtest/gtest.h>
#include <httplib.h>
#include <snappy.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "agent/agent_config.h"
#include "agent/pipeline/pipeline.h"
#include "exporters/remote_write/remote_write_exporter.h"
#include "remote_write/remote_write.pb.h"
#include "support/loopback.h"
#include "support/process.h"

namespace kubemetrics::exporters::remote_write {
namespace {

using namespace std::chrono_literals;

using kubemetrics::testing::BlackHole;

class CountingBackend {
 public:
  CountingBackend() {
    server_.Post("/api/v1/write", [this](const httplib::Request& req, httplib::Response& res) {
      std::string raw;
      pb::WriteRequest wr;
      if (!snappy::Uncompress(req.body.data(), req.body.size(), &raw) || !wr.ParseFromString(raw)) {
        res.status = 400;
        return;
      }
      std::size_t n = 0;
      for (const auto& ts : wr.timeseries()) n += ts.samples_size();
      samples_ += n;
      res.status = 204;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 1000 && !server_.is_running(); ++i) std::this_thread::sleep_for(2ms);
  }
  ~CountingBackend() {
    server_.stop();
    thread_.join();
  }
  std::size_t samples() const { return samples_.load(); }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  std::atomic<std::size_t> samples_{0};
  int port_ = 0;
  std::thread thread_;
};

RemoteWriteConfig configFor(int port, const std::string& spool_dir) {
  RemoteWriteConfig c;
  c.enabled = true;
  c.url = "http://127.0.0.1:" + std::to_string(port) + "/api/v1/write";
  c.push.timeout = 2s;
  c.push.batch.max_samples = 2000;
  c.push.batch.max_wait = 50ms;
  c.push.max_in_flight = 2;
  c.push.retry.initial_backoff = 50ms;
  c.push.retry.max_backoff = 200ms;
  c.push.retry.max_attempts = 2;
  c.push.spool.dir = spool_dir;
  return c;
}

TEST(RemoteWriteIsolationTest, StuckSiblingDoesNotSlowTheOtherExporter) {
  BlackHole stuck;
  CountingBackend good;
  kubemetrics::testing::TempDir tmp;
  prometheus::Registry registry;
  // The stuck exporter's requests hang for their whole timeout; the healthy
  // one must deliver everything well within one such timeout, which it could
  // not if a stuck request ever held it up. (A liveness bound, not a speed
  // assertion: the bench measures throughput.)
  RemoteWriteConfig stuck_config = configFor(stuck.port(), tmp.path());
  stuck_config.push.timeout = 10s;
  auto stuck_exporter = createRemoteWriteExporter("remote_write_stuck", stuck_config, registry);
  auto good_exporter =
      createRemoteWriteExporter("remote_write", configFor(good.port(), tmp.path()), registry);
  ASSERT_TRUE(stuck_exporter && good_exporter);
  std::vector<ExporterPtr> exporters;
  exporters.push_back(std::move(*stuck_exporter));
  exporters.push_back(std::move(*good_exporter));

  AgentConfig config;
  config.cluster = "test";
  config.node = "node-1";
  auto pipeline = Pipeline::create(config, std::move(exporters), registry, nullptr);
  ASSERT_TRUE(pipeline) << pipeline.error().message();
  (*pipeline)->start();

  constexpr int kBatches = 200;
  constexpr int kPerBatch = 500;
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  for (int b = 0; b < kBatches; ++b) {
    auto batch = std::make_unique<SampleBatch>();
    batch->source = "test";
    LabelsBuilder lb;
    for (int i = 0; i < kPerBatch; ++i) {
      lb.clear();
      lb.set("i", std::to_string(i));
      batch->samples.push_back(
          Sample{Symbol::intern("iso_metric"), lb.build(), 1.0 * b, now_ms + b});
    }
    ASSERT_TRUE((*pipeline)->submit(std::move(batch)));
    if (b % 20 == 0) std::this_thread::sleep_for(10ms);  // a steady stream, not one burst
  }
  const std::size_t total = static_cast<std::size_t>(kBatches) * kPerBatch;
  // Bounded below the stuck exporter's 10 s request timeout.
  for (int i = 0; i < 800 && good.samples() < total; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(good.samples(), total);
  (*pipeline)->shutdown(deadlineIn(3s));
  EXPECT_EQ(good.samples(), total);
}

}  // namespace
}  // namespace kubemetrics::exporters::remote_write
