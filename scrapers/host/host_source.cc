#include "host_source.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>

namespace kubemetrics::scrapers::host {

enum HostSource::FamilyId : std::size_t {
  kCpuSeconds,
  kContextSwitches,
  kForks,
  kBootTime,
  kProcsRunning,
  kProcsBlocked,
  kLoad1,
  kLoad5,
  kLoad15,
  kReceiveBytes,
  kReceivePackets,
  kReceiveErrs,
  kReceiveDrop,
  kTransmitBytes,
  kTransmitPackets,
  kTransmitErrs,
  kTransmitDrop,
  kFsSize,
  kFsFree,
  kFsAvail,
  kFsFiles,
  kFsFilesFree,
  kTime,
  kFamilyCount,
};

namespace {

struct FamilySpec {
  std::string_view name;
  MetricType type;
  std::string_view help;
};

// Names and help texts as node_exporter exports them.
constexpr FamilySpec kFamilySpecs[] = {
    {"node_cpu_seconds_total", MetricType::kCounter, "Seconds the CPUs spent in each mode."},
    {"node_context_switches_total", MetricType::kCounter, "Total number of context switches."},
    {"node_forks_total", MetricType::kCounter, "Total number of forks."},
    {"node_boot_time_seconds", MetricType::kGauge, "Node boot time, in unixtime."},
    {"node_procs_running", MetricType::kGauge, "Number of processes in runnable state."},
    {"node_procs_blocked", MetricType::kGauge,
     "Number of processes blocked waiting for I/O to complete."},
    {"node_load1", MetricType::kGauge, "1m load average."},
    {"node_load5", MetricType::kGauge, "5m load average."},
    {"node_load15", MetricType::kGauge, "15m load average."},
    {"node_network_receive_bytes_total", MetricType::kCounter,
     "Network device statistic receive_bytes."},
    {"node_network_receive_packets_total", MetricType::kCounter,
     "Network device statistic receive_packets."},
    {"node_network_receive_errs_total", MetricType::kCounter,
     "Network device statistic receive_errs."},
    {"node_network_receive_drop_total", MetricType::kCounter,
     "Network device statistic receive_drop."},
    {"node_network_transmit_bytes_total", MetricType::kCounter,
     "Network device statistic transmit_bytes."},
    {"node_network_transmit_packets_total", MetricType::kCounter,
     "Network device statistic transmit_packets."},
    {"node_network_transmit_errs_total", MetricType::kCounter,
     "Network device statistic transmit_errs."},
    {"node_network_transmit_drop_total", MetricType::kCounter,
     "Network device statistic transmit_drop."},
    {"node_filesystem_size_bytes", MetricType::kGauge, "Filesystem size in bytes."},
    {"node_filesystem_free_bytes", MetricType::kGauge, "Filesystem free space in bytes."},
    {"node_filesystem_avail_bytes", MetricType::kGauge,
     "Filesystem space available to non-root users in bytes."},
    {"node_filesystem_files", MetricType::kGauge, "Filesystem total file nodes."},
    {"node_filesystem_files_free", MetricType::kGauge, "Filesystem total free file nodes."},
    {"node_time_seconds", MetricType::kGauge, "System time in seconds since epoch (1970)."},
};

double clockTicksPerSecond() {
  const long ticks = ::sysconf(_SC_CLK_TCK);
  return ticks > 0 ? static_cast<double>(ticks) : 100.0;  // USER_HZ is 100 on every arch
}

// " (N repeats suppressed)" when the limiter held lines back, else "".
std::string suppressedNote(std::uint64_t suppressed) {
  if (suppressed == 0) return {};
  return " (" + std::to_string(suppressed) + " repeats suppressed)";
}

std::string trimTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

HostSource::HostSource(std::string name, HostConfig config, prometheus::Registry* self_metrics)
    : name_(std::move(name)),
      config_([&] {
        config.proc_path = trimTrailingSlashes(std::move(config.proc_path));
        config.rootfs_path = trimTrailingSlashes(std::move(config.rootfs_path));
        return std::move(config);
      }()),
      clock_ticks_per_second_(clockTicksPerSecond()),
      excluded_fs_types_(config_.exclude_fs_types.begin(), config_.exclude_fs_types.end()) {
  static_assert(std::size(kFamilySpecs) == kFamilyCount);
  families_.reserve(kFamilyCount);
  for (const FamilySpec& spec : kFamilySpecs) {
    families_.push_back(Family{Symbol::intern(spec.name), spec.type, std::string(spec.help)});
  }
  for (std::size_t m = 0; m < kCpuModes.size(); ++m) mode_values_[m] = Symbol::intern(kCpuModes[m]);
  if (self_metrics != nullptr) {
    // Start-up only; a clash with an existing family of another type is a
    // bug elsewhere, which must not keep the node's metrics from flowing.
    try {
      auto& family = prometheus::BuildCounter()
                         .Name("kubemetrics_host_errors_total")
                         .Help("Proc files, lines and mount points the host source could not use.")
                         .Register(*self_metrics);
      read_failures_metric_ = &family.Add({{"source", name_}, {"kind", "read"}});
      malformed_lines_metric_ = &family.Add({{"source", name_}, {"kind", "malformed_line"}});
      statvfs_failures_metric_ = &family.Add({{"source", name_}, {"kind", "statvfs"}});
    } catch (const std::exception& e) {
      logError(name_) << "cannot register kubemetrics_host_errors_total: " << e.what();
      read_failures_metric_ = malformed_lines_metric_ = statvfs_failures_metric_ = nullptr;
    }
  }
}

HostSource::~HostSource() = default;

Result<ScrapeStats> HostSource::scrape(SampleBatch& out, Deadline deadline) {
  const std::size_t before = out.samples.size();
  out.samples.reserve(before + last_scrape_samples_);
  now_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  files_read_ = 0;
  ++scrape_count_;
  first_error_.clear();
  for (Family& f : families_) f.used = false;

  collectStat(out);
  collectLoadAvg(out);
  collectMeminfo(out);
  collectNetDev(out);
  collectFilesystems(out, deadline);
  addFamily(out, kTime, Labels(), static_cast<double>(now_ms_) / 1000.0);

  for (const Family& f : families_) {
    if (f.used) out.metadata.push_back(MetricMetadata{f.name, f.type, f.help, ""});
  }

  last_scrape_samples_ = out.samples.size() - before;
  if (files_read_ == 0) {
    return makeError(ErrorCode::kUnavailable,
                     "no proc file readable under " + config_.proc_path + ": " + first_error_);
  }
  return ScrapeStats{last_scrape_samples_};
}

bool HostSource::readFile(std::string_view relative) {
  std::string path = config_.proc_path;
  path += '/';
  path += relative;
  Result<void> read = readProcFile(path, text_);
  if (read) {
    ++files_read_;
    return true;
  }
  ++errors_.read_failures;
  if (read_failures_metric_ != nullptr) read_failures_metric_->Increment();
  if (first_error_.empty()) first_error_ = read.error().message();
  std::uint64_t suppressed = 0;
  if (log_limiter_.allow(path, &suppressed)) {
    logWarn(name_) << read.error().message() << "; skipping its metrics"
                   << suppressedNote(suppressed);
  }
  return false;
}

void HostSource::countMalformed(std::string_view file, std::size_t skipped) {
  if (skipped == 0) return;
  errors_.malformed_lines += skipped;
  if (malformed_lines_metric_ != nullptr) {
    malformed_lines_metric_->Increment(static_cast<double>(skipped));
  }
  std::uint64_t suppressed = 0;
  if (log_limiter_.allow(std::string("malformed:") += file, &suppressed)) {
    logWarn(name_) << "skipped " << skipped << " malformed line(s) in " << config_.proc_path << '/'
                   << file << suppressedNote(suppressed);
  }
}

void HostSource::add(SampleBatch& out, Family& family, const Labels& labels, double value) {
  family.used = true;
  out.samples.push_back(Sample{family.name, labels, value, now_ms_});
}

void HostSource::addFamily(SampleBatch& out, std::size_t id, const Labels& labels, double value) {
  add(out, families_[id], labels, value);
}

void HostSource::collectStat(SampleBatch& out) {
  if (!readFile("stat")) return;
  std::size_t skipped = 0;
  parseProcStat(text_, stat_, skipped);
  countMalformed("stat", skipped);
  for (const CpuTicks& cpu : stat_.cpus) {
    if (cpu.cpu >= cpu_labels_.size()) cpu_labels_.resize(cpu.cpu + 1);
    auto& labels = cpu_labels_[cpu.cpu];
    if (labels[0].empty()) {
      const Symbol number = Symbol::intern(std::to_string(cpu.cpu));
      for (std::size_t m = 0; m < kCpuModes.size(); ++m) {
        labels[m] =
            LabelsBuilder().set(cpu_label_, number).set(mode_label_, mode_values_[m]).build();
      }
    }
    for (std::size_t m = 0; m < cpu.modes; ++m) {
      addFamily(out, kCpuSeconds, labels[m],
                static_cast<double>(cpu.ticks[m]) / clock_ticks_per_second_);
    }
  }
  const std::pair<const std::optional<std::uint64_t>*, FamilyId> scalars[] = {
      {&stat_.context_switches, kContextSwitches},
      {&stat_.forks, kForks},
      {&stat_.boot_time, kBootTime},
      {&stat_.procs_running, kProcsRunning},
      {&stat_.procs_blocked, kProcsBlocked},
  };
  for (const auto& [value, family] : scalars) {
    if (value->has_value()) addFamily(out, family, Labels(), static_cast<double>(**value));
  }
}

void HostSource::collectLoadAvg(SampleBatch& out) {
  if (!readFile("loadavg")) return;
  const std::optional<LoadAvg> load = parseLoadAvg(text_);
  if (!load) {
    countMalformed("loadavg", 1);
    return;
  }
  addFamily(out, kLoad1, Labels(), load->load1);
  addFamily(out, kLoad5, Labels(), load->load5);
  addFamily(out, kLoad15, Labels(), load->load15);
}

void HostSource::collectMeminfo(SampleBatch& out) {
  if (!readFile("meminfo")) return;
  std::size_t skipped = 0;
  parseMeminfo(text_, meminfo_, skipped);
  for (const MeminfoField& field : meminfo_) {
    MemoryField& m = memory_fields_.get(field.name, [&] {
      MemoryField made;
      made.in_bytes = field.in_bytes;
      if (auto name = meminfoMetricName(field.name, field.in_bytes)) {
        made.family.name = Symbol::intern(*name);
        made.family.help = "Memory information field " +
                           name->substr(std::string_view("node_memory_").size()) + ".";
      }
      return made;
    });
    // Unusable names, a field that changed unit (never seen in practice) and
    // a repeated field (which would be a duplicate series) are skipped.
    if (m.family.name.empty() || m.in_bytes != field.in_bytes || m.last_scrape == scrape_count_) {
      ++skipped;
      continue;
    }
    m.last_scrape = scrape_count_;
    add(out, m.family, Labels(), field.value);
    out.metadata.push_back(MetricMetadata{m.family.name, m.family.type, m.family.help, ""});
  }
  countMalformed("meminfo", skipped);
  memory_fields_.endScrape();
}

void HostSource::collectNetDev(SampleBatch& out) {
  // <proc>/net/dev is the reading process's own network namespace: in a
  // pod without hostNetwork, the pod's eth0. The host's proc tree lists the
  // node's processes, and pid 1's namespace is the node's. Outside a
  // container both are the same; a tree without pid 1 falls back.
  const std::string node_net_dev = config_.proc_path + "/1/net/dev";
  if (readProcFile(node_net_dev, text_)) {
    ++files_read_;
  } else if (!readFile("net/dev")) {
    return;
  }
  std::size_t skipped = 0;
  parseNetDev(text_, net_dev_, skipped);
  countMalformed("net/dev", skipped);
  for (const NetDevStats& dev : net_dev_) {
    const Labels& labels = device_labels_.get(
        dev.device, [&] { return LabelsBuilder().set("device", dev.device).build(); });
    const std::pair<FamilyId, std::uint64_t> values[] = {
        {kReceiveBytes, dev.rx_bytes},  {kReceivePackets, dev.rx_packets},
        {kReceiveErrs, dev.rx_errs},    {kReceiveDrop, dev.rx_drop},
        {kTransmitBytes, dev.tx_bytes}, {kTransmitPackets, dev.tx_packets},
        {kTransmitErrs, dev.tx_errs},   {kTransmitDrop, dev.tx_drop},
    };
    for (const auto& [family, value] : values) {
      addFamily(out, family, labels, static_cast<double>(value));
    }
  }
  device_labels_.endScrape();
}

bool HostSource::readMounts() {
  // <proc>/mounts is a link to self/mounts; a partial tree (a test's, a
  // restricted mount) may have only the latter, and only its failure counts.
  if (readProcFile(config_.proc_path + "/mounts", text_)) {
    ++files_read_;
    return true;
  }
  return readFile("self/mounts");
}

std::string HostSource::labelMountPoint(std::string_view mount_point) const {
  // Mounts listed under the rootfs (when the agent reads its own mount table
  // in a container that mounts the host root there) are labelled by their
  // host path, as node_exporter labels them.
  const std::string& root = config_.rootfs_path;
  if (root != "/" && mount_point.starts_with(root)) {
    const std::string_view rest = mount_point.substr(root.size());
    if (rest.empty()) return "/";
    if (rest.front() == '/') return std::string(rest);
  }
  return std::string(mount_point);
}

std::string HostSource::statPath(std::string_view mount_point) const {
  if (config_.rootfs_path == "/") return std::string(mount_point);
  return config_.rootfs_path + std::string(mount_point);
}

void HostSource::collectFilesystems(SampleBatch& out, Deadline deadline) {
  if (!readMounts()) return;
  std::size_t skipped = 0;
  parseMounts(text_, mounts_, skipped);
  countMalformed("mounts", skipped);
  for (MountEntry& m : mounts_) m.mount_point = labelMountPoint(m.mount_point);

  // A mount point mounted over keeps its last entry, the one statvfs sees;
  // exclusion comes after, so a hidden ext4 under an overlay is not
  // reported with the overlay's numbers.
  selected_mounts_.clear();
  {
    std::unordered_map<std::string_view, std::size_t> position;
    position.reserve(mounts_.size());
    for (std::size_t i = 0; i < mounts_.size(); ++i) {
      auto [it, inserted] = position.emplace(mounts_[i].mount_point, selected_mounts_.size());
      if (inserted) {
        selected_mounts_.push_back(i);
      } else {
        selected_mounts_[it->second] = i;
      }
    }
  }

  for (std::size_t i : selected_mounts_) {
    const MountEntry& m = mounts_[i];
    if (excluded_fs_types_.contains(m.fs_type)) continue;
    if (std::any_of(config_.exclude_mount_points.begin(), config_.exclude_mount_points.end(),
                    [&](const std::string& prefix) { return m.mount_point.starts_with(prefix); })) {
      continue;
    }
    if (SteadyClock::now() >= deadline) {
      // statvfs of a dead network mount can block; what is left waits for
      // the next scrape rather than delaying this one further.
      std::uint64_t suppressed = 0;
      if (log_limiter_.allow("filesystem-deadline", &suppressed)) {
        logWarn(name_) << "scrape deadline passed before statvfs of " << m.mount_point
                       << " and later mounts; skipped" << suppressedNote(suppressed);
      }
      break;
    }
    const std::string path = statPath(m.mount_point);
    struct statvfs fs;
    if (::statvfs(path.c_str(), &fs) != 0) {
      const int err = errno;
      ++errors_.statvfs_failures;
      if (statvfs_failures_metric_ != nullptr) statvfs_failures_metric_->Increment();
      std::uint64_t suppressed = 0;
      // One key for all mounts: the limiter never forgets a key, and mount
      // points come and go with pods.
      if (log_limiter_.allow("statvfs", &suppressed)) {
        logWarn(name_) << "statvfs " << path << ": " << std::strerror(err)
                       << "; skipping that mount" << suppressedNote(suppressed);
      }
      continue;
    }
    key_.clear();
    key_.append(m.device).append(1, '\0').append(m.fs_type).append(1, '\0').append(m.mount_point);
    const Labels& labels = filesystem_labels_.get(key_, [&] {
      return LabelsBuilder()
          .set("device", m.device)
          .set("fstype", m.fs_type)
          .set("mountpoint", m.mount_point)
          .build();
    });
    // f_blocks, f_bfree and f_bavail count fragments of f_frsize bytes.
    const double block = static_cast<double>(fs.f_frsize != 0 ? fs.f_frsize : fs.f_bsize);
    addFamily(out, kFsSize, labels, static_cast<double>(fs.f_blocks) * block);
    addFamily(out, kFsFree, labels, static_cast<double>(fs.f_bfree) * block);
    addFamily(out, kFsAvail, labels, static_cast<double>(fs.f_bavail) * block);
    addFamily(out, kFsFiles, labels, static_cast<double>(fs.f_files));
    addFamily(out, kFsFilesFree, labels, static_cast<double>(fs.f_ffree));
  }
  filesystem_labels_.endScrape();
}

}  // namespace kubemetrics::scrapers::host
