#include "proc_parsers.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace kubemetrics::scrapers::host {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Splits off the next whitespace-separated field; empty at the end.
std::string_view nextField(std::string_view& line) {
  std::size_t i = 0;
  while (i < line.size() && isSpace(line[i])) ++i;
  std::size_t j = i;
  while (j < line.size() && !isSpace(line[j])) ++j;
  const std::string_view field = line.substr(i, j - i);
  line.remove_prefix(j);
  return field;
}

bool parseUint(std::string_view text, std::uint64_t& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool parseDouble(std::string_view text, double& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool isMetricNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

Result<void> readProcFile(const std::string& path, std::string& out, std::size_t max_bytes) {
  out.clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return makeError(ErrorCode::kUnavailable, "open " + path + ": " + std::strerror(err));
  }
  constexpr std::size_t kChunk = 64 * 1024;
  bool truncated = false;
  while (true) {
    if (out.size() >= max_bytes) {
      truncated = true;
      break;
    }
    const std::size_t used = out.size();
    const std::size_t want = std::min(kChunk, max_bytes - used);
    out.resize(used + want);
    const ssize_t n = ::read(fd, out.data() + used, want);
    if (n < 0) {
      const int err = errno;
      out.resize(used);
      if (err == EINTR) continue;
      ::close(fd);
      out.clear();
      return makeError(ErrorCode::kUnavailable, "read " + path + ": " + std::strerror(err));
    }
    out.resize(used + static_cast<std::size_t>(n));
    if (n == 0) break;
  }
  ::close(fd);
  if (truncated) {
    // A cut line would parse as a wrong value: keep complete lines only.
    const std::size_t last = out.rfind('\n');
    out.resize(last == std::string::npos ? 0 : last + 1);
  }
  return {};
}

void parseProcStat(std::string_view text, ProcStat& out, std::size_t& skipped) {
  out.cpus.clear();
  out.context_switches.reset();
  out.forks.reset();
  out.boot_time.reset();
  out.procs_running.reset();
  out.procs_blocked.reset();
  forEachLine(text, skipped, [&](std::string_view line) {
    const std::string_view key = nextField(line);
    if (key.size() > 3 && key.starts_with("cpu")) {
      std::uint64_t cpu = 0;
      CpuTicks ticks;
      if (!parseUint(key.substr(3), cpu) || cpu > kMaxCpuIndex) {
        ++skipped;
        return;
      }
      ticks.cpu = static_cast<std::uint32_t>(cpu);
      for (std::string_view field = nextField(line);
           !field.empty() && ticks.modes < ticks.ticks.size(); field = nextField(line)) {
        if (!parseUint(field, ticks.ticks[ticks.modes])) {
          ++skipped;
          return;
        }
        ++ticks.modes;
      }
      // Every kernel since 2.6 has user, nice, system and idle at least.
      if (ticks.modes < 4) {
        ++skipped;
        return;
      }
      out.cpus.push_back(ticks);
      return;
    }
    std::optional<std::uint64_t>* target = nullptr;
    if (key == "ctxt") {
      target = &out.context_switches;
    } else if (key == "processes") {
      target = &out.forks;
    } else if (key == "btime") {
      target = &out.boot_time;
    } else if (key == "procs_running") {
      target = &out.procs_running;
    } else if (key == "procs_blocked") {
      target = &out.procs_blocked;
    } else {
      return;  // the aggregate cpu line, intr, softirq, ...: not exported
    }
    std::uint64_t value = 0;
    if (!parseUint(nextField(line), value)) {
      ++skipped;
      return;
    }
    *target = value;
  });
}

std::optional<LoadAvg> parseLoadAvg(std::string_view text) {
  LoadAvg load;
  if (!parseDouble(nextField(text), load.load1) || !parseDouble(nextField(text), load.load5) ||
      !parseDouble(nextField(text), load.load15)) {
    return std::nullopt;
  }
  return load;
}

void parseMeminfo(std::string_view text, std::vector<MeminfoField>& out, std::size_t& skipped) {
  out.clear();
  forEachLine(text, skipped, [&](std::string_view line) {
    std::string_view name = nextField(line);
    if (name.empty()) return;  // a blank line is not an error
    const std::string_view number = nextField(line);
    const std::string_view unit = nextField(line);
    double value = 0;
    if (name.size() < 2 || name.back() != ':' || !parseDouble(number, value) ||
        !nextField(line).empty() || (!unit.empty() && unit != "kB")) {
      ++skipped;
      return;
    }
    name.remove_suffix(1);
    const bool in_bytes = unit == "kB";
    out.push_back(MeminfoField{name, in_bytes ? value * 1024 : value, in_bytes});
  });
}

std::optional<std::string> meminfoMetricName(std::string_view field, bool in_bytes) {
  // node_exporter rewrites "(x)" as "_x": Active(anon) -> Active_anon.
  std::string name = "node_memory_";
  for (char c : field) {
    if (c == '(') {
      name += '_';
    } else if (c != ')') {
      if (!isMetricNameChar(c)) return std::nullopt;
      name += c;
    }
  }
  if (name.size() == std::string_view("node_memory_").size()) return std::nullopt;
  if (in_bytes) name += "_bytes";
  return name;
}

void parseNetDev(std::string_view text, std::vector<NetDevStats>& out, std::size_t& skipped) {
  out.clear();
  int line_no = 0;
  forEachLine(text, skipped, [&](std::string_view line) {
    if (++line_no <= 2) return;  // "Inter-|   Receive ..." and " face |bytes ..."
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      if (line.find_first_not_of(" \t\r") != std::string_view::npos) ++skipped;
      return;
    }
    std::string_view device = line.substr(0, colon);
    while (!device.empty() && isSpace(device.front())) device.remove_prefix(1);
    while (!device.empty() && isSpace(device.back())) device.remove_suffix(1);
    line.remove_prefix(colon + 1);
    // rx: bytes packets errs drop fifo frame compressed multicast,
    // tx: bytes packets errs drop fifo colls carrier compressed.
    std::array<std::uint64_t, 16> v{};
    for (std::uint64_t& field : v) {
      if (!parseUint(nextField(line), field)) {
        ++skipped;
        return;
      }
    }
    if (device.empty()) {
      ++skipped;
      return;
    }
    out.push_back(NetDevStats{device, v[0], v[1], v[2], v[3], v[8], v[9], v[10], v[11]});
  });
}

std::string unescapeMountField(std::string_view field) {
  const auto isOctal = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  out.reserve(field.size());
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && isOctal(field[i + 1]) &&
        isOctal(field[i + 2]) && isOctal(field[i + 3])) {
      const int code = (field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0');
      if (code < 256) {
        out += static_cast<char>(code);
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

void parseMounts(std::string_view text, std::vector<MountEntry>& out, std::size_t& skipped) {
  out.clear();
  forEachLine(text, skipped, [&](std::string_view line) {
    const std::string_view device = nextField(line);
    if (device.empty()) return;
    const std::string_view mount_point = nextField(line);
    const std::string_view fs_type = nextField(line);
    if (fs_type.empty() || mount_point.front() != '/') {
      ++skipped;
      return;
    }
    out.push_back(MountEntry{unescapeMountField(device), unescapeMountField(mount_point),
                             unescapeMountField(fs_type)});
  });
}

}  // namespace kubemetrics::scrapers::host
