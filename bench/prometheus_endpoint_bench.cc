// The /metrics page of the cluster role (issue 18): rendering 1M series
// should cost at most 1 CPU-second and at most 2x the page size in
// transient memory. Heap use is tracked by replacing the global operator
// new/delete, so "transient" is the peak of live heap bytes during one
// render above what was live before it, the page itself included.
#include <benchmark/benchmark.h>
#include <prometheus/registry.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "exporters/prometheus/page_cache.h"
#include "exporters/prometheus/prometheus_exporter.h"

namespace {

std::atomic<std::int64_t> g_live{0};
std::atomic<std::int64_t> g_peak{0};

void noteAlloc(std::size_t n) {
  const std::int64_t live =
      g_live.fetch_add(static_cast<std::int64_t>(n)) + static_cast<std::int64_t>(n);
  std::int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
  }
}

}  // namespace

// Size-prefixed so delete knows what it frees. GCC sees malloc/free under
// operator new/delete inlined into a caller and warns of a mismatch that
// is exactly what a replacement does.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  auto* p = static_cast<std::size_t*>(std::malloc(n + sizeof(std::max_align_t)));
  if (p == nullptr) throw std::bad_alloc();
  *p = n;
  noteAlloc(n);
  return reinterpret_cast<char*>(p) + sizeof(std::max_align_t);
}
void operator delete(void* q) noexcept {
  if (q == nullptr) return;
  auto* p = reinterpret_cast<std::size_t*>(static_cast<char*>(q) - sizeof(std::max_align_t));
  g_live.fetch_sub(static_cast<std::int64_t>(*p));
  std::free(p);
}
void operator delete(void* q, std::size_t) noexcept { operator delete(q); }
#pragma GCC diagnostic pop

namespace kubemetrics::exporters::prometheus {
namespace {

// 1M series as a cluster role holds them: 1,000 metric names of
// kube-state-metrics shape, 1,000 pods each, four labels.
struct Cluster {
  ::prometheus::Registry registry;
  std::unique_ptr<PrometheusExporter> exporter;

  explicit Cluster(int names, int pods) {
    PrometheusEndpointConfig config;
    config.expire_after = std::chrono::hours(1);
    exporter = std::move(*PrometheusExporter::create(config, registry));
    for (int n = 0; n < names; ++n) {
      auto batch = std::make_shared<SampleBatch>();
      batch->source = "kube_state_metrics";
      const Symbol name = Symbol::intern("kube_pod_metric_" + std::to_string(n));
      batch->metadata.push_back(
          MetricMetadata{name, MetricType::kGauge, "A per-pod gauge of the benchmark.", ""});
      LabelsBuilder builder;
      for (int p = 0; p < pods; ++p) {
        builder.clear();
        builder.set("namespace", "namespace-" + std::to_string(p % 50));
        builder.set("pod", "workload-" + std::to_string(p) + "-7d9f8b6c5d-x2k4q");
        builder.set("uid", "3f1c2a4e-" + std::to_string(100000 + p) + "-4c1b-9d2e-5a6b7c8d9e0f");
        builder.set("node", "ip-10-0-" + std::to_string(p % 200) + "-17.ec2.internal");
        batch->samples.push_back(Sample{name, builder.build(), p * 1.5, 1000});
      }
      (void)exporter->send(std::move(batch));
    }
  }
};

Cluster& cluster() {
  static Cluster c(1000, 1000);
  return c;
}

void BM_Render1MSeries(benchmark::State& state) {
  Cluster& c = cluster();
  std::size_t page_bytes = 0;
  std::int64_t transient = 0;
  for (auto _ : state) {
    const std::int64_t before = g_live.load();
    g_peak.store(before);
    std::string page = c.exporter->render();
    transient = std::max(transient, g_peak.load() - before);
    page_bytes = page.size();
    benchmark::DoNotOptimize(page.data());
  }
  state.counters["series"] = static_cast<double>(c.exporter->seriesCount());
  state.counters["page_MB"] = static_cast<double>(page_bytes) / 1e6;
  state.counters["transient_MB"] = static_cast<double>(transient) / 1e6;
  state.counters["transient_per_page"] =
      page_bytes == 0 ? 0 : static_cast<double>(transient) / static_cast<double>(page_bytes);
}
BENCHMARK(BM_Render1MSeries)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_Gzip1MSeriesPage(benchmark::State& state) {
  const std::string page = cluster().exporter->render();
  std::size_t gzip_bytes = 0;
  for (auto _ : state) {
    std::string gz = PageCache::gzip(page);
    gzip_bytes = gz.size();
    benchmark::DoNotOptimize(gz.data());
  }
  state.counters["page_MB"] = static_cast<double>(page.size()) / 1e6;
  state.counters["gzip_MB"] = static_cast<double>(gzip_bytes) / 1e6;
  state.SetBytesProcessed(static_cast<std::int64_t>(page.size()) *
                          static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_Gzip1MSeriesPage)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace kubemetrics::exporters::prometheus
