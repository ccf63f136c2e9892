#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

namespace kubemetrics::scrapers::kubelet {

// The subset of the kubelet Summary API (k8s.io/kubelet/pkg/apis/stats/v1alpha1)
// the emitter turns into samples. Plain values filled by SummaryParser; every
// string_view points into the parser's buffers and is valid until its next
// parse(). Every numeric field is optional in the API: kAbsent (NaN) marks a
// field the JSON did not carry, so "absent" never reads as 0.

inline constexpr double kAbsent = std::numeric_limits<double>::quiet_NaN();
inline bool present(double v) { return !std::isnan(v); }

struct CpuStats {
  std::int64_t time_ms = 0;                  // block `time`; 0 when absent
  double usage_nano_cores = kAbsent;         // usageNanoCores
  double usage_core_nano_seconds = kAbsent;  // usageCoreNanoSeconds (cumulative)
};

// Pressure stall information: cumulative stall time (µs) and averages (%).
struct PsiData {
  double total = kAbsent;
  double avg10 = kAbsent;
  double avg60 = kAbsent;
  double avg300 = kAbsent;
};
struct PsiStats {
  PsiData full;
  PsiData some;
  bool present = false;
};

struct MemoryStats {
  std::int64_t time_ms = 0;
  double available_bytes = kAbsent;
  double usage_bytes = kAbsent;
  double working_set_bytes = kAbsent;
  double rss_bytes = kAbsent;
  double page_faults = kAbsent;
  double major_page_faults = kAbsent;
};

struct InterfaceStats {
  std::string_view name;
  double rx_bytes = kAbsent;
  double rx_errors = kAbsent;
  double tx_bytes = kAbsent;
  double tx_errors = kAbsent;
};

struct NetworkStats {
  std::int64_t time_ms = 0;
  InterfaceStats totals;                   // the default interface (top-level fields)
  std::vector<InterfaceStats> interfaces;  // per interface
  bool present = false;
};

struct FsStats {
  std::int64_t time_ms = 0;
  double available_bytes = kAbsent;
  double capacity_bytes = kAbsent;
  double used_bytes = kAbsent;
  double inodes_free = kAbsent;
  double inodes = kAbsent;
  double inodes_used = kAbsent;
  bool present = false;
};

struct SwapStats {
  std::int64_t time_ms = 0;
  double available_bytes = kAbsent;  // swapAvailableBytes
  double usage_bytes = kAbsent;      // swapUsageBytes
};

struct AcceleratorStats {
  std::string_view make;
  std::string_view model;
  std::string_view id;
  double memory_total = kAbsent;
  double memory_used = kAbsent;
  double duty_cycle = kAbsent;
};

// What node, pods, containers and system containers have in common.
struct UsageStats {
  std::int64_t start_ms = 0;  // startTime; 0 when absent
  CpuStats cpu;
  MemoryStats memory;
  SwapStats swap;
  PsiStats cpu_psi;
  PsiStats memory_psi;
  PsiStats io_psi;
  std::int64_t io_time_ms = 0;
};

struct ContainerStats : UsageStats {
  std::string_view name;
  FsStats rootfs;
  FsStats logs;
  std::vector<AcceleratorStats> accelerators;
};

struct VolumeStats : FsStats {
  std::string_view name;
};

struct PodStats : UsageStats {
  std::string_view name;
  std::string_view namespace_name;
  std::string_view uid;
  NetworkStats network;
  FsStats ephemeral_storage;
  std::vector<ContainerStats> containers;
  std::vector<VolumeStats> volumes;
};

struct NodeStats : UsageStats {
  std::string_view node_name;
  NetworkStats network;
  FsStats fs;
  std::vector<ContainerStats> system_containers;
};

// One /stats/summary document. The vectors keep their capacity from one
// parse to the next (see SummaryParser), so a steady node allocates nothing.
struct Summary {
  NodeStats node;
  std::vector<PodStats> pods;
};

}  // namespace kubemetrics::scrapers::kubelet
