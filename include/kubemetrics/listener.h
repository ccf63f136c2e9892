#pragma once

#include <memory>
#include <string_view>

#include "kubemetrics/result.h"
#include "kubemetrics/sample.h"

namespace kubemetrics {

/// The pipeline's intake for data that is pushed to the agent rather than
/// scraped. Unlike a scraped source's batches, which the pipeline drops
/// (counted) when its ring is full, an offered batch is never dropped: when
/// the ring is full or the agent is stopping, offer() refuses and the batch
/// stays with the caller, who pushes back on its sender (stops reading a
/// TCP connection, answers HTTP 503) so the sender retries instead of
/// losing it. Thread-safe: any number of threads may offer at once; offer()
/// never blocks.
class SampleSink {
 public:
  virtual ~SampleSink() = default;
  /// True when `batch` entered the pipeline (it is then null); false when it
  /// was refused, `batch` untouched.
  virtual bool offer(SampleBatchPtr& batch) = 0;
};

/// Receives samples that applications push to the agent (the proxy role:
/// Wavefront lines, Prometheus remote write) and hands them to a
/// SampleSink. Built by a listener factory from `sources.<key>`; the agent
/// starts it once the pipeline runs and stops it before the pipeline drains,
/// so every batch it offers finds the pipeline there. start() and stop() are
/// called from the agent's thread, never concurrently; what the listener
/// serves runs on its own threads.
class Listener {
 public:
  virtual ~Listener() = default;

  /// Instance name for self-metrics and logs, e.g. "listeners/wavefront".
  virtual std::string_view name() const = 0;
  /// Binds and starts serving; `sink` outlives stop(). An error (address in
  /// use, not local) fails the agent's start.
  virtual Result<void> start(SampleSink& sink) = 0;
  /// Stops accepting and closes every connection; when it returns, nothing
  /// calls the sink any more. Idempotent; also safe without start().
  virtual void stop() = 0;
};

using ListenerPtr = std::unique_ptr<Listener>;

}  // namespace kubemetrics
