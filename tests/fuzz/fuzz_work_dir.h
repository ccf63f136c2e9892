#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "kubemetrics/log.h"

namespace kubemetrics::testing {

/// A directory of the fuzzer's own under /tmp, made at the first call and
/// removed when the fuzzer exits. Also quietens the log to errors: the
/// targets that read damaged files warn about every one.
inline const std::string& fuzzWorkDir() {
  struct WorkDir {
    WorkDir() {
      setLogLevel(LogLevel::kError);
      char name[] = "/tmp/km-fuzz-XXXXXX";
      if (::mkdtemp(name) == nullptr) std::abort();
      path = name;
    }
    ~WorkDir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
    std::string path;
  };
  static const WorkDir dir;
  return dir.path;
}

}  // namespace kubemetrics::testing
