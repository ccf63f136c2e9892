// Wavefront line parser (scrapers/listeners) throughput: lines/s and MB/s
// for the line shapes applications send to port 2878, plus heap
// allocations per line counted by a global operator new override (the
// target: none once the texts of the series are interned).
//
//  - BM_SdkLines: what wavefront-sdk-java writes (everything double-quoted,
//    value as a double, seconds timestamp, 5 point tags), 1,000 series.
//  - BM_BareLines: a hand-written client (bare tokens, millisecond
//    timestamp, 3 tags), 1,000 series.
//  - BM_EscapedLines: quoted values with \" escapes and spaces.
//  - BM_FixtureCorpus: every line of ../shared/fixtures/wavefront/
//    wavefront_line_cases.jsonl (valid, invalid, histograms), as a mix.
//
// Each line is parsed into one Sample that is then dropped, as the listener
// hands it to a batch; the series' texts stay interned (no sweep runs).
//
//   ./build-bench/bench/wavefront_line_parser_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <new>
#include <string>
#include <vector>

#include "kubemetrics/sample.h"
#include "scrapers/listeners/wavefront_line_parser.h"

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

namespace kubemetrics::scrapers::listeners {
namespace {

constexpr int kSeries = 1000;
constexpr std::int64_t kNow = 1'700'000'000'000;

std::vector<std::string> sdkLines() {
  std::vector<std::string> lines;
  for (int i = 0; i < kSeries; ++i) {
    lines.push_back("\"shop.cart.requests.count\" " + std::to_string(1000.5 + i) +
                    " 1700000000 source=\"cart-" + std::to_string(i % 50) +
                    "\" \"application\"=\"shop\" \"service\"=\"cart\" \"cluster\"=\"prod-eu\" "
                    "\"shard\"=\"primary\" \"endpoint\"=\"/api/v1/items/" +
                    std::to_string(i / 50) + "\"");
  }
  return lines;
}

std::vector<std::string> bareLines() {
  std::vector<std::string> lines;
  for (int i = 0; i < kSeries; ++i) {
    lines.push_back("jvm.memory.heap.used " + std::to_string(123456789 + i) +
                    " 1700000000123 source=node-" + std::to_string(i % 20) + " env=prod pod=web-" +
                    std::to_string(i) + " area=heap");
  }
  return lines;
}

std::vector<std::string> escapedLines() {
  std::vector<std::string> lines;
  for (int i = 0; i < kSeries; ++i) {
    lines.push_back("http.server.duration " + std::to_string(i) +
                    ".25 source=web-1 query=\"select \\\"" + std::to_string(i % 100) +
                    "\\\" from t\" user_agent=\"Mozilla/5.0 (X11; Linux x86_64)\"");
  }
  return lines;
}

std::vector<std::string> fixtureLines() {
  const char* dir = std::getenv("KM_FIXTURES_DIR");
  std::ifstream in(std::string(dir != nullptr ? dir : KM_FIXTURES_DIR) +
                   "/wavefront/wavefront_line_examples.txt");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != '#') lines.push_back(line);  // the cases, not the comments
  }
  return lines;
}

void run(benchmark::State& state, const std::vector<std::string>& lines) {
  if (lines.empty()) {
    state.SkipWithError("no input lines");
    return;
  }
  WavefrontLineParser parser;
  std::size_t bytes = 0;
  for (const std::string& l : lines) bytes += l.size() + 1;
  // Warm-up: interns the series and grows the scratch buffers.
  std::vector<Sample> keep(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    parser.parse(lines[i], kNow, "default", keep[i], nullptr);
  }
  std::uint64_t points = 0;
  const std::uint64_t allocations_before = g_allocations.load();
  for (auto _ : state) {
    for (const std::string& line : lines) {
      Sample sample;
      LineRejection why{};
      points += parser.parse(line, kNow, "default", sample, &why) == LineResult::kPoint;
      benchmark::DoNotOptimize(sample);
    }
  }
  const double iterations = static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(lines.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
  state.counters["allocs_per_line"] =
      static_cast<double>(g_allocations.load() - allocations_before) /
      (iterations * static_cast<double>(lines.size()));
  state.counters["points_per_line"] =
      static_cast<double>(points) / (iterations * static_cast<double>(lines.size()));
}

void BM_SdkLines(benchmark::State& state) {
  static const std::vector<std::string> lines = sdkLines();
  run(state, lines);
}
void BM_BareLines(benchmark::State& state) {
  static const std::vector<std::string> lines = bareLines();
  run(state, lines);
}
void BM_EscapedLines(benchmark::State& state) {
  static const std::vector<std::string> lines = escapedLines();
  run(state, lines);
}
void BM_FixtureCorpus(benchmark::State& state) {
  static const std::vector<std::string> lines = fixtureLines();
  run(state, lines);
}

BENCHMARK(BM_SdkLines);
BENCHMARK(BM_BareLines);
BENCHMARK(BM_EscapedLines);
BENCHMARK(BM_FixtureCorpus);

}  // namespace
}  // namespace kubemetrics::scrapers::listeners
