#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kubemetrics/clock.h"
#include "kubemetrics/deadline.h"
#include "kubemetrics/mutex.h"
#include "kubemetrics/sample.h"
#include "kubemetrics/source.h"

namespace kubemetrics {

/// Runs every source on its own thread at its interval and hands each
/// scrape's batch to `sink` (the pipeline). One thread per source keeps a
/// slow upstream from delaying the others; sources are few (a handful per
/// agent), so threads are cheap here. A source's first scrape happens at
/// start plus its phase() (0 unless it asks, so /metrics has data at once),
/// and every later one a whole number of intervals after it. Counts
/// per-source scrapes, errors, duration and samples in the self-metrics
/// registry, and logs each kind of scrape error of a source at most once a
/// minute. Time comes from `clock` (systemClock() in the agent), so a test
/// steps through intervals without waiting for them.
///
/// Thread-safe: status() from any thread; start()/stop() from the owner.
class Scheduler {
 public:
  using Sink = std::function<void(SampleBatchPtr)>;

  struct SourceStatus {
    std::string name;
    bool scraped = false;  // a first scrape has finished
    bool up = false;       // the last scrape succeeded
    std::string last_error;
  };

  /// `clock` must outlive the scheduler.
  Scheduler(std::vector<SourcePtr> sources, Sink sink, prometheus::Registry& metrics,
            const Clock& clock = systemClock());
  /// Stops and joins every source's thread, without a deadline: after a
  /// stop() that returned false this waits for the hung scrape (the agent
  /// exits without destroying it then).
  ~Scheduler();

  /// Starts every source's thread. Sources that discover tags scrape first;
  /// the others wait for them, at most 3 s.
  void start();
  /// Stops scheduling and waits, until `deadline` by the clock, for the
  /// scrapes in progress to finish (sources bound their own scrapes, but a
  /// system call such as statvfs() on a dead mount may not return). True
  /// when every source's thread has ended; otherwise names the sources still
  /// in a scrape in a warning and returns false, leaving them running, so
  /// the agent can still drain the pipeline in time. Idempotent.
  bool stop(Deadline deadline);
  std::vector<SourceStatus> status() const;

 private:
  struct Slot;
  void run(Slot& slot);
  // No more scrapes start; sleepers wake.
  void requestStop();

  Sink sink_;
  const Clock& clock_;
  std::vector<std::unique_ptr<Slot>> slots_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  // Atomic so the wait predicate needs no lock annotation; still set under
  // mu_ so a waiter cannot miss the notification.
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
  // Tag-discovering sources that have not finished their first scrape.
  std::atomic<int> pending_tag_sources_{0};
};

}  // namespace kubemetrics
