#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kubemetrics/result.h"

namespace kubemetrics::scrapers::host {

/// Pure parsers for the /proc files the host source reads. They take the
/// file's text and never fail as a whole: a malformed line is skipped and
/// counted in `skipped`, so one odd line costs one series, not the scrape.
/// Lines longer than kMaxLineBytes are skipped unread. Stateless and
/// thread-safe.
inline constexpr std::size_t kMaxLineBytes = 64 * 1024;

/// Calls `fn(line)` for each line of `text` (without the '\n'), skipping and
/// counting the lines longer than kMaxLineBytes.
template <class Fn>
void forEachLine(std::string_view text, std::size_t& skipped, Fn&& fn) {
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.size() > kMaxLineBytes) {
      ++skipped;
      continue;
    }
    fn(line);
  }
}

/// Reads a whole (pseudo-)file, whose st_size /proc reports as 0, into
/// `out` (reusing its capacity), up to `max_bytes`; a longer file is cut at
/// its last complete line. Errors: kUnavailable naming the path and errno.
Result<void> readProcFile(const std::string& path, std::string& out,
                          std::size_t max_bytes = 16 * 1024 * 1024);

// ---- /proc/stat -------------------------------------------------------

/// node_exporter's order of the per-CPU modes in /proc/stat.
inline constexpr std::array<std::string_view, 8> kCpuModes = {"user",   "nice", "system",  "idle",
                                                              "iowait", "irq",  "softirq", "steal"};
/// Highest CPU number accepted, so a corrupt line cannot size a table.
inline constexpr std::uint32_t kMaxCpuIndex = 65535;

struct CpuTicks {
  std::uint32_t cpu = 0;
  std::array<std::uint64_t, kCpuModes.size()> ticks{};  // in USER_HZ (clock ticks)
  std::uint8_t modes = 0;                               // how many of kCpuModes the line had (4..8)
};

struct ProcStat {
  std::vector<CpuTicks> cpus;  // per-CPU lines only; the aggregate "cpu" line is ignored
  std::optional<std::uint64_t> context_switches;  // ctxt
  std::optional<std::uint64_t> forks;             // processes
  std::optional<std::uint64_t> boot_time;         // btime, Unix seconds
  std::optional<std::uint64_t> procs_running;
  std::optional<std::uint64_t> procs_blocked;
};

/// Reuses `out`'s storage.
void parseProcStat(std::string_view text, ProcStat& out, std::size_t& skipped);

// ---- /proc/loadavg ----------------------------------------------------

struct LoadAvg {
  double load1 = 0;
  double load5 = 0;
  double load15 = 0;
};

/// nullopt when the first three fields are not numbers.
std::optional<LoadAvg> parseLoadAvg(std::string_view text);

// ---- /proc/meminfo ----------------------------------------------------

struct MeminfoField {
  std::string_view name;  // as in the file, e.g. "Active(anon)"; points into the text
  double value = 0;       // bytes when `in_bytes`, else the bare number
  bool in_bytes = false;  // the file gave "kB"
};

/// Reuses `out`'s storage; the names point into `text`.
void parseMeminfo(std::string_view text, std::vector<MeminfoField>& out, std::size_t& skipped);

/// node_exporter's metric name for a meminfo field: "Active(anon)" with kB
/// -> "node_memory_Active_anon_bytes", "HugePages_Total" ->
/// "node_memory_HugePages_Total". nullopt when the result would not be a
/// valid metric name.
std::optional<std::string> meminfoMetricName(std::string_view field, bool in_bytes);

// ---- /proc/net/dev ----------------------------------------------------

struct NetDevStats {
  std::string_view device;  // points into the text
  std::uint64_t rx_bytes = 0, rx_packets = 0, rx_errs = 0, rx_drop = 0;
  std::uint64_t tx_bytes = 0, tx_packets = 0, tx_errs = 0, tx_drop = 0;
};

/// Skips the two header lines. Reuses `out`'s storage.
void parseNetDev(std::string_view text, std::vector<NetDevStats>& out, std::size_t& skipped);

// ---- /proc/<pid>/mounts -----------------------------------------------

struct MountEntry {
  std::string device;
  std::string mount_point;  // octal escapes (\040 for a space) decoded
  std::string fs_type;
};

/// Reuses `out`'s storage.
void parseMounts(std::string_view text, std::vector<MountEntry>& out, std::size_t& skipped);

/// Decodes the octal escapes the kernel writes in mount fields (\040 space,
/// \011 tab, \012 newline, \134 backslash); anything else is kept as is.
std::string unescapeMountField(std::string_view field);

}  // namespace kubemetrics::scrapers::host
