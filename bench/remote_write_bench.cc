// Remote write: encode + compress throughput and wire bytes per sample on
// kube-state-metrics-shaped data (snappy, the spec's; zstd and gzip for
// comparison), and the isolation figure: one exporter's delivery throughput
// alone vs. with a sibling exporter whose backend never answers.
//
//   build-rel/bench/remote_write_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_config.h"
#include "agent/pipeline/pipeline.h"
#include "common/push/batch_journal.h"
#include "exporters/remote_write/remote_write_encoder.h"
#include "exporters/remote_write/remote_write_exporter.h"
#include "support/loopback.h"

namespace kubemetrics::exporters::remote_write {
namespace {

// One kube-state-metrics scrape of a cluster with `pods` pods: the pod
// families KSM exposes most of (phase x5, info, labels, container info,
// requests/limits, restarts, ready), with KSM's label sets.
std::vector<Sample> ksmShapedSamples(int pods) {
  std::vector<Sample> out;
  const std::int64_t ts = 1764000000000;
  LabelsBuilder b;
  auto add = [&](const char* name, double v) {
    out.push_back(Sample{Symbol::intern(name), b.build(), v, ts});
  };
  static const char* kPhases[] = {"Pending", "Running", "Succeeded", "Failed", "Unknown"};
  for (int p = 0; p < pods; ++p) {
    const std::string ns = "team-" + std::to_string(p % 40);
    const std::string pod = "web-" + std::to_string(p) + "-7d9f8c6b5-x" + std::to_string(p % 97);
    const std::string uid = "3f2a" + std::to_string(100000 + p) + "-8c1e-4b7a-9d2f-0a1b2c3d4e5f";
    for (const char* phase : kPhases) {
      b.clear();
      b.set("namespace", ns).set("pod", pod).set("uid", uid).set("phase", phase);
      add("kube_pod_status_phase", std::strcmp(phase, "Running") == 0 ? 1 : 0);
    }
    b.clear();
    b.set("namespace", ns)
        .set("pod", pod)
        .set("uid", uid)
        .set("host_ip", "10.0.3." + std::to_string(p % 250))
        .set("pod_ip", "100.64." + std::to_string(p % 250) + ".7")
        .set("node", "ip-10-0-3-" + std::to_string(p % 50))
        .set("created_by_kind", "ReplicaSet")
        .set("created_by_name", "web-7d9f8c6b5")
        .set("priority_class", "");
    add("kube_pod_info", 1);
    b.clear();
    b.set("namespace", ns)
        .set("pod", pod)
        .set("uid", uid)
        .set("label_app", "web")
        .set("label_team", ns);
    add("kube_pod_labels", 1);
    b.clear();
    b.set("namespace", ns)
        .set("pod", pod)
        .set("uid", uid)
        .set("container", "app")
        .set("image", "registry.example.com/web:1.4." + std::to_string(p % 7))
        .set("image_id", "docker-pullable://registry.example.com/web@sha256:4f7c9e1b2a3d")
        .set("container_id", "containerd://8e1f" + std::to_string(p));
    add("kube_pod_container_info", 1);
    for (const char* resource : {"cpu", "memory"}) {
      b.clear();
      b.set("namespace", ns)
          .set("pod", pod)
          .set("uid", uid)
          .set("container", "app")
          .set("node", "ip-10-0-3-" + std::to_string(p % 50))
          .set("resource", resource)
          .set("unit", std::strcmp(resource, "cpu") == 0 ? "core" : "byte");
      add("kube_pod_container_resource_requests",
          std::strcmp(resource, "cpu") == 0 ? 0.25 : 268435456);
      add("kube_pod_container_resource_limits", std::strcmp(resource, "cpu") == 0 ? 1 : 536870912);
    }
    b.clear();
    b.set("namespace", ns).set("pod", pod).set("uid", uid).set("container", "app");
    add("kube_pod_container_status_restarts_total", p % 3);
    add("kube_pod_container_status_ready", 1);
  }
  return out;
}

void BM_EncodeCompress(benchmark::State& state, const char* compression) {
  const std::vector<Sample> samples = ksmShapedSamples(static_cast<int>(state.range(0)));
  RemoteWriteEncoder encoder({{"cluster", "prod-eks"}}, compression);
  std::size_t wire = 0, raw = 0;
  for (auto _ : state) {
    std::size_t dropped = 0;
    auto payload = encoder.encode(samples, &dropped);
    if (!payload) state.SkipWithError("encode failed");
    wire = payload->body.size();
    raw = payload->raw_bytes;
    benchmark::DoNotOptimize(payload->body.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * samples.size()));
  // bytes_per_second: uncompressed protobuf produced (and compressed, when
  // compressing).
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * raw));
  state.counters["samples"] = static_cast<double>(samples.size());
  state.counters["wire_B/sample"] = static_cast<double>(wire) / static_cast<double>(samples.size());
  state.counters["raw_B/sample"] = static_cast<double>(raw) / static_cast<double>(samples.size());
}
BENCHMARK_CAPTURE(BM_EncodeCompress, snappy, "snappy")
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeCompress, zstd, "zstd")
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeCompress, gzip, "gzip")
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeCompress, none, "")->Arg(10000)->Unit(benchmark::kMillisecond);

