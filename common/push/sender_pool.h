#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <string_view>
#include <thread>
#include <vector>

#include "common/push/backoff.h"
#include "common/push/clock_lock.h"
#include "common/push/push_exporter.h"
#include "common/push/push_metrics.h"
#include "common/push/spool_replayer.h"
#include "kubemetrics/clock.h"
#include "kubemetrics/deadline.h"
#include "kubemetrics/mutex.h"

namespace kubemetrics::push {

/// The delivery side of one PushExporter: max_in_flight sender threads,
/// each with its own Transport.
///
/// Overflow mode (spool.mode: overflow, or no spool): the senders take
/// encoded payloads from a bounded queue and deliver them, retrying with
/// backoff up to retry.max_attempts. A payload that finds the queue full,
/// or runs out of retries, goes to the SpoolReplayer, and with it every
/// payload queued behind it; while the spool holds anything, new payloads
/// go behind it too (FIFO on disk), so a receiver sees each series in time
/// order. A sender with nothing queued replays the spool when the replayer
/// says a replay is due (never while draining). Payloads already in flight
/// on other senders when one goes to the spool may still arrive before it:
/// with max_in_flight > 1 order holds between spool and queue, not between
/// concurrent requests.
///
/// Wal mode: every payload is appended to the spool first and the senders
/// only replay it, one record at a time, so order holds whatever
/// max_in_flight is, and a record leaves the disk only once the backend
/// acknowledged it. The queue then holds only payloads the disk refused
/// (held in memory, behind the spool, at most queue_capacity: beyond, the
/// oldest is dropped and counted); they move to the spool once a write
/// succeeds again (retried after a backoff), or are sent live when the
/// spool is empty. Draining goes on replaying until the deadline or until
/// the backend stops answering; what is left stays on disk.
///
/// A payload the receiver refuses because of some of its samples (400
/// "out of order sample", "too old", a duplicate timestamp) is sent again
/// in halves, and a refused half in halves again, down to single series,
/// so that only the series the receiver refuses are dropped (counted as
/// rejected) and the rest of the payload is delivered; after
/// kMaxSplitRequests requests for one payload a refused part is dropped
/// whole instead of split.
///
/// Owns the queue of encoded payloads, the transports and the sender
/// threads.
///
/// Thread-safe: submit() (the batcher's callers and timer), the senders and
/// drain() share the queue and the lifecycle flags under mu_; network I/O,
/// backoff sleeps (by the clock) and spool writes happen with mu_ released.
/// Lock order: order_mu_, mu_, then the replayer's, then the spool's.
class SenderPool {
 public:
  /// Takes one transport per sender thread (config.max_in_flight of them).
  /// `split` (may be empty) breaks up a payload whose receiver refused some
  /// of its samples, so that only the series it refuses are dropped.
  SenderPool(const PushConfig& config, std::vector<TransportPtr> transports,
             SpoolReplayer& replayer, Backoff& backoff, PushMetrics& metrics, const Clock& clock,
             PayloadSplitter split = {});
  /// Stops and joins the senders if drain() did not (what is queued then
  /// is lost: the facade always drains first).
  ~SenderPool();
  SenderPool(const SenderPool&) = delete;
  SenderPool& operator=(const SenderPool&) = delete;

  /// Starts the sender threads. Once.
  void start();
  /// Overflow mode: queues `payload` for a sender, or hands it to the spool
  /// when the queue is full, the spool holds anything or the senders have
  /// stopped. Wal mode: appends it to the spool (a sender replays it from
  /// there), or holds it in memory while the spool cannot be written.
  /// Never waits for the network.
  void submit(EncodedPayload&& payload);
  /// Wal mode: moves the payloads held in memory to the spool if the disk
  /// backoff allows (the batcher's timer calls it, so writing resumes when
  /// space returns even without new payloads). Any thread.
  void retryHeld();
  /// Shutdown: no more replays, attempts end by `deadline` (a retry that
  /// would sleep past it gives up), and the senders work through the queue
  /// until it is empty or `deadline` (by the clock) has passed; then
  /// cancels the requests still in flight (their payloads are spooled),
  /// stops and joins the senders and returns what no sender took. Once.
  std::deque<EncodedPayload> drain(Deadline deadline);
  /// Nothing queued or in flight.
  bool idle() const;
  /// No spool and the queue at least half full: payloads submitted now may
  /// be dropped (Exporter::backlogged).
  bool backlogged() const;
  /// The node goes away soon: live payloads are retried without a limit of
  /// attempts instead of being spooled (overflow mode), and a sender asleep
  /// in a backoff longer than the (lowered) cap wakes at the cap. Replays
  /// are due at once. Any thread; once.
  void enterFlushMode();

 private:
  enum class Held { kSpooled, kWriteFailed, kInFlight };
  void writeAhead(EncodedPayload&& payload) KM_REQUIRES(order_mu_);
  bool toDisk(const EncodedPayload* payload) KM_REQUIRES(order_mu_);
  Held spoolHeld() KM_REQUIRES(order_mu_);
  void diskWritable(bool writable) KM_REQUIRES(order_mu_);
  void hold(EncodedPayload&& payload);
  bool queueMayGo() const KM_REQUIRES(mu_);
  bool replayMayStart() const KM_REQUIRES(mu_);
  bool drained() const KM_REQUIRES(mu_);
  bool flushing() const;
  void senderLoop(Transport& transport);
  void deliverLive(Transport& transport, EncodedPayload& payload);
  // Where `payload` stands against the queued payloads.
  enum class Age { kNewest, kOldest };
  void spoolInOrder(const EncodedPayload& payload, std::string_view why, Age age)
      KM_REQUIRES(order_mu_);
  DeliveryOutcome attempt(Transport& transport, const EncodedPayload& payload);
  DeliveryOutcome send(Transport& transport, const EncodedPayload& payload);
  void count(const EncodedPayload& payload, const DeliveryOutcome& outcome);
  DeliveryOutcome deliverInParts(Transport& transport, std::vector<EncodedPayload> parts);
  bool sleepBeforeRetry(std::chrono::milliseconds wait);
  void stopAndJoin();

  const std::chrono::milliseconds timeout_;
  const std::size_t queue_capacity_;
  const int max_attempts_;
  const std::vector<TransportPtr> transports_;
  SpoolReplayer& replayer_;
  Backoff& retry_;
  PushMetrics& metrics_;
  const Clock& clock_;
  const PayloadSplitter split_;

  // Held from the choice "queue or spool" to the end of the spool writes it
  // implies, so no payload overtakes another on its way to the spool.
  Mutex order_mu_;
  // Wal mode: no spool write before this (a failed one backs off).
  SteadyClock::time_point disk_retry_at_ KM_GUARDED_BY(order_mu_);
  std::chrono::milliseconds disk_backoff_ KM_GUARDED_BY(order_mu_);
  mutable ClockMutex mu_;
  std::condition_variable cv_;  // queue, in_flight_, the flags, a replay ended
  std::deque<EncodedPayload> queue_ KM_GUARDED_BY(mu_);
  int in_flight_ KM_GUARDED_BY(mu_) = 0;      // live payloads being delivered
  bool draining_ KM_GUARDED_BY(mu_) = false;  // shutdown: finish the queue, no replay
  bool flushing_ KM_GUARDED_BY(mu_) = false;  // the node goes away: no spooling, short waits
  bool stop_ KM_GUARDED_BY(mu_) = false;      // threads exit
  Deadline shutdown_deadline_ KM_GUARDED_BY(mu_);

  std::vector<std::thread> senders_;  // started and joined by the owner's thread
};

}  // namespace kubemetrics::push
