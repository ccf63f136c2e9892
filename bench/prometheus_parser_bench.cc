// Prometheus text parser throughput on the kube-state-metrics captures
// (../shared/fixtures/ksm/*.prom) and the 3 MB kube-apiserver capture, in
// MB/s and samples/s, plus heap allocations per scrape counted by a global
// operator new override. The target of DESIGN.md is 500 MB/s per core.
//
// Each "scrape" parses one capture fed in 64 KiB chunks (as the HTTP client
// hands them over) into a fresh SampleBatch, as PrometheusTarget does.
//
// BM_KsmShapedCache: a generated kube-state-metrics body of 100,020 pod
// series (3,334 pods x 30) through a labeler adding job and instance, as a
// target does. `bytes_per_series` is the heap growth (mallinfo2()
// `uordblks` + `hblkhd`, so malloc's chunk overhead counts) from before the
// parser exists to after two scrapes and a sweepInterned(), per cached
// series: the cache, the interned label sets and texts it alone holds, and
// the pools' table slots. Process-wide pools: run it in its own process
// (--benchmark_filter) for this figure.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/scrape/target_parser.h"
#include "kubemetrics/labels.h"

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

namespace kubemetrics::scrape {
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

std::size_t scrapeOnce(TargetParser& parser, const std::string& body) {
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
  std::vector<std::unique_ptr<TargetParser>> parsers;
  for (std::size_t i = 0; i < captures.size(); ++i) {
    ParserOptions options;
    options.metadata = metadata;
    parsers.push_back(std::make_unique<TargetParser>(options));
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
      TargetParser parser;
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

std::size_t heapBytes() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// Families in kube-state-metrics' order (one family at a time, pods in the
// same order in each), label names in its order.
std::string ksmShapedBody(int pods) {
  constexpr const char* kPhases[] = {"Pending", "Succeeded", "Failed", "Unknown", "Running"};
  constexpr const char* kReasons[] = {"ContainerCreating", "CrashLoopBackOff", "ErrImagePull",
                                      "ImagePullBackOff", "CreateContainerConfigError"};
  auto pod = [](int p, char* out, std::size_t size) {
    std::snprintf(
        out, size,
        R"(namespace="team-%d",pod="app-%d-7d9f8b6c5d-%05x",uid="%08x-5e1c-4b7a-9f3d-%012x")",
        p % 200, p % 500, p, static_cast<unsigned>(p * 2654435761u), p);
  };
  std::string body;
  char labels[256];
  char line[1024];
  auto family = [&](const char* name, const char* help) {
    body += "# HELP ";
    body += name;
    body += ' ';
    body += help;
    body += "\n# TYPE ";
    body += name;
    body += " gauge\n";
  };
  family("kube_pod_info", "Information about pod.");
  for (int p = 0; p < pods; ++p) {
    pod(p, labels, sizeof labels);
    std::snprintf(line, sizeof line,
                  "kube_pod_info{%s,host_ip=\"10.0.%d.%d\",pod_ip=\"10.1.%d.%d\","
                  "node=\"ip-10-0-%d-%d.eu-west-1.compute.internal\",created_by_kind="
                  "\"ReplicaSet\",created_by_name=\"app-%d-7d9f8b6c5d\",priority_class=\"\","
                  "host_network=\"false\"} 1\n",
                  labels, p / 30 / 256, p / 30 % 256, p / 256, p % 256, p / 30 / 256, p / 30 % 256,
                  p % 500);
    body += line;
  }
  family("kube_pod_status_phase", "The pods current phase.");
  for (int p = 0; p < pods; ++p) {
    pod(p, labels, sizeof labels);
    for (const char* phase : kPhases) {
      std::snprintf(line, sizeof line, "kube_pod_status_phase{%s,phase=\"%s\"} %d\n", labels, phase,
                    phase == kPhases[4] ? 1 : 0);
      body += line;
    }
  }
  family("kube_pod_container_info", "Information about a container in a pod.");
  for (int p = 0; p < pods; ++p) {
    pod(p, labels, sizeof labels);
    for (int c = 0; c < 3; ++c) {
      std::snprintf(line, sizeof line,
                    "kube_pod_container_info{%s,container=\"app-%d-c%d\",image_spec=\"registry."
                    "example.com/app-%d:1.%d\",image=\"registry.example.com/app-%d:1.%d\","
                    "image_id=\"registry.example.com/app-%d@sha256:%016x%016x\",container_id="
                    "\"containerd://%016x%08x\"} 1\n",
                    labels, p % 500, c, p % 500, c, p % 500, c, p % 500, p % 500 * 7919, c,
                    p * 3 + c, p);
      body += line;
    }
  }
  family("kube_pod_container_status_waiting_reason",
         "Describes the reason the container is currently in waiting state.");
  for (int p = 0; p < pods; ++p) {
    pod(p, labels, sizeof labels);
    for (int c = 0; c < 3; ++c) {
      for (const char* reason : kReasons) {
        std::snprintf(line, sizeof line,
                      "kube_pod_container_status_waiting_reason{%s,container=\"app-%d-c%d\","
                      "reason=\"%s\"} 0\n",
                      labels, p % 500, c, reason);
        body += line;
      }
    }
  }
  for (const auto& [name, help] :
       {std::pair{"kube_pod_container_status_restarts_total", "The number of container restarts."},
        std::pair{"kube_pod_container_status_ready", "Whether the container is ready."}}) {
    family(name, help);
    for (int p = 0; p < pods; ++p) {
      pod(p, labels, sizeof labels);
      for (int c = 0; c < 3; ++c) {
        std::snprintf(line, sizeof line, "%s{%s,container=\"app-%d-c%d\"} %d\n", name, labels,
                      p % 500, c, p % 7);
        body += line;
      }
    }
  }
  return body;
}

void BM_KsmShapedCache(benchmark::State& state) {
  static const std::string body = ksmShapedBody(3334);
  const Symbol job = Symbol::intern("job");
  const Symbol job_value = Symbol::intern("kube-state-metrics");
  const Symbol instance = Symbol::intern("instance");
  const Symbol instance_value = Symbol::intern("10.0.0.1:8080");
  sweepInterned();
  const std::size_t heap_before = heapBytes();
  auto parser =
      std::make_unique<TargetParser>(ParserOptions{}, [&](const Symbol&, LabelsBuilder& scraped) {
        scraped.set(job, job_value);
        scraped.set(instance, instance_value);
        return scraped.build();
      });
  scrapeOnce(*parser, body);
  scrapeOnce(*parser, body);
  sweepInterned();
  const std::size_t series = parser->cachedSeries();
  const double per_series =
      static_cast<double>(heapBytes() - heap_before) / static_cast<double>(series);

  std::size_t bytes = 0, samples = 0;
  for (auto _ : state) {
    samples += scrapeOnce(*parser, body);
    bytes += body.size();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.SetItemsProcessed(static_cast<std::int64_t>(samples));
  state.counters["series"] = static_cast<double>(series);
  state.counters["bytes_per_series"] = per_series;
  state.counters["body_bytes_per_series"] =
      static_cast<double>(body.size()) / static_cast<double>(series);
}

BENCHMARK(BM_KsmSteady)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KsmSteadyNoMetadata)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ApiserverSteady)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KsmColdCache)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KsmShapedCache)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kubemetrics::scrape
