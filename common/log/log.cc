#include "kubemetrics/log.h"

#include <cstdio>
#include <ctime>

namespace kubemetrics {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

const char* levelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info ";
    case LogLevel::kWarn:
      return "warn ";
    case LogLevel::kError:
      return "error";
  }
  return "?    ";
}

}  // namespace

std::optional<LogLevel> parseLogLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn" || text == "warning") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return std::nullopt;
}

void setLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel logLevel() { return static_cast<LogLevel>(g_level.load()); }

LogLine::LogLine(LogLevel level, std::string_view component)
    : enabled_(static_cast<int>(level) >= g_level.load(std::memory_order_relaxed)), level_(level) {
  if (!enabled_) return;
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  char prefix[64];
  std::snprintf(prefix, sizeof prefix, "%s.%03dZ %s ", stamp, static_cast<int>(millis),
                levelName(level_));
  stream_ << prefix << '[' << component << "] ";
}

LogLine::~LogLine() {
  if (!enabled_) return;
  stream_ << '\n';
  const std::string line = stream_.str();
  // One fwrite per line: stdio locks the stream, so lines never interleave.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

bool LogLimiter::allow(std::string_view key, std::uint64_t* suppressed) {
  const auto now = std::chrono::steady_clock::now();
  MutexLock lock(mu_);
  auto [it, inserted] = entries_.try_emplace(std::string(key));
  Entry& e = it->second;
  if (!inserted && now - e.last < interval_) {
    ++e.suppressed;
    return false;
  }
  if (suppressed) *suppressed = e.suppressed;
  e.suppressed = 0;
  e.last = now;
  return true;
}

}  // namespace kubemetrics