// The write-ahead mode's cost per sample before encoding: journaling the
// batch being filled (push/batch_journal.h), added as the pipeline hands
// samples over (chunks of 1000), then cut and deleted once per batch.
// Compare items_per_second with BM_EncodeCompress/snappy at the same size.
void BM_JournalBatch(benchmark::State& state) {
  const std::vector<Sample> samples = ksmShapedSamples(static_cast<int>(state.range(0)));
  char tmpl[] = "/tmp/km-journal-bench-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  prometheus::Registry registry;
  push::PushMetrics metrics(registry, "bench");
  auto journal = push::BatchJournal::open(dir, metrics);
  if (!journal) return state.SkipWithError("cannot open the journal");
  std::uintmax_t file_bytes = 0;
  for (auto _ : state) {
    const std::span<const Sample> all = samples;
    for (std::size_t at = 0; at < all.size(); at += 1000) {
      (*journal)->record(all.subspan(at, std::min<std::size_t>(1000, all.size() - at)));
    }
    const std::uint64_t seq = (*journal)->cut();
    state.PauseTiming();
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      file_bytes = entry.file_size();
    }
    state.ResumeTiming();
    (*journal)->release(seq);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * samples.size()));
  state.counters["journal_B/sample"] =
      static_cast<double>(file_bytes) / static_cast<double>(samples.size());
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_JournalBatch)->Arg(1000)->Unit(benchmark::kMillisecond);

// A minimal HTTP/1.1 sink on 127.0.0.1: reads each request (headers and
// Content-Length body) and answers 204, keep-alive. Counts requests.
class Sink {
 public:
  Sink() {
    fd_ = kubemetrics::testing::listenOnLoopback(&port_);
    acceptor_ = std::thread([this] {
      for (;;) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        std::thread([c] { serve(c); }).detach();
      }
    });
  }
  ~Sink() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
  }
  int port() const { return port_; }

 private:
  static void serve(int c) {
    std::string buf;
    char chunk[65536];
    for (;;) {
      std::size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = ::read(c, chunk, sizeof(chunk));
        if (n <= 0) return (void)::close(c);
        buf.append(chunk, static_cast<std::size_t>(n));
      }
      std::size_t length = 0;
      const std::size_t at = buf.find("Content-Length: ");
      if (at != std::string::npos && at < end) length = std::stoul(buf.substr(at + 16));
      while (buf.size() < end + 4 + length) {
        const ssize_t n = ::read(c, chunk, sizeof(chunk));
        if (n <= 0) return (void)::close(c);
        buf.append(chunk, static_cast<std::size_t>(n));
      }
      buf.erase(0, end + 4 + length);
      static const char kAnswer[] = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
      if (::write(c, kAnswer, sizeof(kAnswer) - 1) < 0) return (void)::close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
};

using kubemetrics::testing::BlackHole;

RemoteWriteConfig sinkConfig(int port, const std::string& spool) {
  RemoteWriteConfig c;
  c.url = "http://127.0.0.1:" + std::to_string(port) + "/api/v1/write";
  c.push.timeout = std::chrono::seconds(2);
  c.push.batch.max_samples = 10000;
  c.push.batch.max_wait = std::chrono::milliseconds(20);
  c.push.max_in_flight = 2;
  c.push.queue_capacity = 64;
  c.push.retry.initial_backoff = std::chrono::milliseconds(50);
  c.push.retry.max_backoff = std::chrono::milliseconds(200);
  c.push.retry.max_attempts = 2;
  c.push.spool.dir = spool;
  return c;
}

// Samples/s delivered end to end (pipeline -> exporter -> HTTP -> sink) by
// the exporter "remote_write"; with_stuck=1 adds a sibling exporter whose
// backend never answers.
void BM_PipelineDelivery(benchmark::State& state) {
  const bool with_stuck = state.range(0) != 0;
  char tmpl[] = "/tmp/km-rw-bench-XXXXXX";
  const std::string spool = ::mkdtemp(tmpl);
  Sink sink;
  BlackHole hole;
  const std::vector<Sample> samples = ksmShapedSamples(1000);  // 12000 per batch
  std::uint64_t delivered_total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    prometheus::Registry registry;
    std::vector<ExporterPtr> exporters;
    auto good = createRemoteWriteExporter("remote_write", sinkConfig(sink.port(), spool), registry);
    push::PushExporter* good_raw = good->get();
    exporters.push_back(std::move(*good));
    if (with_stuck) {
      auto stuck =
          createRemoteWriteExporter("remote_write_stuck", sinkConfig(hole.port(), spool), registry);
      exporters.push_back(std::move(*stuck));
    }
    AgentConfig config;
    // Move-assigned: g++ 12 -O3 gives a false -Wrestrict on assigning a
    // short literal here (GCC PR 105329).
    config.cluster = std::string("bench");
    config.node = std::string("n");
    auto pipeline = Pipeline::create(config, std::move(exporters), registry, nullptr);
    (*pipeline)->start();
    constexpr int kBatches = 50;
    state.ResumeTiming();
    for (int b = 0; b < kBatches; ++b) {
      auto batch = std::make_unique<SampleBatch>();
      batch->samples = samples;
      (*pipeline)->submit(std::move(batch));
    }
    const std::uint64_t want = kBatches * samples.size();
    while (good_raw->stats().sent_samples < want)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    state.PauseTiming();
    delivered_total += good_raw->stats().sent_samples;
    (*pipeline)->shutdown(deadlineIn(std::chrono::seconds(3)));
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(delivered_total));
  std::filesystem::remove_all(spool);
}
BENCHMARK(BM_PipelineDelivery)
    ->Arg(0)
    ->Arg(1)
    ->ArgNames({"with_stuck"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(5);

}  // namespace
}  // namespace kubemetrics::exporters::remote_write
