#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace kubemetrics::testing {

/// A child process for end-to-end tests: the agent binary, Prometheus,
/// promtool. stdout and stderr go to a file the test can read. The
/// destructor kills a child still running (SIGKILL) so a failed test never
/// leaves one behind. Not thread-safe.
class Process {
 public:
  /// Starts `argv[0]` with `argv`; `env` entries ("K=V") are added to the
  /// current environment, replacing a variable of the same name.
  Process(std::vector<std::string> argv, std::vector<std::string> env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  /// Everything the child wrote so far.
  std::string output() const;
  /// Polls output() until it contains `text`; false at the timeout or when
  /// the child exited first.
  bool waitForOutput(const std::string& text, std::chrono::milliseconds timeout);
  void signal(int signo);
  /// Exit code once the child exits (128+signal when killed), or nullopt at
  /// the timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string output_path_;
};

/// Runs a command to completion (bounded by `timeout`), returning its exit
/// code and combined output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult runCommand(std::vector<std::string> argv, const std::string& stdin_text = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

/// A TCP port on 127.0.0.1 that is free and stays reserved to this process
/// until it exits: outside the kernel's ephemeral range, and locked against
/// other test processes. For peers such as Prometheus that cannot report an
/// ephemeral port, or that start after the agent was told their address.
int freeLoopbackPort();

/// The whole file, or "" when it cannot be read.
std::string readFile(const std::string& path);

/// A memory figure of process `pid` from /proc/PID/status, in KiB: `field`
/// is "VmRSS" (resident now) or "VmHWM" (peak resident); -1 when unreadable.
long procStatusKib(pid_t pid, const std::string& field);

/// A fresh temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

}  // namespace kubemetrics::testing
