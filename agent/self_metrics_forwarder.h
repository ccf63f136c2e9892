#pragma once

#include <prometheus/registry.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "kubemetrics/exporter.h"
#include "kubemetrics/sample.h"

namespace kubemetrics {

/// The `job` label of every self-metric sample sent to a push exporter, so
/// that a backend tells them from the collected series (a Prometheus that
/// scrapes /metrics sets the job itself).
inline constexpr std::string_view kSelfMetricsJob = "kubemetrics-agent";

/// One push exporter that asked for the agent's self-metrics
/// (`exporters.<name>.self_metrics: true`) and how often it wants them.
struct SelfMetricsRoute {
  std::string exporter;  // Exporter::name()
  std::chrono::milliseconds interval{std::chrono::seconds(60)};
};

/// The routes the push exporters among `exporters` ask for (their
/// PushConfig); empty when none does. The /metrics exporter serves the
/// self-metrics itself and is never a route.
std::vector<SelfMetricsRoute> selfMetricsRoutes(const std::vector<ExporterPtr>& exporters);

/// Sends the agent's self-metrics to the push exporters that ask for them.
/// Its thread collects `registry` (the registry /metrics serves) when a
/// route's interval is due, converts it (appendSelfMetricSamples, with
/// `job="kubemetrics-agent"`, stamped with the collection time) and hands
/// one batch to `deliver` with the names of every route due then. The
/// first collection is one interval after start(). Routes due at the same
/// time share one collection.
///
/// start() and stop() from the owner's thread; `deliver` runs on the
/// forwarder's thread (Pipeline::submitTo). The registry must outlive it.
class SelfMetricsForwarder {
 public:
  /// Hands a batch to the named exporters; false when it was not taken.
  using Deliver = std::function<bool(SampleBatchPtr, std::span<const std::string>)>;

  SelfMetricsForwarder(std::vector<SelfMetricsRoute> routes, prometheus::Registry& registry,
                       Deliver deliver);
  ~SelfMetricsForwarder();
  SelfMetricsForwarder(const SelfMetricsForwarder&) = delete;
  SelfMetricsForwarder& operator=(const SelfMetricsForwarder&) = delete;

  void start();
  /// Returns once the thread has stopped (a collection in progress ends
  /// first). Before the pipeline shuts down. Idempotent.
  void stop();

  /// One collection, delivered to `exporters` now (the thread's step; tests).
  void collectFor(std::span<const std::string> exporters);

 private:
  void run();

  const std::vector<SelfMetricsRoute> routes_;
  prometheus::Registry& registry_;
  const Deliver deliver_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace kubemetrics
