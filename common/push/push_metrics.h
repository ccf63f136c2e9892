#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/push/push_exporter.h"
#include "kubemetrics/log.h"
#include "kubemetrics/mutex.h"

namespace kubemetrics::push {

/// The self-metrics of one PushExporter (the kubemetrics_exporter_push_* and
/// kubemetrics_exporter_spool_* families, labelled exporter=<name>), the
/// PushStats mirror of its counters, and its rate-limited warnings. The
/// facade owns it; the batcher, the sender pool and the spool replayer
/// record into it by reference.
///
/// Thread-safe: prometheus-cpp metrics are, the mirrors are atomics, and
/// the log limiter and the corrupt-record watermark have their own mutexes
/// (leaves: nothing else is locked under them).
///
/// Publishing order: every add*() increments the registry series first and
/// then its mirror with release order, and stats() reads the mirrors with
/// acquire order, so a reader that sees a count in stats() also sees it in
/// the registry. A caller that publishes a gauge and a counter about one
/// event sets the gauge first, for the same reason.
class PushMetrics {
 public:
  /// Why samples were lost for good: the `reason` label.
  enum class Drop { kRejected, kInvalid, kEncodeError, kSpoolFull, kSpoolError, kNoSpool };

  /// Registers (or, for a second exporter, joins) the families. Throws what
  /// prometheus-cpp throws on a name clash.
  PushMetrics(prometheus::Registry& registry, std::string name);
  ~PushMetrics();

  const std::string& name() const { return name_; }

  void addSent(std::uint64_t samples);
  void addFailed(std::uint64_t samples);
  void addRetried(std::uint64_t samples);
  /// Samples held in the spool because they could not be delivered at once.
  void addSpooled(std::uint64_t samples);
  /// Samples written ahead to the spool before their first attempt (wal).
  void addJournaled(std::uint64_t samples);
  void addDropped(Drop reason, std::uint64_t samples);
  /// One spool append that failed (the payload's fate is counted apart).
  void addSpoolWriteError();
  /// Samples read back from a batch journal a crashed run left.
  void addRecovered(std::uint64_t samples);
  /// One batch journal file that could not be created or written.
  void addJournalWriteError();
  /// One encoded payload: its bytes before and after compression.
  void addEncoded(const EncodedPayload& payload);
  /// One delivery attempt that took `seconds` (by the exporter's clock).
  void addRequest(DeliveryOutcome::Kind outcome, double seconds);
  /// The spool's own count of corrupt records since open (monotonic); the
  /// counter is advanced by what is new.
  void noteCorrupt(std::uint64_t total);

  void setQueued(std::size_t payloads);
  void setPending(std::size_t samples);
  void setSpool(std::uint64_t bytes, std::uint64_t records);
  void setSecondsToEmpty(double seconds);
  void setFlushMode(bool on);

  /// The counters; spool_records and spool_bytes are left 0 (the spool's).
  PushStats stats() const;

  /// A warning line for `name`, at most one per `key` every 30 s (real
  /// time: LogLimiter's), saying how many similar ones were held back.
  void warn(std::string_view key, const std::string& message);

 private:
  struct Series;

  const std::string name_;
  const std::unique_ptr<Series> series_;
  LogLimiter log_limiter_;
  Mutex corrupt_mu_;
  std::uint64_t last_corrupt_ KM_GUARDED_BY(corrupt_mu_) = 0;
  std::atomic<std::uint64_t> sent_{0}, failed_{0}, retried_{0}, dropped_{0}, spooled_{0},
      journaled_{0}, requests_{0}, corrupt_{0}, spool_write_errors_{0}, recovered_{0},
      journal_write_errors_{0};
};

}  // namespace kubemetrics::push
