#include "emitter.h"

#include <utility>

namespace kubemetrics::scrapers::kubelet {

enum SummaryEmitter::Metric : std::size_t {
  kCpuUsage,
  kCpuUsageRate,
  kCpuUsageMillicores,
  kMemoryAvailable,
  kMemoryUsage,
  kMemoryWorkingSet,
  kMemoryRss,
  kMemoryPageFaults,
  kMemoryMajorPageFaults,
  kMemoryPageFaultsRate,
  kMemoryMajorPageFaultsRate,
  kNetworkRx,
  kNetworkRxErrors,
  kNetworkTx,
  kNetworkTxErrors,
  kNetworkRxRate,
  kNetworkRxErrorsRate,
  kNetworkTxRate,
  kNetworkTxErrorsRate,
  kFsUsage,
  kFsAvailable,
  kFsLimit,
  kFsInodes,
  kFsInodesFree,
  kEphemeralStorageUsage,
  kUptime,
  kAcceleratorMemoryTotal,
  kAcceleratorMemoryUsed,
  kAcceleratorDutyCycle,
  kSwapUsage,
  kSwapAvailable,
  kPodCount,
  kPodContainerCount,
  kPsiFirst,  // then 3 resources x {full, some} x {total, avg10, avg60, avg300}
  kMetricCount = kPsiFirst + 24,
};

namespace {

struct MetricSpec {
  std::string_view suffix;  // after "kubernetes.<type>."
  std::string_view help;
};

// Names as the Wavefront Kubernetes collector emits them (its summary source
// and rate calculator), plus memory.available, swap and PSI in the same
// scheme. Indexed by SummaryEmitter::Metric up to kPsiFirst.
constexpr MetricSpec kSpecs[] = {
    {"cpu.usage", "Cumulative CPU time (usageCoreNanoSeconds), nanoseconds."},
    {"cpu.usage_rate", "CPU usage from the cumulative counter between scrapes, millicores."},
    {"cpu.usage_millicores", "CPU usage as the kubelet sampled it (usageNanoCores), millicores."},
    {"memory.available", "Memory available (availableBytes), bytes."},
    {"memory.usage", "Memory usage (usageBytes), bytes."},
    {"memory.working_set", "Memory working set (workingSetBytes), bytes."},
    {"memory.rss", "Resident set size (rssBytes), bytes."},
    {"memory.page_faults", "Cumulative page faults (pageFaults)."},
    {"memory.major_page_faults", "Cumulative major page faults (majorPageFaults)."},
    {"memory.page_faults_rate", "Page faults per second, from the cumulative counter."},
    {"memory.major_page_faults_rate", "Major page faults per second, from the cumulative counter."},
    {"network.rx", "Cumulative bytes received (rxBytes)."},
    {"network.rx_errors", "Cumulative receive errors (rxErrors)."},
    {"network.tx", "Cumulative bytes sent (txBytes)."},
    {"network.tx_errors", "Cumulative transmit errors (txErrors)."},
    {"network.rx_rate", "Bytes received per second, from the cumulative counter."},
    {"network.rx_errors_rate", "Receive errors per second, from the cumulative counter."},
    {"network.tx_rate", "Bytes sent per second, from the cumulative counter."},
    {"network.tx_errors_rate", "Transmit errors per second, from the cumulative counter."},
    {"filesystem.usage", "File system bytes used (usedBytes), by resource_id."},
    {"filesystem.available", "File system bytes available (availableBytes), by resource_id."},
    {"filesystem.limit", "File system capacity (capacityBytes), bytes, by resource_id."},
    {"filesystem.inodes", "File system inodes (inodes), by resource_id."},
    {"filesystem.inodes_free", "File system free inodes (inodesFree), by resource_id."},
    {"ephemeral_storage.usage", "Ephemeral storage used, bytes."},
    {"uptime", "Time since startTime, milliseconds."},
    {"accelerator.memory_total", "Accelerator memory (memoryTotal), bytes."},
    {"accelerator.memory_used", "Accelerator memory used (memoryUsed), bytes."},
    {"accelerator.duty_cycle", "Accelerator busy time (dutyCycle), percent."},
    {"swap.usage", "Swap used (swapUsageBytes), bytes."},
    {"swap.available", "Swap available (swapAvailableBytes), bytes."},
    {"pod.count", "Pods the kubelet reports on the node."},
    {"pod_container.count", "Pod containers the kubelet reports on the node."},
};
static_assert(std::size(kSpecs) == SummaryEmitter::kPsiFirst);

constexpr std::string_view kKindNames[] = {"node", "pod", "pod_container", "sys_container"};
constexpr std::string_view kPsiResources[] = {"cpu", "memory", "io"};
constexpr std::string_view kPsiKinds[] = {"full", "some"};
constexpr std::string_view kPsiFields[] = {"total", "avg10", "avg60", "avg300"};

std::size_t psiIndex(std::size_t resource, std::size_t kind, std::size_t field) {
  return SummaryEmitter::kPsiFirst + resource * 8 + kind * 4 + field;
}

std::string help(std::size_t metric) {
  if (metric < SummaryEmitter::kPsiFirst) return std::string(kSpecs[metric].help);
  const std::size_t i = metric - SummaryEmitter::kPsiFirst;
  std::string text = "Pressure stall information of ";
  text += kPsiResources[i / 8];
  text += " (psi.";
  text += kPsiKinds[(i / 4) % 2];
  text += '.';
  text += kPsiFields[i % 4];
  text += i % 4 == 0 ? "), cumulative stall time, microseconds." : "), percent.";
  return text;
}

std::string suffix(std::size_t metric) {
  if (metric < SummaryEmitter::kPsiFirst) return std::string(kSpecs[metric].suffix);
  const std::size_t i = metric - SummaryEmitter::kPsiFirst;
  std::string text(kPsiResources[i / 8]);
  text += ".psi.";
  text += kPsiKinds[(i / 4) % 2];
  text += '.';
  text += kPsiFields[i % 4];
  return text;
}

// The Wavefront collector keeps heapster's legacy names for two system
// containers so old dashboards match.
std::string_view systemContainerName(std::string_view name) {
  if (name == "runtime") return "docker-daemon";
  if (name == "misc") return "system";
  return name;
}

}  // namespace

struct SummaryEmitter::Scope {
  Kind kind;
  Labels labels;
  std::int64_t start_ms;
  SampleBatch& out;
};

SummaryEmitter::SummaryEmitter(EmitOptions options) : options_(std::move(options)) {
  names_.resize(kKindCount);
  used_.assign(kKindCount, std::vector<bool>(kMetricCount, false));
  for (std::size_t kind = 0; kind < kKindCount; ++kind) {
    kind_values_[kind] = Symbol::intern(kKindNames[kind]);
    names_[kind].reserve(kMetricCount);
    for (std::size_t m = 0; m < kMetricCount; ++m) {
      std::string name = "kubernetes.";
      name += kKindNames[kind];
      name += '.';
      name += suffix(m);
      names_[kind].push_back(Symbol::intern(name));
    }
  }
}

void SummaryEmitter::add(Scope& scope, Metric metric, const Labels& labels, double value,
                         std::int64_t ts) {
  if (!present(value)) return;
  scope.out.samples.push_back(Sample{names_[scope.kind][metric], labels, value, stamp(ts)});
  used_[scope.kind][metric] = true;
}

double SummaryEmitter::addRate(Scope& scope, Metric rate_metric, const Labels& labels,
                               double counter, std::int64_t ts, double scale) {
  if (!present(counter)) return kAbsent;
  const std::optional<double> rate =
      rates_.update(names_[scope.kind][rate_metric], labels, counter, stamp(ts), scope.start_ms);
  if (!rate) return kAbsent;
  add(scope, rate_metric, labels, *rate * scale, ts);
  return *rate * scale;
}

Labels SummaryEmitter::withLabel(const Labels& base, const Symbol& name, std::string_view value) {
  builder_.reset(base);
  builder_.set(name.view(), value);
  return builder_.build();
}

void SummaryEmitter::emitUsage(Scope& scope, const UsageStats& usage) {
  const Labels& labels = scope.labels;
  const CpuStats& cpu = usage.cpu;
  const MemoryStats& memory = usage.memory;
  if (usage.start_ms != 0) {
    const std::int64_t ts = stamp(cpu.time_ms != 0 ? cpu.time_ms : memory.time_ms);
    if (ts >= usage.start_ms)
      add(scope, kUptime, labels, static_cast<double>(ts - usage.start_ms), ts);
  }
  add(scope, kCpuUsage, labels, cpu.usage_core_nano_seconds, cpu.time_ms);
  // ns of CPU per second / 1e6 = millicores.
  const double cpu_rate =
      addRate(scope, kCpuUsageRate, labels, cpu.usage_core_nano_seconds, cpu.time_ms, 1e-6);
  if (scope.kind == kNode) node_cpu_rate_ = cpu_rate;
  if (present(cpu.usage_nano_cores)) {
    add(scope, kCpuUsageMillicores, labels, cpu.usage_nano_cores / 1e6, cpu.time_ms);
  }
  add(scope, kMemoryAvailable, labels, memory.available_bytes, memory.time_ms);
  add(scope, kMemoryUsage, labels, memory.usage_bytes, memory.time_ms);
  add(scope, kMemoryWorkingSet, labels, memory.working_set_bytes, memory.time_ms);
  add(scope, kMemoryRss, labels, memory.rss_bytes, memory.time_ms);
  add(scope, kMemoryPageFaults, labels, memory.page_faults, memory.time_ms);
  add(scope, kMemoryMajorPageFaults, labels, memory.major_page_faults, memory.time_ms);
  addRate(scope, kMemoryPageFaultsRate, labels, memory.page_faults, memory.time_ms, 1);
  addRate(scope, kMemoryMajorPageFaultsRate, labels, memory.major_page_faults, memory.time_ms, 1);
  add(scope, kSwapUsage, labels, usage.swap.usage_bytes, usage.swap.time_ms);
  add(scope, kSwapAvailable, labels, usage.swap.available_bytes, usage.swap.time_ms);

  const PsiStats* psi[] = {&usage.cpu_psi, &usage.memory_psi, &usage.io_psi};
  const std::int64_t psi_time[] = {cpu.time_ms, memory.time_ms, usage.io_time_ms};
  for (std::size_t r = 0; r < 3; ++r) {
    if (!psi[r]->present) continue;
    const PsiData* data[] = {&psi[r]->full, &psi[r]->some};
    for (std::size_t k = 0; k < 2; ++k) {
      const double fields[] = {data[k]->total, data[k]->avg10, data[k]->avg60, data[k]->avg300};
      for (std::size_t f = 0; f < 4; ++f) {
        add(scope, static_cast<Metric>(psiIndex(r, k, f)), labels, fields[f], psi_time[r]);
      }
    }
  }
}

void SummaryEmitter::emitNetwork(Scope& scope, const NetworkStats& network) {
  if (!network.present) return;
  const std::int64_t ts = network.time_ms;
  auto one = [&](const Labels& labels, const InterfaceStats& s) {
    add(scope, kNetworkRx, labels, s.rx_bytes, ts);
    add(scope, kNetworkRxErrors, labels, s.rx_errors, ts);
    add(scope, kNetworkTx, labels, s.tx_bytes, ts);
    add(scope, kNetworkTxErrors, labels, s.tx_errors, ts);
    addRate(scope, kNetworkRxRate, labels, s.rx_bytes, ts, 1);
    addRate(scope, kNetworkRxErrorsRate, labels, s.rx_errors, ts, 1);
    addRate(scope, kNetworkTxRate, labels, s.tx_bytes, ts, 1);
    addRate(scope, kNetworkTxErrorsRate, labels, s.tx_errors, ts, 1);
  };
  for (const InterfaceStats& interface : network.interfaces) {
    if (interface.name.empty()) continue;
    one(withLabel(scope.labels, interface_name_, interface.name), interface);
  }
  one(scope.labels, network.totals);
}

void SummaryEmitter::emitFs(Scope& scope, const FsStats& fs, std::string_view resource_id) {
  if (!fs.present) return;
  const Labels labels = withLabel(scope.labels, resource_id_, resource_id);
  add(scope, kFsUsage, labels, fs.used_bytes, fs.time_ms);
  add(scope, kFsAvailable, labels, fs.available_bytes, fs.time_ms);
  add(scope, kFsLimit, labels, fs.capacity_bytes, fs.time_ms);
  add(scope, kFsInodes, labels, fs.inodes, fs.time_ms);
  add(scope, kFsInodesFree, labels, fs.inodes_free, fs.time_ms);
}

void SummaryEmitter::emitContainer(Scope& scope, const ContainerStats& container) {
  emitUsage(scope, container);
  for (const AcceleratorStats& a : container.accelerators) {
    builder_.reset(scope.labels);
    builder_.set(make_.view(), a.make).set(model_.view(), a.model);
    builder_.set(accelerator_id_.view(), a.id);
    const Labels labels = builder_.build();
    add(scope, kAcceleratorMemoryTotal, labels, a.memory_total, container.cpu.time_ms);
    add(scope, kAcceleratorMemoryUsed, labels, a.memory_used, container.cpu.time_ms);
    add(scope, kAcceleratorDutyCycle, labels, a.duty_cycle, container.cpu.time_ms);
  }
  emitFs(scope, container.rootfs, "/");
  emitFs(scope, container.logs, "logs");
  if (container.rootfs.present && container.logs.present) {
    add(scope, kEphemeralStorageUsage, scope.labels,
        container.rootfs.used_bytes + container.logs.used_bytes, container.rootfs.time_ms);
  }
}

EmitStats SummaryEmitter::emit(const Summary& summary, std::int64_t now_ms, SampleBatch& out) {
  now_ms_ = now_ms;
  for (auto& kind : used_) kind.assign(kMetricCount, false);
  const std::size_t before = out.samples.size();
  EmitStats stats;
  const NodeStats& node = summary.node;
  const std::string_view node_name =
      node.node_name.empty() ? std::string_view(options_.fallback_node_name) : node.node_name;

  builder_.clear();
  builder_.set(nodename_.view(), node_name).set(type_, kind_values_[kNode]);
  Scope node_scope{kNode, builder_.build(), node.start_ms, out};
  node_cpu_rate_ = kAbsent;
  emitUsage(node_scope, node);
  stats.node_name = node_name;
  stats.node_cpu_usage_rate = node_cpu_rate_;
  stats.node_memory_working_set = node.memory.working_set_bytes;
  emitNetwork(node_scope, node.network);
  emitFs(node_scope, node.fs, "/");
  if (node.fs.present) {
    add(node_scope, kEphemeralStorageUsage, node_scope.labels, node.fs.used_bytes, node.fs.time_ms);
  }
  const std::int64_t node_ts =
      stamp(node.cpu.time_ms != 0 ? node.cpu.time_ms : node.memory.time_ms);

  if (options_.sys_containers) {
    for (const ContainerStats& container : node.system_containers) {
      // Sub-containers of system.slice are per-unit noise the collector drops too.
      if (container.name.empty() ||
          container.name.find("system.slice/") != std::string_view::npos) {
        continue;
      }
      builder_.clear();
      builder_.set(nodename_.view(), node_name)
          .set(type_, kind_values_[kSysContainer])
          .set(container_name_.view(), systemContainerName(container.name));
      Scope scope{kSysContainer, builder_.build(), container.start_ms, out};
      emitContainer(scope, container);
    }
  }

  for (const PodStats& pod : summary.pods) {
    ++stats.pods;
    builder_.clear();
    builder_.set(nodename_.view(), node_name)
        .set(type_, kind_values_[kPod])
        .set(namespace_name_.view(), pod.namespace_name)
        .set(pod_name_.view(), pod.name);
    const Labels pod_labels = builder_.build();
    Scope pod_scope{kPod, pod_labels, pod.start_ms, out};
    emitUsage(pod_scope, pod);
    emitNetwork(pod_scope, pod.network);
    if (pod.ephemeral_storage.present) {
      add(pod_scope, kEphemeralStorageUsage, pod_labels, pod.ephemeral_storage.used_bytes,
          pod.ephemeral_storage.time_ms);
    }
    for (const VolumeStats& volume : pod.volumes) {
      text_ = "Volume:";
      text_ += volume.name;
      emitFs(pod_scope, volume, text_);
    }
    const std::vector<ContainerStats>& containers = pod.containers;
    for (std::size_t i = 0; i < containers.size(); ++i) {
      const ContainerStats& container = containers[i];
      // A restarted container can be listed twice (the terminated one too):
      // keep the newest, as the collector does, so one series gets one value.
      bool superseded = false;
      for (std::size_t j = 0; j < containers.size() && !superseded; ++j) {
        superseded = j != i && containers[j].name == container.name &&
                     (containers[j].start_ms > container.start_ms ||
                      (containers[j].start_ms == container.start_ms && j > i));
      }
      if (superseded) continue;
      ++stats.containers;
      builder_.reset(pod_labels);
      builder_.set(type_, kind_values_[kPodContainer]).set(container_name_.view(), container.name);
      Scope scope{kPodContainer, builder_.build(), container.start_ms, out};
      emitContainer(scope, container);
    }
  }
  add(node_scope, kPodCount, node_scope.labels, static_cast<double>(stats.pods), node_ts);
  add(node_scope, kPodContainerCount, node_scope.labels, static_cast<double>(stats.containers),
      node_ts);

  for (std::size_t kind = 0; kind < kKindCount; ++kind) {
    for (std::size_t m = 0; m < kMetricCount; ++m) {
      if (used_[kind][m]) {
        out.metadata.push_back(MetricMetadata{names_[kind][m], MetricType::kGauge, help(m), ""});
      }
    }
  }
  // Pods gone since the last scrape lose their rate bases now, so the
  // cache follows the node's pods and not their history.
  rates_.endScrape(0);
  stats.samples = out.samples.size() - before;
  return stats;
}

}  // namespace kubemetrics::scrapers::kubelet
