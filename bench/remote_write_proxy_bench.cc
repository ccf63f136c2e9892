// The agent as a remote-write proxy, stage by stage, on the traffic of
// bench/e2e/rwgen.py (`--listeners`): 100,000 series sent round-robin in
// requests of 10,000 series, one sample each, labels __name__ (10 names),
// batch, instance, job, pod, series.
//
//   build/bench/remote_write_proxy_bench --benchmark_counters_tabular=true
//
// - BM_ProxyDecode: the listener's decoding, requests alternating between
//   two decoders (two io threads), with a cache per decoder (as before
//   SharedSeriesLabelCache) or one shared cache.
// - BM_ProxyJournal / BM_ProxyEncode: the exporter's batch of 10,000
//   samples (10,000 series) journaled (spool.mode: wal) in the pipeline's
//   chunks, and encoded + snappy-compressed, the batches rotating over the
//   100,000 series as they arrive.
//
// `s/sample` is CPU time per sample.
#include <benchmark/benchmark.h>
#include <snappy.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/push/batch_journal.h"
#include "exporters/remote_write/remote_write_encoder.h"
#include "scrapers/listeners/remote_write_decoder.h"

namespace kubemetrics {
namespace {

constexpr int kSeries = 100000;
constexpr int kBatch = 10000;
constexpr std::int64_t kTimestamp = 1'000'000'000'000;

void varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void lenField(std::string& out, int field, std::string_view bytes) {
  out.push_back(static_cast<char>(field << 3 | 2));
  varint(out, bytes.size());
  out.append(bytes);
}

// rwgen.py's labels of series i (sorted by name, __name__ first).
std::vector<std::pair<std::string, std::string>> seriesLabels(int i) {
  return {{"__name__", "bench_rw_metric_" + std::to_string(i % 10)},
          {"batch", std::to_string(i / kBatch)},
          {"instance",
           "10.1." + std::to_string(i / 250 % 250) + "." + std::to_string(i % 250) + ":9100"},
          {"job", "bench-rw"},
          {"pod", "app-" + std::to_string(i / 10)},
          {"series", std::to_string(i)}};
}

// Snappy bodies of the kSeries / kBatch requests.
const std::vector<std::string>& requestBodies() {
  static const std::vector<std::string> bodies = [] {
    std::vector<std::string> out;
    for (int s = 0; s < kSeries / kBatch; ++s) {
      std::string request;
      for (int n = 0; n < kBatch; ++n) {
        const int i = s * kBatch + n;
        std::string series;
        for (const auto& [name, value] : seriesLabels(i)) {
          std::string label;
          lenField(label, 1, name);
          lenField(label, 2, value);
          lenField(series, 1, label);
        }
        std::string sample;
        sample.push_back(0x09);
        const double value = i % 1000;
        sample.append(reinterpret_cast<const char*>(&value), 8);
        sample.push_back(0x10);
        varint(sample, kTimestamp);
        lenField(series, 2, sample);
        lenField(request, 1, series);
      }
      std::string body;
      snappy::Compress(request.data(), request.size(), &body);
      out.push_back(std::move(body));
    }
    return out;
  }();
  return bodies;
}

void report(benchmark::State& state, std::size_t samples_per_iteration) {
  const auto total =
      static_cast<double>(samples_per_iteration) * static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<std::int64_t>(total));
  state.counters["s/sample"] =
      benchmark::Counter(total, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// One iteration: every request once, alternating between two decoders, so
// that each sees every series within two iterations (as the listener's
// pooled decoders do).
void BM_ProxyDecode(benchmark::State& state) {
  using scrapers::listeners::RemoteWriteDecoder;
  using scrapers::listeners::SharedSeriesLabelCache;
  const bool shared = state.range(0) != 0;
  const auto& bodies = requestBodies();
  std::shared_ptr<SharedSeriesLabelCache> cache;
  if (shared) {
    cache = std::make_shared<SharedSeriesLabelCache>(131072,
                                                     131072 * RemoteWriteDecoder::kCachedKeyBytes);
  }
  RemoteWriteDecoder decoders[2] = {RemoteWriteDecoder({}, cache), RemoteWriteDecoder({}, cache)};
  std::vector<Sample> out;
  std::size_t request = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < bodies.size(); ++i, ++request) {
      out.clear();
      auto stats = decoders[(request + request / bodies.size()) % 2].decode(bodies[i], out);
      if (!stats) state.SkipWithError(stats.error().message().c_str());
      benchmark::DoNotOptimize(out.data());
    }
  }
  report(state, kSeries);
}
BENCHMARK(BM_ProxyDecode)->ArgName("shared")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The decoded samples of every request, with the pipeline's cluster label
// added, as the exporter receives them.
const std::vector<Sample>& exporterSamples() {
  static const std::vector<Sample> samples = [] {
    std::vector<Sample> out;
    LabelsBuilder b;
    for (int i = 0; i < kSeries; ++i) {
      b.clear();
      std::string name;
      for (const auto& [label, value] : seriesLabels(i)) {
        if (label == "__name__") {
          name = value;
        } else {
          b.set(label, value);
        }
      }
      b.set("cluster", "bench");
      out.push_back(
          Sample{Symbol::intern(name), b.build(), static_cast<double>(i % 1000), kTimestamp});
    }
    return out;
  }();
  return samples;
}

void BM_ProxyJournal(benchmark::State& state) {
  const std::span<const Sample> all = exporterSamples();
  char tmpl[] = "/tmp/km-proxy-bench-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  prometheus::Registry registry;
  push::PushMetrics metrics(registry, "bench");
  auto journal = push::BatchJournal::open(dir, metrics);
  if (!journal) return state.SkipWithError("cannot open the journal");
  for (auto _ : state) {
    for (std::size_t batch = 0; batch < all.size(); batch += kBatch) {
      // The pipeline hands the exporter chunks of its ring batches.
      for (std::size_t at = batch; at < batch + kBatch; at += 1000) {
        (*journal)->record(all.subspan(at, 1000));
      }
      (*journal)->release((*journal)->cut());
    }
  }
  report(state, all.size());
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_ProxyJournal)->Unit(benchmark::kMillisecond);

void BM_ProxyEncode(benchmark::State& state) {
  const std::span<const Sample> all = exporterSamples();
  exporters::remote_write::RemoteWriteEncoder encoder;
  for (auto _ : state) {
    for (std::size_t batch = 0; batch < all.size(); batch += kBatch) {
      std::size_t dropped = 0;
      auto payload = encoder.encode(all.subspan(batch, kBatch), &dropped);
      if (!payload) state.SkipWithError("encode failed");
      benchmark::DoNotOptimize(payload->body.data());
    }
  }
  report(state, all.size());
}
BENCHMARK(BM_ProxyEncode)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kubemetrics
