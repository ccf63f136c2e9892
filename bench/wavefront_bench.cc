// Wavefront exporter: encode (lines) + compress throughput, samples/s, and
// wire bytes per sample, for zstd, gzip and none, on kube-state-metrics
// data: the series of a real KSM v2.19 capture (../shared/fixtures/ksm),
// tagged as the pipeline tags them: one scrape per batch, and batches of
// 10000 (the default batch.max_samples).
//
//   ./build-release/bench/wavefront_bench --benchmark_counters_tabular=true

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "exporters/wavefront/wavefront_encoder.h"
#include "kubemetrics/labels.h"

namespace kubemetrics::exporters::wavefront {
namespace {

#ifndef KM_BENCH_FIXTURES_DIR
#define KM_BENCH_FIXTURES_DIR "../shared/fixtures"
#endif

// A small Prometheus text reader, enough for KSM output: name{k="v",...} value.
std::vector<Sample> loadKsm() {
  const char* dir = std::getenv("KM_FIXTURES_DIR");
  const std::string path = std::string(dir != nullptr ? dir : KM_BENCH_FIXTURES_DIR) +
                           "/ksm/ksm-v2.19.0_k8s-1.35_nri.prom";
  std::ifstream in(path);
  std::vector<Sample> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    LabelsBuilder b;
    std::size_t i = line.find_first_of("{ ");
    const std::string name = line.substr(0, i);
    if (i != std::string::npos && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const std::size_t eq = line.find('=', i);
        const std::string key = line.substr(i, eq - i);
        std::string value;
        std::size_t j = eq + 2;  // past ="
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value.push_back(line[j] == 'n' ? '\n' : line[j]);
          } else {
            value.push_back(line[j]);
          }
        }
        b.set(key, value);
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;
    }
    // The pipeline's tags.
    b.set("cluster", "prod-eks");
    b.set("node", "ip-10-0-12-34.eu-west-1.compute.internal");
    b.set("region", "eu-west-1");
    b.set("instance_type", "m6i.xlarge");
    Sample s;
    s.name = Symbol::intern(name);
    s.labels = b.build();
    s.value = std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
    s.timestamp_ms = 1764133200000;
    out.push_back(std::move(s));
  }
  return out;
}

// One KSM scrape (1698 series), or 10000 samples made of copies of it in
// which each copy gets its own pods, namespaces, uids and nodes (suffix
// "-<copy>") and values, as a larger cluster would: plain repeats would let
// the compressors find whole-scrape matches and flatter them.
std::vector<Sample> makeBatch(std::size_t size) {
  const std::vector<Sample> base = loadKsm();
  std::vector<Sample> out;
  for (std::size_t copy = 0; !base.empty() && out.size() < size; ++copy) {
    for (const Sample& s : base) {
      if (out.size() == size) break;
      if (copy == 0) {
        out.push_back(s);
        continue;
      }
      LabelsBuilder b(s.labels);
      for (const char* key : {"pod", "namespace", "uid", "node", "created_by_name"}) {
        const std::string_view v = s.labels.get(key);
        if (!v.empty()) b.set(key, std::string(v) + "-" + std::to_string(copy));
      }
      Sample t = s;
      t.labels = b.build();
      t.value = s.value + static_cast<double>(copy);
      out.push_back(std::move(t));
    }
    if (size == 0) break;
  }
  return out;
}

const std::vector<Sample>& batch(std::size_t size) {
  static const std::vector<Sample> scrape = makeBatch(1698);
  static const std::vector<Sample> large = makeBatch(10000);
  return size == 1698 ? scrape : large;
}

void BM_WavefrontEncode(benchmark::State& state) {
  const auto compression = static_cast<Compression>(state.range(0));
  const std::vector<Sample>& samples = batch(static_cast<std::size_t>(state.range(1)));
  if (samples.empty()) {
    state.SkipWithError("KSM fixture not found (set KM_FIXTURES_DIR)");
    return;
  }
  WavefrontEncoder encoder(LineFormatOptions{"", "agent"}, compression, 0, nullptr);
  std::size_t wire = 0;
  std::size_t raw = 0;
  std::size_t sent = 0;
  for (auto _ : state) {
    std::size_t dropped = 0;
    auto payload = encoder.encode(samples, &dropped);
    if (!payload) {
      state.SkipWithError("encode failed");
      return;
    }
    wire += payload->body.size();
    raw += payload->raw_bytes;
    sent += payload->samples;
    benchmark::DoNotOptimize(payload->body.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * samples.size()));
  state.counters["wire_B_per_sample"] = static_cast<double>(wire) / static_cast<double>(sent);
  state.counters["raw_B_per_sample"] = static_cast<double>(raw) / static_cast<double>(sent);
  state.SetLabel(
      std::string(compression == Compression::kNone ? "none" : contentEncodingOf(compression)));
}
BENCHMARK(BM_WavefrontEncode)
    ->ArgsProduct({{static_cast<int>(Compression::kNone), static_cast<int>(Compression::kZstd),
                    static_cast<int>(Compression::kGzip)},
                   {1698, 10000}})
    ->ArgNames({"compression", "batch"})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kubemetrics::exporters::wavefront
