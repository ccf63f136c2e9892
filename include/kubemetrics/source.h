#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>

#include "kubemetrics/deadline.h"
#include "kubemetrics/result.h"
#include "kubemetrics/sample.h"

namespace kubemetrics {

/// What one scrape saw, beyond the samples themselves.
struct ScrapeStats {
  std::size_t samples = 0;  // samples appended to the batch
};

/// Produces samples from one upstream (the kubelet, a Prometheus target,
/// /proc). The scheduler calls scrape() on the source's own thread, once per
/// interval, never concurrently with itself: implementations need no locks
/// for their own state. A source never blocks on exporters; it only fills the
/// batch it is given. Built by a factory in agent/registry.cc from its config.
class Source {
 public:
  virtual ~Source() = default;

  /// Unique instance name, used as `SampleBatch::source` and in self-metrics
  /// and logs, e.g. "host" or "prometheus/node-exporter".
  virtual std::string_view name() const = 0;
  /// How often to scrape.
  virtual std::chrono::milliseconds interval() const = 0;
  /// Where in the interval this source's scrapes fall: the scheduler scrapes
  /// at start + phase, then every interval from there, so sources that share
  /// an interval and differ in phase stay apart (and the pipeline gets their
  /// batches spread, not in one burst). Below interval(); 0 by default.
  virtual std::chrono::milliseconds phase() const { return std::chrono::milliseconds(0); }
  /// Appends one scrape to `out`, returning by `deadline`. On error, `out`
  /// may still hold samples the source wants delivered (for example `up` = 0)
  /// and the scheduler forwards them; the error is logged and counted, and
  /// the next interval tries again.
  virtual Result<ScrapeStats> scrape(SampleBatch& out, Deadline deadline) = 0;
  /// True for a source whose first scrape discovers run-time tags (the EC2
  /// identity): the scheduler starts the other sources only after that
  /// scrape (bounded in time), so their first samples already carry them.
  virtual bool discoversTags() const { return false; }
};

using SourcePtr = std::unique_ptr<Source>;

}  // namespace kubemetrics
