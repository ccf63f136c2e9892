// The pipeline's processing stage: tagging (cluster, node, static tags) and
// the whole submit -> ring -> processors -> exporter queue path.

#include <benchmark/benchmark.h>
#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <string>

#include "agent/pipeline/pipeline.h"
#include "agent/pipeline/tagger.h"

namespace kubemetrics {
namespace {

/// A batch shaped like one kube-state-metrics scrape: `series` pods, each
/// with namespace/pod/container labels.
SampleBatch podBatch(int series) {
  SampleBatch batch;
  batch.source = "bench";
  const Symbol name = Symbol::intern("kube_pod_container_resource_requests");
  for (int i = 0; i < series; ++i) {
    LabelsBuilder b;
    b.set("namespace", "ns-" + std::to_string(i % 20));
    b.set("pod", "pod-" + std::to_string(i));
    b.set("container", "app");
    b.set("resource", "cpu");
    b.set("unit", "core");
    batch.samples.push_back(Sample{name, b.build(), 0.25, 1700000000000});
  }
  return batch;
}

const std::vector<std::pair<std::string, std::string>> kTags = {
    {"cluster", "prod-eks"}, {"node", "ip-10-0-0-1.ec2.internal"}, {"env", "prod"}};

// Steady state: the same series every scrape, so the tag cache hits.
void BM_TaggerSteadyState(benchmark::State& state) {
  const SampleBatch source = podBatch(static_cast<int>(state.range(0)));
  const AgentTags tags(kTags);
  Tagger tagger(tags);
  for (auto _ : state) {
    SampleBatch batch = source;
    tagger.apply(batch);
    benchmark::DoNotOptimize(batch.samples.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_TaggerSteadyState)->Arg(1000)->Arg(10000);

// Worst case: every series new to the tagger (pod churn), so every sample
// builds and interns a new label set.
void BM_TaggerColdCache(benchmark::State& state) {
  const SampleBatch source = podBatch(static_cast<int>(state.range(0)));
  const AgentTags tags(kTags);
  for (auto _ : state) {
    Tagger tagger(tags);
    SampleBatch batch = source;
    tagger.apply(batch);
    benchmark::DoNotOptimize(batch.samples.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_TaggerColdCache)->Arg(1000);

class CountingExporter : public Exporter {
 public:
  std::string_view name() const override { return "count"; }
  Result<void> send(SharedBatch batch) override {
    samples.fetch_add(batch->samples.size(), std::memory_order_relaxed);
    return {};
  }
  void shutdown(Deadline) override {}
  std::atomic<std::size_t> samples{0};
};

// Whole path: a source thread submits batches of 1000 samples; one worker
// tags them and hands them to an exporter. Items are samples delivered.
void BM_PipelineEndToEnd(benchmark::State& state) {
  AgentConfig config;
  config.cluster = "prod-eks";
  config.node = "node-1";
  config.pipeline.ring_capacity = 1024;
  prometheus::Registry registry;
  auto exporter = std::make_unique<CountingExporter>();
  CountingExporter* counter = exporter.get();
  std::vector<ExporterPtr> exporters;
  exporters.push_back(std::move(exporter));
  auto pipeline = std::move(*Pipeline::create(config, std::move(exporters), registry));
  pipeline->start();
  const SampleBatch source = podBatch(1000);
  std::size_t submitted = 0;
  for (auto _ : state) {
    while (!pipeline->submit(std::make_unique<SampleBatch>(source))) {
    }
    submitted += source.samples.size();
  }
  pipeline->shutdown(deadlineIn(std::chrono::seconds(30)));
  // Batches the full ring refused were retried and are not in `submitted`;
  // every accepted one must arrive or be counted as dropped at the
  // exporter's queue (the flusher can be descheduled on a 2-core machine).
  double queue_dropped = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name != "kubemetrics_exporter_dropped_samples_total") continue;
    for (const auto& metric : family.metric) queue_dropped += metric.counter.value;
  }
  if (counter->samples.load() + static_cast<std::size_t>(queue_dropped) != submitted) {
    state.SkipWithError("accepted samples were neither delivered nor counted as dropped");
  }
  state.counters["queue_dropped"] = queue_dropped;
  state.SetItemsProcessed(static_cast<int64_t>(counter->samples.load()));
}
BENCHMARK(BM_PipelineEndToEnd)->UseRealTime();

}  // namespace
}  // namespace kubemetrics
