#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include "kubemetrics/deadline.h"
#include "kubemetrics/result.h"
#include "kubemetrics/sample.h"

namespace kubemetrics {

/// Sends processed batches to one backend (or serves them, for /metrics).
/// The pipeline gives every exporter its own bounded queue and one flusher
/// thread, which calls send() in ring order and never concurrently with
/// itself; a slow exporter only fills its own queue. Implementations that
/// also serve other threads (an HTTP handler) synchronise that state
/// themselves. Built by a factory in agent/registry.cc from its config.
class Exporter {
 public:
  virtual ~Exporter() = default;

  /// Unique instance name for self-metrics and logs, e.g. "prometheus".
  virtual std::string_view name() const = 0;
  /// Takes a shared, read-only batch; the exporter may keep the reference.
  /// An error is counted by the pipeline; retrying is the exporter's job.
  virtual Result<void> send(SharedBatch batch) = 0;
  /// Flushes what the exporter holds and stops, returning by `deadline`.
  /// Called once no more send() calls will come; safe to call twice.
  virtual void shutdown(Deadline deadline) = 0;
  /// The node goes away at `at` (wall clock; a spot interruption): deliver
  /// what is held before then, at the cost of efficiency. Called from the
  /// announcing source's thread, at most once per new or earlier notice,
  /// possibly while send() runs; thread-safe. The default does nothing
  /// (an exporter that holds nothing, like /metrics).
  virtual void prepareForTermination(std::chrono::system_clock::time_point at) { (void)at; }
  /// True while the exporter holds so much that more would be dropped
  /// rather than delivered or kept (a push exporter without a spool whose
  /// queue fills): the pipeline then refuses pushed data (SampleSink), so
  /// the listeners hold their senders back instead of losing what they
  /// acknowledged. Thread-safe, cheap; called per offered batch. The
  /// default: never.
  virtual bool backlogged() const { return false; }
};

using ExporterPtr = std::unique_ptr<Exporter>;

}  // namespace kubemetrics
