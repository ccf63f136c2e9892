#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/push/backoff.h"
#include "common/push/push_exporter.h"
#include "common/push/push_metrics.h"
#include "common/push/spool.h"
#include "kubemetrics/clock.h"
#include "kubemetrics/mutex.h"
#include "kubemetrics/result.h"

namespace kubemetrics::push {

/// The disk side of one PushExporter: writes payloads to the Spool, every
/// one (spool.mode: wal, the write-ahead log) or those the sender pool
/// cannot keep (overflow: queue full, retries exhausted, left at shutdown),
/// and replays them oldest first. It has no thread of its own: an
/// idle sender thread claims a due replay (tryBeginReplay) and runs
/// replayOne() with its transport. Without a spool (exporters.spool.enabled:
/// false) what would be written is dropped and counted (no_spool), and no
/// replay is ever due.
///
/// Owns the spool (the on-disk queue; Spool locks itself) and the replay
/// schedule: when the next replay may start, its backoff, and whether one
/// is running (one at a time, so records go out in order).
///
/// Thread-safe: the schedule is under mu_. Lock order: the sender pool
/// calls the queries and tryBeginReplay() with its own mutex held, so this
/// class never calls out while holding mu_, except into the Spool, whose
/// mutex is always the last taken.
class SpoolReplayer {
 public:
  /// One delivery attempt of `payload`, timed and counted by the caller.
  using Attempt = std::function<DeliveryOutcome(const EncodedPayload&)>;

  /// Opens the spool under config.spool.dir/<metrics.name()> (scanning
  /// what a previous run left: it replays first), or none when disabled.
  /// kUnavailable when the directory cannot be created or read.
  static Result<std::unique_ptr<SpoolReplayer>> open(const PushConfig& config, PushMetrics& metrics,
                                                     Backoff& backoff, const Clock& clock);

  /// Appends `payload` to the spool (drop-oldest at max_bytes, counted), or
  /// counts it dropped when there is no spool or the write fails. `why` is
  /// for the log line. Any thread; file I/O happens in the caller's thread.
  void spoolOrDrop(const EncodedPayload& payload, std::string_view why);
  /// Appends `payload` to the spool (there must be one): true when its fate
  /// is settled there (stored, or dropped for max_bytes and counted); false
  /// when the write failed (counted as a spool write error, warned), the
  /// payload still the caller's. Counted as spooled in overflow mode; in
  /// wal mode as journaled, and as spooled too while the backend fails.
  bool append(const EncodedPayload& payload);

  /// A live payload was delivered: the backend answers again, so replay at
  /// once, from the initial backoff.
  void backendUp();
  /// A live payload ran out of retries after backing off `backoff`: no
  /// replay before that long from now.
  void backendDown(std::chrono::milliseconds backoff);

  /// Claims the replay if one is due now: there is a spool with records,
  /// no replay is running, and the schedule allows it. The claimer must
  /// call replayOne() next.
  bool tryBeginReplay();
  /// Whether tryBeginReplay() would succeed now (for a sleeper's wake-up
  /// condition).
  bool replayDue() const;
  /// When the schedule next allows a replay if that is later than now,
  /// else SteadyClock::time_point::max() (nothing to wake up for).
  SteadyClock::time_point nextReplayAfterNow() const;
  /// Sends the oldest record once through `attempt` and ends the claim.
  /// Delivered or refused for good: popped, backoff reset. Retry: kept, and
  /// the next replay backs off (Retry-After honoured).
  void replayOne(const Attempt& attempt);

  /// There is a spool (exporters.spool.enabled).
  bool enabled() const { return spool_ != nullptr; }
  /// There is a spool and every payload goes through it (spool.mode: wal).
  bool writeAhead() const { return write_ahead_; }
  bool replaying() const;
  /// No replay running and nothing spooled. When false, a new payload must
  /// go behind the spool to keep the order.
  bool idle() const;
  std::uint64_t records() const;
  std::uint64_t bytes() const;
  /// Sets the spool gauges from the spool, time-to-empty included (at
  /// the rate replays delivered over the last 10 s of the clock).
  void refreshGauges();

 private:
  SpoolReplayer(std::unique_ptr<Spool> spool, bool write_ahead, PushMetrics& metrics,
                Backoff& backoff, const Clock& clock);
  bool dueLocked(SteadyClock::time_point now) const KM_REQUIRES(mu_);
  // Wal mode: every record in the spool is held back now; returns the
  // samples newly so (to count as spooled once mu_ is released).
  std::uint64_t holdBackAllLocked() KM_REQUIRES(mu_);
  // Wal mode: `samples` of the oldest records left the spool.
  void releaseOldestLocked(std::uint64_t samples) KM_REQUIRES(mu_);
  double secondsToEmpty(std::uint64_t bytes);
  static constexpr std::chrono::seconds kRateWindow{10};
  void noteCorrupt();

  const std::unique_ptr<Spool> spool_;  // null without a spool; set at open
  const bool write_ahead_;
  PushMetrics& metrics_;
  Backoff& retry_;  // the schedule; backoff_ is where replays are on it
  const Clock& clock_;

  mutable Mutex mu_;
  bool replaying_ KM_GUARDED_BY(mu_) = false;
  // The epoch at start: a restart replays what is left at once.
  SteadyClock::time_point not_before_ KM_GUARDED_BY(mu_);
  std::chrono::milliseconds backoff_ KM_GUARDED_BY(mu_);
  // The record whose last attempt failed: sending it again is a retry
  // (in wal mode a record's first attempt is its first send).
  std::uint64_t failed_id_ KM_GUARDED_BY(mu_) = 0;
  // Wal mode, where every record is in the spool before it is sent:
  // "spooled" counts what could not be delivered at once. The last attempt
  // failed (until one succeeds): what is in the spool now, and what is
  // appended meanwhile, is held back. held_back_ is the samples of the
  // oldest records counted so; a FIFO holds them back oldest first, so they
  // are always its oldest, and leave it first.
  bool backend_failing_ KM_GUARDED_BY(mu_) = false;
  std::uint64_t held_back_ KM_GUARDED_BY(mu_) = 0;
  // Bytes replayed so far, and (time, that count) about once a second over
  // the last kRateWindow: the delivery rate behind time-to-empty.
  std::uint64_t replayed_bytes_ KM_GUARDED_BY(mu_) = 0;
  std::deque<std::pair<SteadyClock::time_point, std::uint64_t>> rate_points_ KM_GUARDED_BY(mu_);
};

}  // namespace kubemetrics::push
