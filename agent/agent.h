#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_config.h"
#include "kubemetrics/agent_tags.h"
#include "kubemetrics/config.h"
#include "kubemetrics/node_lifecycle.h"
#include "kubemetrics/result.h"
#include "kubemetrics/runtime_tags.h"
#include "kubemetrics/status_board.h"

namespace kubemetrics {

/// The agent's version (CMake's project version).
inline constexpr std::string_view kAgentVersion = KM_VERSION;

class HttpServer;
class Pipeline;
class Scheduler;
class SelfMetricsForwarder;
namespace kube {
class KubeMetadataService;
}

/// Command-line settings that override the file.
struct AgentOverrides {
  std::optional<std::string> listen;  // --listen ADDR:PORT
  std::optional<LogLevel> log_level;  // --log-level
};

/// The result of validating a whole configuration: every error found
/// (agent-level keys and every component's), and the effective
/// configuration for --check-config.
struct ConfigCheck {
  std::vector<ConfigError> errors;
  std::string effective_yaml;
  AgentConfig config;
  bool ok() const { return errors.empty(); }
};

/// What the configuration reloads of this process came to, shown as
/// self-metrics by each agent the process runs in turn (agent_supervisor.h).
struct ReloadHistory {
  std::uint64_t applied = 0;  // a new configuration runs
  std::uint64_t invalid = 0;  // refused by validation: the running one stayed
  std::uint64_t failed = 0;   // valid, but did not start: the previous one was restored
  bool last_successful = true;
  double last_success_unix_seconds = 0;  // the process start, then each applied reload
};

/// The running agent: configuration, self-metrics registry, HTTP server,
/// pipeline with its exporters, and the scheduler driving the sources.
/// main() builds one; integration tests build them in-process.
///
/// start() and stop() are called from the owner's thread; the HTTP
/// handlers it registers are thread-safe.
class Agent {
 public:
  /// Validates `yaml` (as loaded from `origin`) without creating anything.
  static ConfigCheck check(std::string_view yaml, const std::string& origin,
                           const AgentOverrides& overrides = {});
  /// Validates, then creates every enabled component. Config errors come
  /// back as one kInvalidArgument error listing them all, one per line.
  static Result<std::unique_ptr<Agent>> create(std::string_view yaml, const std::string& origin,
                                               const AgentOverrides& overrides = {});
  ~Agent();

  /// Binds the HTTP server, then starts the pipeline and the sources.
  Result<void> start();
  /// The SIGTERM path: stop the sources (half of shutdown_timeout at most),
  /// drain the ring and the exporter queues (bounded by shutdown_timeout),
  /// stop the server. Idempotent.
  void stop();
  /// After stop(): a source was still in a scrape at its deadline (a system
  /// call that does not return). Destroying the agent would wait for it;
  /// the process exits without destroying it instead.
  bool sourcesLeftRunning() const { return sources_left_running_; }

  /// Shows `history` as the kubemetrics_config_* self-metrics (owner's
  /// thread).
  void showReloads(const ReloadHistory& history);

  unsigned short port() const;
  const AgentConfig& config() const { return config_; }
  prometheus::Registry& metrics() { return *metrics_; }

 private:
  Agent() = default;
  void housekeeping();

  AgentConfig config_;
  SpoolSettings spool_;  // exporters.spool, referenced by the components' context
  std::shared_ptr<prometheus::Registry> metrics_;
  RuntimeTags runtime_tags_;
  NodeLifecycle lifecycle_;          // the EC2 source announces, the push exporters flush
  std::unique_ptr<AgentTags> tags_;  // config's and runtime_tags_; shared by sources and pipeline
  StatusBoard status_;
  // The Kubernetes API watches, for the components that acquire them; they
  // run only when one did.
  std::unique_ptr<kube::KubeMetadataService> kube_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<Pipeline> pipeline_;
  // Self-metrics for the push exporters that ask (self_metrics: true); null when none.
  std::unique_ptr<SelfMetricsForwarder> self_metrics_;
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<ListenerPtr> listeners_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopped_{false};
  bool sources_left_running_ = false;  // the owner's thread (stop())
  std::mutex housekeeping_mu_;
  std::condition_variable housekeeping_wake_;
  std::thread housekeeping_;
};

}  // namespace kubemetrics
