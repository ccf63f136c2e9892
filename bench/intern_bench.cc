// Interned label sets and symbols: heap bytes per entry and intern speed.
//
//   BM_LabelSetMemory          1,000,000 distinct sets of 10 labels shaped like
//                              kube-state-metrics series (below). Texts are
//                              interned and held first, so `bytes_per_set` is
//                              the set alone: its node and its share of the
//                              pool's table.
//   BM_LabelSetMemoryWithTexts the same, built from strings: `bytes_per_set`
//                              also counts the texts first seen (pod, uid).
//   BM_SymbolMemory            1,000,000 distinct texts of `len` bytes:
//                              `bytes_per_symbol`.
//   BM_InternHit               build() of a set already pooled (100,000 sets,
//                              cycled), from Symbols: sort, hash, lookup.
//   BM_InternHitFromText       the same from strings (each text interned too),
//                              as a scraper builds labels.
//   BM_InternNew               build() of sets never seen before (a new pod
//                              every 30 sets, like pod churn).
//   BM_ReadLabels              every name and value text of a pooled set (100,000
//                              sets, cycled), as an exporter reads them.
//   BM_SweepLive               sweepInterned() over 1,000,000 live sets that
//                              it must keep (the periodic cost).
//
// Bytes are the growth of glibc's allocated heap, mallinfo2() `uordblks` plus
// `hblkhd` (large blocks are mmapped and counted only there), so they include
// malloc's per-chunk overhead. The pools are process-wide and keep their
// tables between benchmarks: for memory figures run one memory benchmark per
// process (--benchmark_filter).
//
// The shape: 33,334 pods of 30 series each. A pod's series share namespace,
// pod, uid and node; they differ in container (3 per pod) and reason (10).
// cluster, job, instance and created_by_kind are the same everywhere, node is
// shared by 30 pods and namespace by every 200th pod.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "kubemetrics/labels.h"
#include "kubemetrics/symbol.h"

