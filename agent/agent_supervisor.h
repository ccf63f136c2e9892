#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "agent/agent.h"

namespace kubemetrics {

/// The whole file at `path`; false when it cannot be read.
bool readConfigFile(const std::string& path, std::string& out);

/// Runs the agent its configuration describes and replaces it when the
/// configuration changes (SIGHUP, or the file's content differs at a
/// periodic check: a ConfigMap update is a symlink swap in the mounted
/// volume, seen as new content at the same path).
///
/// A new configuration is validated first: an invalid one is logged with
/// each YAML path and reason, counted, and the running agent goes on. A
/// valid one stops the running agent the way SIGTERM does (listeners,
/// then the sources, then the pipeline drains to the exporters, which
/// deliver or spool what they hold), then starts the new one, which sends
/// the spool on. Should the new one not start (a port taken, say), the
/// previous configuration is started again.
///
/// Not thread-safe: main's thread calls every method.
class AgentSupervisor {
 public:
  enum class Trigger { kSignal, kFileCheck };

  /// `config_file` empty: the built-in configuration, nothing to reload.
  AgentSupervisor(std::string config_file, std::string origin, AgentOverrides overrides);
  ~AgentSupervisor();

  /// Creates and starts the agent on `yaml` (already validated).
  Result<void> start(std::string yaml);

  /// Re-reads the file and applies it if it changed. False when no agent
  /// runs afterwards (neither the new nor the previous configuration
  /// started): the process should exit.
  bool reload(Trigger trigger);

  /// How often the file is compared; 0 = SIGHUP only (or no file).
  std::chrono::milliseconds checkInterval() const;

  Agent& agent() { return *agent_; }

 private:
  Result<void> run(const std::string& yaml);
  void retireAgent();
  /// Counts a reload that did not apply (`counter`: invalid or failed) and
  /// shows it on the running agent.
  void noteUnsuccessful(std::uint64_t& counter);

  const std::string config_file_;
  const std::string origin_;
  const AgentOverrides overrides_;
  std::unique_ptr<Agent> agent_;
  std::string running_yaml_;
  std::string refused_yaml_;  // the last content refused at a file check, not logged again
  bool unreadable_logged_ = false;
  ReloadHistory history_;
};

}  // namespace kubemetrics
