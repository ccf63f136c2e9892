// Prometheus text parser throughput on the kube-state-metrics captures
// (../shared/fixtures/ksm/*.prom) and the 3 MB kube-apiserver capture, in
// MB/s and samples/s, plus heap allocations per scrape counted by a global
// operator new override. The target of DESIGN.md is 500 MB/s per core.
//
// Each "scrape" parses one capture fed in 64 KiB chunks (as the HTTP client
// hands them over) into a fresh SampleBatch, as PrometheusTarget does.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "scrapers/prometheus/parser.h"

// g++ 12 sees free() of memory from the replaced operator new below as a
// mismatch once both are inlined; they are a matching pair by construction.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

std::atomic<std::uint64_t> g_allocations{0};

}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace kubemetrics::prometheus_scrape {
namespace {

namespace fs = std::filesystem;

// bench/CMakeLists.txt does not define KM_FIXTURES_DIR: $KM_FIXTURES_DIR, or
// ../shared/fixtures next to the source tree (found from this file's path).
fs::path fixturesDir() {
  if (const char* env = std::getenv("KM_FIXTURES_DIR")) return env;
#ifdef KM_FIXTURES_DIR
  return KM_FIXTURES_DIR;
#else
  return fs::path(__FILE__).parent_path().parent_path().parent_path() / "shared" / "fixtures";
#endif
}

std::vector<std::string> loadCaptures(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(fixturesDir() / dir)) {
    if (entry.path().extension() != ".prom") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    out.push_back(ss.str());
  }
  return out;
}

const std::vector<std::string>& ksm() {
  static const auto captures = loadCaptures("ksm");
  return captures;
}

const std::vector<std::string>& apiserver() {
  static const auto captures = loadCaptures("exposition/k8s-controlplane");
  return captures;
}

std::size_t scrapeOnce(TextParser& parser, const std::string& body) {
  SampleBatch batch;
  parser.begin(ExpositionFormat::kText, &batch, 0);
  constexpr std::size_t kChunk = 64 * 1024;
  for (std::size_t i = 0; i < body.size(); i += kChunk) {
    if (!parser.feed(std::string_view(body).substr(i, kChunk))) std::abort();
  }
  if (!parser.finish(ExpositionFormat::kText)) std::abort();
  return batch.samples.size();
}

// Steady state: one long-lived parser per capture (as one per target), cache warm.
void runSteady(benchmark::State& state, const std::vector<std::string>& captures, bool metadata) {
  std::vector<std::unique_ptr<TextParser>> parsers;
  for (std::size_t i = 0; i < captures.size(); ++i) {
    ParserOptions options;
    options.metadata = metadata;
    parsers.push_back(std::make_unique<TextParser>(options));
    scrapeOnce(*parsers.back(), captures[i]);  // warm
    scrapeOnce(*parsers.back(), captures[i]);
  }
  std::size_t bytes = 0, samples = 0, scrapes = 0;
  const std::uint64_t allocs_before = g_allocations.load();
  for (auto _ : state) {
    for (std::size_t i = 0; i < captures.size(); ++i) {
      samples += scrapeOnce(*parsers[i], captures[i]);
      bytes += captures[i].size();
      ++scrapes;
    }
  }
  const std::uint64_t allocs = g_allocations.load() - allocs_before;
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.SetItemsProcessed(static_cast<std::int64_t>(samples));
  state.counters["allocs_per_scrape"] = static_cast<double>(allocs) / static_cast<double>(scrapes);
  state.counters["samples_per_scrape"] =
      static_cast<double>(samples) / static_cast<double>(scrapes);
}

void BM_KsmSteady(benchmark::State& state) { runSteady(state, ksm(), true); }
void BM_KsmSteadyNoMetadata(benchmark::State& state) { runSteady(state, ksm(), false); }
void BM_ApiserverSteady(benchmark::State& state) { runSteady(state, apiserver(), true); }

// First scrape of a target: every series is new (interning, labeler).
void BM_KsmColdCache(benchmark::State& state) {
  std::size_t bytes = 0, samples = 0, scrapes = 0;
  const std::uint64_t allocs_before = g_allocations.load();
  for (auto _ : state) {
    for (const std::string& capture : ksm()) {
      TextParser parser;
      samples += scrapeOnce(parser, capture);
      bytes += capture.size();
      ++scrapes;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.SetItemsProcessed(static_cast<std::int64_t>(samples));
  state.counters["allocs_per_scrape"] =
      static_cast<double>(g_allocations.load() - allocs_before) / static_cast<double>(scrapes);
}

BENCHMARK(BM_KsmSteady)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KsmSteadyNoMetadata)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ApiserverSteady)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KsmColdCache)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kubemetrics::prometheus_scrape
