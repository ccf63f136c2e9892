#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config.h"
#include "kubemetrics/component.h"
#include "kubemetrics/config.h"
#include "kubemetrics/log.h"
#include "kubemetrics/source.h"
#include "proc_parsers.h"

namespace prometheus {
class Counter;
class Registry;
}  // namespace prometheus

namespace kubemetrics::scrapers::host {

/// What the host source could not use, since construction. Also exported as
/// self-metric kubemetrics_host_errors_total{source, kind} when a registry
/// is given.
struct HostErrorCounts {
  std::uint64_t read_failures = 0;     // kind="read": a proc file missing or unreadable
  std::uint64_t malformed_lines = 0;   // kind="malformed_line": lines the parsers skipped
  std::uint64_t statvfs_failures = 0;  // kind="statvfs": mount points skipped
};

/// The `host` source: node CPU, memory, load, network and file system
/// metrics from procfs and statvfs, named and labelled as Prometheus
/// node_exporter names them (node_cpu_seconds_total{cpu,mode}, ...), so
/// node dashboards work unchanged. Every sample of a scrape carries the
/// wall-clock time of the scrape.
///
/// A missing or unreadable file skips its families; a malformed line skips
/// its series; a failing statvfs skips its mount. scrape() fails (with
/// kUnavailable) only when no proc file at all could be read, and even then
/// it appends node_time_seconds.
///
/// Owned by the scheduler thread: scrape() is never called concurrently, so
/// the parse buffers and the series caches need no lock.
class HostSource final : public Source {
 public:
  /// `self_metrics` (optional, must outlive the source) receives
  /// kubemetrics_host_errors_total.
  HostSource(std::string name, HostConfig config, prometheus::Registry* self_metrics = nullptr);
  ~HostSource() override;
  HostSource(const HostSource&) = delete;
  HostSource& operator=(const HostSource&) = delete;

  // kubemetrics::Source
  std::string_view name() const override { return name_; }
  std::chrono::milliseconds interval() const override { return config_.interval; }
  Result<ScrapeStats> scrape(SampleBatch& out, Deadline deadline) override;

  const HostErrorCounts& errorCounts() const { return errors_; }

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>()(s);
    }
  };

  // Interned label sets (or names) of the series one file produced, kept
  // from one scrape to the next so a stable host interns nothing per scrape;
  // entries unseen in a scrape are dropped, so veth and mount churn on a
  // Kubernetes node does not grow it.
  template <class V>
  class SeriesCache {
   public:
    template <class Make>
    V& get(std::string_view key, Make&& make) {
      if (auto it = current_.find(key); it != current_.end()) return it->second;
      if (auto it = previous_.find(key); it != previous_.end()) {
        return current_.insert(previous_.extract(it)).position->second;
      }
      return current_.emplace(std::string(key), make()).first->second;
    }
    void endScrape() {
      previous_.swap(current_);
      current_.clear();
    }
    std::size_t size() const { return previous_.size() + current_.size(); }

   private:
    std::unordered_map<std::string, V, StringHash, std::equal_to<>> previous_;
    std::unordered_map<std::string, V, StringHash, std::equal_to<>> current_;
  };

  struct Family {
    Symbol name;
    MetricType type = MetricType::kGauge;
    std::string help;
    bool used = false;  // emitted in the scrape in progress
  };
  struct MemoryField {
    Family family;  // its `used` is ignored: last_scrape guards duplicates
    bool in_bytes = false;
    std::uint64_t last_scrape = 0;  // scrape_count_ when last emitted
  };

  enum FamilyId : std::size_t;

  bool readFile(std::string_view relative);
  void add(SampleBatch& out, Family& family, const Labels& labels, double value);
  void addFamily(SampleBatch& out, std::size_t id, const Labels& labels, double value);
  void countMalformed(std::string_view file, std::size_t skipped);
  void collectStat(SampleBatch& out);
  void collectLoadAvg(SampleBatch& out);
  void collectMeminfo(SampleBatch& out);
  void collectNetDev(SampleBatch& out);
  void collectFilesystems(SampleBatch& out, Deadline deadline);
  bool readMounts();
  std::string statPath(std::string_view mount_point) const;
  std::string labelMountPoint(std::string_view mount_point) const;

  const std::string name_;
  const HostConfig config_;
  const double clock_ticks_per_second_;
  const std::unordered_set<std::string, StringHash, std::equal_to<>> excluded_fs_types_;

  std::vector<Family> families_;  // indexed by FamilyId
  const Symbol cpu_label_ = Symbol::intern("cpu");
  const Symbol mode_label_ = Symbol::intern("mode");
  std::array<Symbol, kCpuModes.size()> mode_values_;
  std::vector<std::array<Labels, kCpuModes.size()>> cpu_labels_;  // by CPU number
  SeriesCache<MemoryField> memory_fields_;
  SeriesCache<Labels> device_labels_;
  SeriesCache<Labels> filesystem_labels_;

  // Reused buffers: a scrape allocates only what the batch itself needs.
  std::string text_;
  std::string key_;
  std::string first_error_;
  ProcStat stat_;
  std::vector<MeminfoField> meminfo_;
  std::vector<NetDevStats> net_dev_;
  std::vector<MountEntry> mounts_;
  std::vector<std::size_t> selected_mounts_;
  std::int64_t now_ms_ = 0;
  std::uint64_t scrape_count_ = 0;
  std::size_t files_read_ = 0;
  std::size_t last_scrape_samples_ = 0;

  HostErrorCounts errors_;
  prometheus::Counter* read_failures_metric_ = nullptr;
  prometheus::Counter* malformed_lines_metric_ = nullptr;
  prometheus::Counter* statvfs_failures_metric_ = nullptr;
  LogLimiter log_limiter_{std::chrono::minutes(5)};
};

/// The registry factory for `sources.host`: parses the config (reporting
/// errors through `node`); with a null context (validation only) or
/// `enabled: false` returns no source, else one HostSource named "host".
/// Errors: kInvalidArgument when proc_path is not a readable directory.
SourceFactory buildSources;

}  // namespace kubemetrics::scrapers::host