namespace kubemetrics {
namespace {

constexpr int kSetsPerPod = 30;
constexpr int kContainersPerPod = 3;
constexpr int kPodsPerNode = 30;
constexpr int kNamespaces = 200;
constexpr int kDeployments = 500;
constexpr std::array<std::string_view, 10> kReasons = {"ContainerCreating", "CrashLoopBackOff",
                                                       "ErrImagePull",      "ImagePullBackOff",
                                                       "InvalidImageName",  "CreateContainerError",
                                                       "RunContainerError", "OOMKilled",
                                                       "Completed",         "Error"};

std::size_t heapBytes() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// The texts of one pod, as a scraper would see them.
struct PodTexts {
  std::string ns, pod, uid, node;
  std::array<std::string, kContainersPerPod> containers;
};

PodTexts podTexts(std::uint64_t p) {
  PodTexts t;
  char buf[96];
  t.ns = "team-" + std::to_string(p % kNamespaces);
  const std::uint64_t deployment = p % kDeployments;
  std::snprintf(buf, sizeof buf, "app-%llu-7d9f8b6c5d-%05llx",
                static_cast<unsigned long long>(deployment),
                static_cast<unsigned long long>(p & 0xfffff));
  t.pod = buf;
  std::snprintf(buf, sizeof buf, "%08llx-5e1c-4b7a-9f3d-%012llx",
                static_cast<unsigned long long>(p * 2654435761u & 0xffffffff),
                static_cast<unsigned long long>(p));
  t.uid = buf;
  const std::uint64_t node = p / kPodsPerNode;
  std::snprintf(buf, sizeof buf, "ip-10-0-%llu-%llu.eu-west-1.compute.internal",
                static_cast<unsigned long long>(node / 256),
                static_cast<unsigned long long>(node % 256));
  t.node = buf;
  for (int c = 0; c < kContainersPerPod; ++c) {
    t.containers[c] = "app-" + std::to_string(deployment) + "-c" + std::to_string(c);
  }
  return t;
}

// The same as Symbols.
struct PodSymbols {
  Symbol ns, pod, uid, node;
  std::array<Symbol, kContainersPerPod> containers;
};

PodSymbols podSymbols(const PodTexts& t) {
  PodSymbols s{Symbol::intern(t.ns),
               Symbol::intern(t.pod),
               Symbol::intern(t.uid),
               Symbol::intern(t.node),
               {}};
  for (int c = 0; c < kContainersPerPod; ++c) s.containers[c] = Symbol::intern(t.containers[c]);
  return s;
}

// Label names and the values every set shares.
struct Common {
  Symbol cluster = Symbol::intern("cluster");
  Symbol container = Symbol::intern("container");
  Symbol created_by_kind = Symbol::intern("created_by_kind");
  Symbol instance = Symbol::intern("instance");
  Symbol job = Symbol::intern("job");
  Symbol ns = Symbol::intern("namespace");
  Symbol node = Symbol::intern("node");
  Symbol pod = Symbol::intern("pod");
  Symbol reason = Symbol::intern("reason");
  Symbol uid = Symbol::intern("uid");
  Symbol cluster_value = Symbol::intern("prod-eu-west-1");
  Symbol replica_set = Symbol::intern("ReplicaSet");
  Symbol instance_value = Symbol::intern("10.0.12.34:8080");
  Symbol job_value = Symbol::intern("kube-state-metrics");
  std::array<Symbol, kReasons.size()> reasons;
  Common() {
    for (std::size_t r = 0; r < kReasons.size(); ++r) reasons[r] = Symbol::intern(kReasons[r]);
  }
};

// Series `j` (0..29) of a pod, added in the order a scraper meets them.
void fillFromSymbols(LabelsBuilder& b, const Common& c, const PodSymbols& pod, int j) {
  b.clear();
  b.set(c.ns, pod.ns)
      .set(c.pod, pod.pod)
      .set(c.uid, pod.uid)
      .set(c.container, pod.containers[j % kContainersPerPod])
      .set(c.reason, c.reasons[j / kContainersPerPod])
      .set(c.created_by_kind, c.replica_set)
      .set(c.node, pod.node)
      .set(c.cluster, c.cluster_value)
      .set(c.job, c.job_value)
      .set(c.instance, c.instance_value);
}

void fillFromTexts(LabelsBuilder& b, const PodTexts& pod, int j) {
  b.clear();
  b.set("namespace", pod.ns)
      .set("pod", pod.pod)
      .set("uid", pod.uid)
      .set("container", pod.containers[j % kContainersPerPod])
      .set("reason", kReasons[j / kContainersPerPod])
      .set("created_by_kind", "ReplicaSet")
      .set("node", pod.node)
      .set("cluster", "prod-eu-west-1")
      .set("job", "kube-state-metrics")
      .set("instance", "10.0.12.34:8080");
}

// The measured steps, out of line so that
//   valgrind --tool=callgrind --toggle-collect='*buildSeries*' intern_bench --benchmark_filter=...
// counts the instructions of those alone (Ir / calls).
[[gnu::noinline]] Labels buildSeries(LabelsBuilder& b, const Common& c, const PodSymbols& pod,
                                     int j) {
  fillFromSymbols(b, c, pod, j);
  return b.build();
}

[[gnu::noinline]] Labels buildSeriesFromTexts(LabelsBuilder& b, const PodTexts& pod, int j) {
  fillFromTexts(b, pod, j);
  return b.build();
}

// Series `*j` of a pod never seen before; the pod's texts are interned when
// it appears (every 30 series).
[[gnu::noinline]] Labels buildNewSeries(LabelsBuilder& b, const Common& c, PodSymbols& pod, int* j,
                                        std::uint64_t* next_pod) {
  if (*j == kSetsPerPod) {
    pod = podSymbols(podTexts((*next_pod)++));
    *j = 0;
  }
  return buildSeries(b, c, pod, (*j)++);
}

constexpr int kMemorySets = 1'000'000;

void BM_LabelSetMemory(benchmark::State& state) {
  const int sets = static_cast<int>(state.range(0));
  const int pods = (sets + kSetsPerPod - 1) / kSetsPerPod;
  for (auto _ : state) {
    sweepInterned();
    const Common common;
    std::vector<PodSymbols> pod_symbols;
    pod_symbols.reserve(pods);
    for (int p = 0; p < pods; ++p) pod_symbols.push_back(podSymbols(podTexts(p)));
    std::vector<Labels> held;
    held.reserve(sets);
    LabelsBuilder builder;
    fillFromSymbols(builder, common, pod_symbols[0], 0);
    const std::size_t before = heapBytes();
    const std::size_t pooled_before = internedLabelSetCount();
    for (int i = 0; i < sets; ++i) {
      fillFromSymbols(builder, common, pod_symbols[i / kSetsPerPod], i % kSetsPerPod);
      held.push_back(builder.build());
    }
    const std::size_t after = heapBytes();
    if (internedLabelSetCount() - pooled_before != static_cast<std::size_t>(sets)) {
      state.SkipWithError("sets were not distinct");
    }
    state.counters["bytes_per_set"] =
        static_cast<double>(after - before) / static_cast<double>(sets);
    held.clear();
    pod_symbols.clear();
    sweepInterned();
  }
  state.SetItemsProcessed(state.iterations() * sets);
}
BENCHMARK(BM_LabelSetMemory)->Arg(kMemorySets)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_LabelSetMemoryWithTexts(benchmark::State& state) {
  const int sets = static_cast<int>(state.range(0));
  for (auto _ : state) {
    sweepInterned();
    const Common common;  // names and shared values exist before any scrape
    std::vector<Labels> held;
    held.reserve(sets);
    LabelsBuilder builder;
    fillFromSymbols(builder, common, podSymbols(podTexts(0)), 0);
    std::size_t before = heapBytes();
    PodTexts texts;
    for (int i = 0; i < sets; ++i) {
      if (i % kSetsPerPod == 0) {
        // The scraper's texts are transient: don't count their buffers.
        const std::size_t before_texts = heapBytes();
        texts = podTexts(i / kSetsPerPod);
        before += heapBytes() - before_texts;
      }
      fillFromTexts(builder, texts, i % kSetsPerPod);
      held.push_back(builder.build());
    }
    const std::size_t after = heapBytes();
    state.counters["bytes_per_set"] =
        static_cast<double>(after - before) / static_cast<double>(sets);
    state.counters["symbols"] = static_cast<double>(internedSymbolCount());
    held.clear();
    sweepInterned();
  }
  state.SetItemsProcessed(state.iterations() * sets);
}
BENCHMARK(BM_LabelSetMemoryWithTexts)
    ->Arg(kMemorySets)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

void BM_SymbolMemory(benchmark::State& state) {
  const int count = static_cast<int>(state.range(0));
  const std::size_t len = static_cast<std::size_t>(state.range(1));
  for (auto _ : state) {
    sweepInterned();
    std::vector<Symbol> held;
    held.reserve(count);
    std::string text(len, 'x');
    const std::size_t before = heapBytes();
    for (int i = 0; i < count; ++i) {
      // Distinct texts of exactly `len` bytes: the index in hex at the end.
      char buf[17];
      const int n = std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(i));
      text.replace(len - static_cast<std::size_t>(n), static_cast<std::size_t>(n), buf);
      held.push_back(Symbol::intern(text));
    }
    const std::size_t after = heapBytes();
    state.counters["bytes_per_symbol"] =
        static_cast<double>(after - before) / static_cast<double>(count);
    held.clear();
    sweepInterned();
  }
  state.SetItemsProcessed(state.iterations() * count);
}
BENCHMARK(BM_SymbolMemory)
    ->Args({kMemorySets, 12})
    ->Args({kMemorySets, 36})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

constexpr int kHitSets = 100'000;

void BM_InternHit(benchmark::State& state) {
  sweepInterned();
  const Common common;
  std::vector<PodSymbols> pod_symbols;
  for (int p = 0; p < kHitSets / kSetsPerPod; ++p) pod_symbols.push_back(podSymbols(podTexts(p)));
  const int sets = static_cast<int>(pod_symbols.size()) * kSetsPerPod;
  LabelsBuilder builder;
  std::vector<Labels> held;
  for (int i = 0; i < sets; ++i) {
    fillFromSymbols(builder, common, pod_symbols[i / kSetsPerPod], i % kSetsPerPod);
    held.push_back(builder.build());
  }
  int i = 0;
  for (auto _ : state) {
    Labels labels = buildSeries(builder, common, pod_symbols[i / kSetsPerPod], i % kSetsPerPod);
    benchmark::DoNotOptimize(labels);
    if (++i == sets) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  held.clear();
  pod_symbols.clear();
  sweepInterned();
}
BENCHMARK(BM_InternHit);

void BM_InternHitFromText(benchmark::State& state) {
  sweepInterned();
  std::vector<PodTexts> pod_texts;
  for (int p = 0; p < kHitSets / kSetsPerPod; ++p) pod_texts.push_back(podTexts(p));
  const int sets = static_cast<int>(pod_texts.size()) * kSetsPerPod;
  LabelsBuilder builder;
  std::vector<Labels> held;
  for (int i = 0; i < sets; ++i) {
    fillFromTexts(builder, pod_texts[i / kSetsPerPod], i % kSetsPerPod);
    held.push_back(builder.build());
  }
  int i = 0;
  for (auto _ : state) {
    Labels labels = buildSeriesFromTexts(builder, pod_texts[i / kSetsPerPod], i % kSetsPerPod);
    benchmark::DoNotOptimize(labels);
    if (++i == sets) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  held.clear();
  sweepInterned();
}
BENCHMARK(BM_InternHitFromText);

void BM_InternNew(benchmark::State& state) {
  constexpr int kBatch = 1 << 16;  // sets held before they are dropped and swept
  sweepInterned();
  const Common common;
  std::vector<Labels> held;
  held.reserve(kBatch);
  LabelsBuilder builder;
  static std::uint64_t next_pod = 1'000'000;  // new pods on every run
  PodSymbols pod;
  int j = kSetsPerPod;
  for (auto _ : state) {
    held.push_back(buildNewSeries(builder, common, pod, &j, &next_pod));
    if (held.size() == kBatch) {
      state.PauseTiming();
      held.clear();
      sweepInterned();
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
  held.clear();
  pod = PodSymbols();
  sweepInterned();
}
BENCHMARK(BM_InternNew);

// Reads every text of a set, as an exporter serializing it does.
[[gnu::noinline]] std::size_t readSeries(const Labels& labels) {
  std::size_t bytes = 0;
  for (const Label& l : labels) bytes += l.name.view().size() + l.value.view().size();
  return bytes;
}

void BM_ReadLabels(benchmark::State& state) {
  sweepInterned();
  const Common common;
  std::vector<PodSymbols> pod_symbols;
  for (int p = 0; p < kHitSets / kSetsPerPod; ++p) pod_symbols.push_back(podSymbols(podTexts(p)));
  LabelsBuilder builder;
  std::vector<Labels> held;
  for (int i = 0; i < static_cast<int>(pod_symbols.size()) * kSetsPerPod; ++i) {
    fillFromSymbols(builder, common, pod_symbols[i / kSetsPerPod], i % kSetsPerPod);
    held.push_back(builder.build());
  }
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(readSeries(held[i]));
    if (++i == held.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  held.clear();
  pod_symbols.clear();
  sweepInterned();
}
BENCHMARK(BM_ReadLabels);

void BM_SweepLive(benchmark::State& state) {
  sweepInterned();
  const Common common;
  std::vector<PodSymbols> pod_symbols;
  for (int p = 0; p < kMemorySets / kSetsPerPod; ++p) {
    pod_symbols.push_back(podSymbols(podTexts(p)));
  }
  LabelsBuilder builder;
  std::vector<Labels> held;
  for (int i = 0; i < static_cast<int>(pod_symbols.size()) * kSetsPerPod; ++i) {
    fillFromSymbols(builder, common, pod_symbols[i / kSetsPerPod], i % kSetsPerPod);
    held.push_back(builder.build());
  }
  for (auto _ : state) benchmark::DoNotOptimize(sweepInterned());
  state.counters["entries"] = static_cast<double>(internedLabelSetCount() + internedSymbolCount());
  held.clear();
  pod_symbols.clear();
  sweepInterned();
}
BENCHMARK(BM_SweepLive)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kubemetrics
