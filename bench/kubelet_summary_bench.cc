// kubelet Summary API: parse (simdjson on-demand) + emit (samples with
// Wavefront-collector names and tags, rates) per scrape, in samples/s and
// bytes/s, for the largest capture (../shared/fixtures/kubelet, k8s 1.35
// with PSI: 17 pods) and a generated 250-pod node summary. Consecutive
// iterations alternate two documents 30 s apart, so the rate path runs as
// in steady state.
//
//   KM_FIXTURES_DIR=../shared/fixtures build-release/bench/kubelet_summary_bench

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

#include "scrapers/kubelet/emitter.h"
#include "scrapers/kubelet/parser.h"

namespace kubemetrics::scrapers::kubelet {
namespace {

#ifndef KM_BENCH_FIXTURES_DIR
#define KM_BENCH_FIXTURES_DIR "../shared/fixtures"
#endif

std::string loadFixture(const std::string& name) {
  const char* dir = std::getenv("KM_FIXTURES_DIR");
  std::ifstream in(std::string(dir != nullptr ? dir : KM_BENCH_FIXTURES_DIR) + "/kubelet/" + name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string rfc3339(std::int64_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// A node with `pods` pods of two containers each, shaped like a containerd
// node's summary (cpu, memory, network with two interfaces, two volumes,
// ephemeral storage, rootfs and logs).
std::string generatedSummary(int pods, std::int64_t t, std::int64_t step) {
  const std::string time = "\"time\": \"" + rfc3339(t) + "\"";
  auto cpu = [&](std::int64_t base) {
    return "\"cpu\": {" + time + ", \"usageNanoCores\": 12345678, \"usageCoreNanoSeconds\": " +
           std::to_string(base + step * 1000000) + "}";
  };
  auto memory = [&] {
    return "\"memory\": {" + time +
           ", \"usageBytes\": 56725504, \"workingSetBytes\": 52232192, \"rssBytes\": 44040192, "
           "\"pageFaults\": " +
           std::to_string(100000 + step) + ", \"majorPageFaults\": 3}";
  };
  auto fs = [&](const std::string& key, const std::string& extra) {
    return "\"" + key + "\": {" + time + extra +
           ", \"availableBytes\": 821203210240, \"capacityBytes\": 977896124416, "
           "\"usedBytes\": 86016, \"inodesFree\": 59206606, \"inodes\": 60710912, "
           "\"inodesUsed\": 23}";
  };
  auto iface = [&](const std::string& name) {
    return "{\"name\": \"" + name + "\", \"rxBytes\": " + std::to_string(772919385 + step * 1000) +
           ", \"rxErrors\": 0, \"txBytes\": " + std::to_string(13842013 + step * 500) +
           ", \"txErrors\": 0}";
  };
  std::string json = "{\"node\": {\"nodeName\": \"bench-node\", \"startTime\": \"" +
                     rfc3339(t - 86400) + "\", " + cpu(62148052000) + ", " + memory() +
                     ", \"network\": {" + time + ", " + iface("eth0").substr(1) + ", " +
                     fs("fs", "") + "}, \"pods\": [";
  for (int p = 0; p < pods; ++p) {
    const std::string n = std::to_string(p);
    if (p > 0) json += ", ";
    json += "{\"podRef\": {\"name\": \"app-" + n + "-7ff49795bd-fgb8s\", \"namespace\": \"ns-" +
            std::to_string(p % 10) + "\", \"uid\": \"uid-" + n + "\"}, \"startTime\": \"" +
            rfc3339(t - 3600) + "\", \"containers\": [";
    for (int c = 0; c < 2; ++c) {
      if (c > 0) json += ", ";
      json += "{\"name\": \"container-" + std::to_string(c) + "\", \"startTime\": \"" +
              rfc3339(t - 3600) + "\", " + cpu(1877547000) + ", " + memory() + ", " +
              fs("rootfs", "") + ", " + fs("logs", "") + "}";
    }
    json += "], " + cpu(1944284000) + ", " + memory() + ", \"network\": {" + time +
            ", \"name\": \"eth0\", \"rxBytes\": 1, \"rxErrors\": 0, \"txBytes\": 1, "
            "\"txErrors\": 0, \"interfaces\": [" +
            iface("eth0") + ", " + iface("tunl0") + "]}, \"volume\": [" +
            fs("x", ", \"name\": \"kube-api-access-" + n + "\"").substr(5) + ", " +
            fs("x", ", \"name\": \"data\"").substr(5) + "], " + fs("ephemeral-storage", "") + "}";
  }
  return json + "]}";
}

std::string shiftTimes(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
    text.replace(at, from.size(), to);
    at += to.size();
  }
  return text;
}

void runParseEmit(benchmark::State& state, const std::string& a, const std::string& b) {
  SummaryParser parser;
  SummaryEmitter emitter(EmitOptions{false, "bench"});
  Summary summary;
  SampleBatch batch;
  std::size_t samples = 0;
  std::size_t bytes = 0;
  bool flip = false;
  for (auto _ : state) {
    const std::string& text = flip ? b : a;
    flip = !flip;
    batch.samples.clear();
    batch.metadata.clear();
    if (!parser.parse(text, summary)) {
      state.SkipWithError("parse failed");
      break;
    }
    samples += emitter.emit(summary, 1'800'000'000'000, batch).samples;
    bytes += text.size();
    benchmark::DoNotOptimize(batch.samples.data());
  }
  state.counters["samples/s"] =
      benchmark::Counter(static_cast<double>(samples), benchmark::Counter::kIsRate);
  state.counters["samples/scrape"] = static_cast<double>(batch.samples.size());
  state.counters["json_bytes"] = static_cast<double>(a.size());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

void BM_LargestFixtureParseEmit(benchmark::State& state) {
  const std::string a = loadFixture("summary_k8s-1.35_containerd_psi_nri.json");
  if (a.empty()) {
    state.SkipWithError("fixture not found: set KM_FIXTURES_DIR");
    return;
  }
  // Same document 60 s later: every block time moves, so rates are computed.
  const std::string b = shiftTimes(a, "2026-06-26T10:14:", "2026-06-26T10:15:");
  runParseEmit(state, a, b);
}
BENCHMARK(BM_LargestFixtureParseEmit);

void BM_LargestFixtureParseOnly(benchmark::State& state) {
  const std::string text = loadFixture("summary_k8s-1.35_containerd_psi_nri.json");
  SummaryParser parser;
  Summary summary;
  for (auto _ : state) {
    if (!parser.parse(text, summary)) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(summary.pods.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_LargestFixtureParseOnly);

void BM_Generated250PodsParseEmit(benchmark::State& state) {
  const std::int64_t t = 1'800'000'000;
  runParseEmit(state, generatedSummary(250, t, 0), generatedSummary(250, t + 30, 1));
}
BENCHMARK(BM_Generated250PodsParseEmit);

}  // namespace
}  // namespace kubemetrics::scrapers::kubelet
