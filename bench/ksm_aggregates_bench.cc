// What the namespace and cluster aggregates cost the kube-state-metrics
// source per scrape (scrapers/kube_state_metrics/: PodInventory over the
// scrape's samples, computeAggregates, AggregateEmitter::emit), next to the
// steady-state parse of the same body (one TargetParser for every scrape,
// as PrometheusTarget keeps it), so the added share of a scrape is visible.
//
// BM_KsmParse / BM_KsmAggregates: the v2.19.0 capture (25 pods, ~2,600
// samples). BM_KsmAggregatesGenerated: a generated body shaped like
// kube-state-metrics for `pods` pods in 50 namespaces, each pod with two
// containers and the series the aggregates read plus 80 others (about 100
// samples per pod, as the source's max_samples comment assumes).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/scrape/target_parser.h"
#include "scrapers/kube_state_metrics/aggregates.h"
#include "scrapers/kube_state_metrics/pod_inventory.h"

namespace kubemetrics::scrapers::kube_state_metrics {
namespace {

std::string capture() {
  const char* env = std::getenv("KM_FIXTURES_DIR");
  std::ifstream in(std::string(env != nullptr ? env : KM_FIXTURES_DIR) +
                   "/ksm/ksm-v2.19.0_k8s-1.35_nri.prom");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string generated(int pods) {
  std::string out;
  for (int p = 0; p < pods; ++p) {
    const std::string ns = "ns-" + std::to_string(p % 50);
    const std::string pod = "pod-" + std::to_string(p);
    const std::string base =
        "namespace=\"" + ns + "\",pod=\"" + pod + "\",uid=\"u" + std::to_string(p) + "\"";
    for (const char* phase : {"Pending", "Running", "Succeeded", "Failed", "Unknown"}) {
      out += "kube_pod_status_phase{" + base + ",phase=\"" + phase + "\"} " +
             (std::string(phase) == "Running" ? "1" : "0") + "\n";
    }
    for (const char* c : {"main", "sidecar"}) {
      const std::string cl = base + ",container=\"" + c + "\"";
      out += "kube_pod_container_info{" + cl + ",image=\"img\"} 1\n";
      out += "kube_pod_container_status_terminated{" + cl + "} 0\n";
      out += "kube_pod_container_resource_requests{" + cl +
             ",node=\"n\",resource=\"cpu\",unit=\"core\"} 0.1\n";
      out += "kube_pod_container_resource_requests{" + cl +
             ",node=\"n\",resource=\"memory\",unit=\"byte\"} 1.048576e+08\n";
      out += "kube_pod_container_resource_limits{" + cl +
             ",node=\"n\",resource=\"memory\",unit=\"byte\"} 2.097152e+08\n";
    }
    for (int i = 0; i < 80; ++i) {
      out += "kube_pod_other_" + std::to_string(i) + "{" + base + "} 1\n";
    }
  }
  return out;
}

struct TargetParserHolder {
  scrape::TargetParser parser;
};

SampleBatch parsed(const std::string& body) {
  SampleBatch batch;
  (void)scrape::parseText(body, scrape::ExpositionFormat::kText, batch);
  return batch;
}

void aggregateOnce(const SampleBatch& batch, AggregateEmitter& emitter, SampleBatch& out) {
  PodInventory inventory;
  for (const Sample& s : batch.samples) inventory.add(s);
  out.samples.clear();
  out.metadata.clear();
  emitter.emit(computeAggregates(inventory), 1, out);
}

/// One scrape's parse as the target does it: the same TargetParser every
/// scrape (its series cache warm), the body in 64 KiB chunks.
std::size_t parseScrape(TargetParserHolder& holder, const std::string& body) {
  SampleBatch batch;
  holder.parser.begin(scrape::ExpositionFormat::kText, &batch, 1);
  for (std::size_t at = 0; at < body.size(); at += 64 << 10) {
    (void)holder.parser.feed(std::string_view(body).substr(at, 64 << 10));
  }
  (void)holder.parser.finish();
  benchmark::DoNotOptimize(batch);
  return batch.samples.size();
}

void BM_KsmParse(benchmark::State& state) {
  const std::string body = capture();
  TargetParserHolder holder;
  std::size_t samples = parseScrape(holder, body);  // warms the cache
  for (auto _ : state) samples = parseScrape(holder, body);
  state.counters["samples"] = static_cast<double>(samples);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * samples));
}
BENCHMARK(BM_KsmParse);

void BM_KsmAggregates(benchmark::State& state) {
  const SampleBatch batch = parsed(capture());
  AggregateEmitter emitter(nullptr);
  SampleBatch out;
  for (auto _ : state) aggregateOnce(batch, emitter, out);
  state.counters["samples"] = static_cast<double>(batch.samples.size());
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch.samples.size()));
}
BENCHMARK(BM_KsmAggregates);

void BM_KsmParseGenerated(benchmark::State& state) {
  const std::string body = generated(static_cast<int>(state.range(0)));
  TargetParserHolder holder;
  std::size_t samples = parseScrape(holder, body);
  for (auto _ : state) samples = parseScrape(holder, body);
  state.counters["samples"] = static_cast<double>(samples);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * samples));
}
BENCHMARK(BM_KsmParseGenerated)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_KsmAggregatesGenerated(benchmark::State& state) {
  const SampleBatch batch = parsed(generated(static_cast<int>(state.range(0))));
  AggregateEmitter emitter(nullptr);
  SampleBatch out;
  for (auto _ : state) aggregateOnce(batch, emitter, out);
  state.counters["samples"] = static_cast<double>(batch.samples.size());
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch.samples.size()));
}
BENCHMARK(BM_KsmAggregatesGenerated)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kubemetrics::scrapers::kube_state_metrics
