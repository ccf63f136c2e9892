#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>

#include "kubemetrics/mutex.h"

namespace kubemetrics {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

std::optional<LogLevel> parseLogLevel(std::string_view text);
void setLogLevel(LogLevel level);
LogLevel logLevel();

/// One log line, written to stderr as a whole when it goes out of scope:
/// `2026-11-26T05:02:14.123Z warn  [kubelet] message`. Thread-safe: lines
/// from different threads never interleave.
class LogLine {
 public:
  LogLine(LogLevel level, std::string_view component);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  template <class T>
  LogLine& operator<<(const T& value) {
    if (enabled_) stream_ << value;
    return *this;
  }

 private:
  bool enabled_;
  LogLevel level_;
  std::ostringstream stream_;
};

inline LogLine logDebug(std::string_view component) { return LogLine(LogLevel::kDebug, component); }
inline LogLine logInfo(std::string_view component) { return LogLine(LogLevel::kInfo, component); }
inline LogLine logWarn(std::string_view component) { return LogLine(LogLevel::kWarn, component); }
inline LogLine logError(std::string_view component) { return LogLine(LogLevel::kError, component); }

/// Lets one line per key through per interval, so an error repeated on every
/// scrape or every bad input line is logged once per interval, with the
/// number suppressed since. Thread-safe.
class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::milliseconds interval) : interval_(interval) {}
  /// True when a line for `key` may be logged now; `suppressed` receives how
  /// many were held back since the last one that went out.
  bool allow(std::string_view key, std::uint64_t* suppressed = nullptr);

 private:
  struct Entry {
    std::chrono::steady_clock::time_point last;
    std::uint64_t suppressed = 0;
  };
  const std::chrono::milliseconds interval_;
  Mutex mu_;
  std::unordered_map<std::string, Entry> entries_ KM_GUARDED_BY(mu_);
};

}  // namespace kubemetrics
