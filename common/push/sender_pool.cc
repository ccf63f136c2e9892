#include "common/push/sender_pool.h"

#include <algorithm>
#include <deque>
#include <exception>
#include <iterator>
#include <string>
#include <utility>

namespace kubemetrics::push {
namespace {

using std::chrono::milliseconds;

// An idle sender looks again at least this often (the clock's time).
constexpr auto kIdleRecheck = std::chrono::seconds(1);
// Requests one refused payload may take to find the series the receiver
// refuses: enough to isolate a few among thousands (two per halving),
// bounded when it refuses them all.
constexpr int kMaxSplitRequests = 64;

}  // namespace

SenderPool::SenderPool(const PushConfig& config, std::vector<TransportPtr> transports,
                       SpoolReplayer& replayer, Backoff& backoff, PushMetrics& metrics,
                       const Clock& clock, PayloadSplitter split)
    : timeout_(config.timeout),
      queue_capacity_(config.queue_capacity),
      max_attempts_(config.retry.max_attempts),
      transports_(std::move(transports)),
      replayer_(replayer),
      retry_(backoff),
      metrics_(metrics),
      clock_(clock),
      split_(std::move(split)),
      disk_backoff_(backoff.initial()) {}

SenderPool::~SenderPool() { stopAndJoin(); }

void SenderPool::start() {
  for (const TransportPtr& transport : transports_) {
    senders_.emplace_back([this, t = transport.get()] { senderLoop(*t); });
  }
}

void SenderPool::submit(EncodedPayload&& payload) {
  MutexLock order(order_mu_);
  if (replayer_.writeAhead()) {
    writeAhead(std::move(payload));
    return;
  }
  bool behind_spool = false;
  {
    ClockLock lock(mu_);
    behind_spool = !replayer_.idle();
    if (!behind_spool && queue_.size() < queue_capacity_ && !stop_) {
      queue_.push_back(std::move(payload));
      metrics_.setQueued(queue_.size());
      cv_.notify_all();
      return;
    }
  }
  spoolInOrder(payload, behind_spool ? "behind_spool" : "queue_full", Age::kNewest);
}

// Spools `payload` and the payloads queued, oldest first: the queued ones
// are older than a new payload (kNewest, from submit) and newer than one a
// sender took from the queue earlier (kOldest, out of retries). So the
// spool replays each series in time order: receivers without an
// out-of-order window (Prometheus, Mimir, AMP) refuse an older sample once
// a newer one arrived. Without a spool only `payload` is dropped; the
// queue stays.
void SenderPool::spoolInOrder(const EncodedPayload& payload, std::string_view why, Age age) {
  std::deque<EncodedPayload> queued;
  if (replayer_.enabled()) {
    ClockLock lock(mu_);
    queued.swap(queue_);
    metrics_.setQueued(0);
  }
  if (age == Age::kOldest) replayer_.spoolOrDrop(payload, why);
  for (const EncodedPayload& waiting : queued) replayer_.spoolOrDrop(waiting, "behind_spool");
  if (age == Age::kNewest) replayer_.spoolOrDrop(payload, why);
}

// Write-ahead: the payload is on disk before anything sends it; a sender
// replays it from there. While the spool cannot be written (disk full, I/O
// errors) payloads wait in memory, behind the spool and in order, and the
// disk is tried again after a backoff, not at every payload.
void SenderPool::writeAhead(EncodedPayload&& payload) {
  if (clock_.now() >= disk_retry_at_ && toDisk(&payload)) return;
  hold(std::move(payload));
}

void SenderPool::retryHeld() {
  MutexLock order(order_mu_);
  if (!replayer_.writeAhead() || clock_.now() < disk_retry_at_) return;
  toDisk(nullptr);
}

// Moves the held payloads to the spool, then appends `payload` (if any)
// behind them, and reschedules the disk: true once all of it is on disk.
// A sender delivering a held payload defers it all (nothing rescheduled).
bool SenderPool::toDisk(const EncodedPayload* payload) {
  switch (spoolHeld()) {
    case Held::kSpooled: {
      const bool written = payload == nullptr || replayer_.append(*payload);
      diskWritable(written);
      return written;
    }
    case Held::kWriteFailed:
      diskWritable(false);
      return false;
    case Held::kInFlight:
      return false;
  }
  return false;
}

// Moves the payloads held in memory to the spool, oldest first. Not while a
// sender is delivering one of them: should that one fail, it must still go
// before the rest.
SenderPool::Held SenderPool::spoolHeld() {
  for (;;) {
    EncodedPayload next;
    {
      ClockLock lock(mu_);
      if (queue_.empty()) return Held::kSpooled;
      if (in_flight_ > 0) return Held::kInFlight;
      next = std::move(queue_.front());
      queue_.pop_front();
      metrics_.setQueued(queue_.size());
    }
    if (!replayer_.append(next)) {
      ClockLock lock(mu_);
      queue_.push_front(std::move(next));
      metrics_.setQueued(queue_.size());
      return Held::kWriteFailed;
    }
  }
}

void SenderPool::diskWritable(bool writable) {
  if (writable) {
    disk_backoff_ = retry_.initial();
    disk_retry_at_ = {};
    ClockLock lock(mu_);
    cv_.notify_all();  // a replay is due
    return;
  }
  disk_retry_at_ = clock_.now() + disk_backoff_;
  disk_backoff_ = retry_.next(disk_backoff_);
}

// Keeps `payload` in memory behind what is held already; beyond
// queue_capacity the oldest held payload is dropped (counted): the memory
// bound while neither the disk nor the backend takes anything.
void SenderPool::hold(EncodedPayload&& payload) {
  ClockLock lock(mu_);
  queue_.push_back(std::move(payload));
  while (queue_.size() > queue_capacity_) {
    metrics_.addDropped(PushMetrics::Drop::kSpoolError, queue_.front().samples);
    metrics_.warn("held_full", "the spool cannot be written and " +
                                   std::to_string(queue_capacity_) +
                                   " payloads wait in memory (queue_capacity): dropped the "
                                   "oldest, " +
                                   std::to_string(queue_.front().samples) + " samples");
    queue_.pop_front();
  }
  metrics_.setQueued(queue_.size());
  cv_.notify_all();
}

bool SenderPool::queueMayGo() const {
  if (queue_.empty()) return false;
  // Overflow mode sends its queue live. In wal mode the queue holds only
  // what the disk refused, newer than the spool: it goes once the spool is
  // empty, one payload at a time (as the spool's records), and not while
  // draining (the stop spools it instead).
  return !replayer_.writeAhead() || (!draining_ && in_flight_ == 0 && replayer_.idle());
}

bool SenderPool::replayMayStart() const {
  // Overflow mode replays nothing while draining (the spool stays for the
  // next run); wal mode goes on replaying until the stop's deadline.
  return !draining_ || replayer_.writeAhead();
}

bool SenderPool::drained() const {
  if (in_flight_ > 0 || replayer_.replaying()) return false;
  if (!replayer_.writeAhead()) return queue_.empty();
  // Wal mode: everything is on disk already; done once the backend takes
  // nothing more now (the spool is empty or backing off).
  return !replayer_.replayDue();
}

std::deque<EncodedPayload> SenderPool::drain(Deadline deadline) {
  {
    ClockLock lock(mu_);
    draining_ = true;
    shutdown_deadline_ = deadline;
    cv_.notify_all();
    // Let the senders work through the queue until it is empty or time is up.
    lock.waitUntil(clock_, cv_, deadline, [this]() KM_REQUIRES(mu_) { return drained(); });
  }
  // Requests still on the wire at the deadline are cut short: their
  // payloads go to the spool now instead of holding the stop up to the
  // request timeout (30 s by default, past any pod's grace period).
  for (const TransportPtr& transport : transports_) transport->cancel();
  stopAndJoin();
  std::deque<EncodedPayload> left;
  ClockLock lock(mu_);
  left.swap(queue_);
  return left;
}

void SenderPool::stopAndJoin() {
  {
    ClockLock lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  for (std::thread& t : senders_) {
    if (t.joinable()) t.join();
  }
}

bool SenderPool::flushing() const {
  ClockLock lock(mu_);
  return flushing_;
}

void SenderPool::enterFlushMode() {
  ClockLock lock(mu_);
  flushing_ = true;
  cv_.notify_all();  // replays are due; sleepers re-time their backoff
}

bool SenderPool::idle() const {
  ClockLock lock(mu_);
  return queue_.empty() && in_flight_ == 0;
}

bool SenderPool::backlogged() const {
  if (replayer_.enabled()) return false;  // the spool takes what the queue cannot
  ClockLock lock(mu_);
  return queue_.size() * 2 >= queue_capacity_;
}

// One delivery attempt of `payload`, counted; a refusal of some of its
// samples goes on in parts.
DeliveryOutcome SenderPool::attempt(Transport& transport, const EncodedPayload& payload) {
  DeliveryOutcome outcome = send(transport, payload);
  if (outcome.kind == DeliveryOutcome::Kind::kDrop && outcome.refused_samples && split_) {
    std::vector<EncodedPayload> parts = split_(payload);
    if (!parts.empty()) {
      metrics_.warn("split", "the backend refused some samples of a payload of " +
                                 std::to_string(payload.samples) + " (" + outcome.message +
                                 "): sending it in parts, to drop only the series it refuses");
      return deliverInParts(transport, std::move(parts));
    }
  }
  count(payload, outcome);
  return outcome;
}

// Sends the parts in order; a part refused for some samples is split
// again in its place. Delivered once every part was delivered or dropped
// (counted); a retry ends it, and the caller retries the whole payload
// (the parts the backend took then come again: at least once).
DeliveryOutcome SenderPool::deliverInParts(Transport& transport,
                                           std::vector<EncodedPayload> parts) {
  std::deque<EncodedPayload> left(std::make_move_iterator(parts.begin()),
                                  std::make_move_iterator(parts.end()));
  int requests = 1;  // the refused whole
  while (!left.empty()) {
    EncodedPayload part = std::move(left.front());
    left.pop_front();
    const DeliveryOutcome outcome = send(transport, part);
    ++requests;
    if (outcome.kind == DeliveryOutcome::Kind::kDrop && outcome.refused_samples &&
        requests < kMaxSplitRequests) {
      std::vector<EncodedPayload> halves = split_(part);
      if (!halves.empty()) {
        for (auto it = halves.rbegin(); it != halves.rend(); ++it) {
          left.push_front(std::move(*it));
        }
        continue;
      }
    }
    count(part, outcome);
    if (outcome.kind == DeliveryOutcome::Kind::kRetry) return outcome;
  }
  return DeliveryOutcome::delivered();
}

// One request, timed; nothing counted but the request.
DeliveryOutcome SenderPool::send(Transport& transport, const EncodedPayload& payload) {
  // The request timeout is a network deadline: real time, whatever the
  // clock (a test clock must not time a socket out).
  Deadline deadline = deadlineIn(timeout_);
  {
    ClockLock lock(mu_);
    if (draining_) deadline = std::min(deadline, shutdown_deadline_);
  }
  const auto began = clock_.now();
  DeliveryOutcome outcome;
  try {
    outcome = transport.deliver(payload, deadline);
  } catch (const std::exception& e) {
    outcome = DeliveryOutcome::retry(std::string("transport threw: ") + e.what());
  }
  metrics_.addRequest(outcome.kind, std::chrono::duration<double>(clock_.now() - began).count());
  return outcome;
}

void SenderPool::count(const EncodedPayload& payload, const DeliveryOutcome& outcome) {
  switch (outcome.kind) {
    case DeliveryOutcome::Kind::kDelivered:
      metrics_.addSent(payload.samples);
      break;
    case DeliveryOutcome::Kind::kRetry:
      metrics_.addFailed(payload.samples);
      metrics_.warn("retry", "delivery failed, will retry: " + outcome.message);
      break;
    case DeliveryOutcome::Kind::kDrop:
      metrics_.addDropped(PushMetrics::Drop::kRejected, payload.samples);
      metrics_.warn("drop", "backend rejected a payload of " + std::to_string(payload.samples) +
                                " samples, dropped: " + outcome.message);
      break;
  }
}

// Sleeps `wait` by the clock unless stopping; false when the sleep was cut
// short or would outlast the shutdown deadline.
bool SenderPool::sleepBeforeRetry(milliseconds wait) {
  ClockLock lock(mu_);
  const Deadline start = clock_.now();
  Deadline until = start + wait;
  if (draining_ && until > shutdown_deadline_) return false;
  const bool was_flushing = flushing_;
  lock.waitUntil(clock_, cv_, until,
                 [&]() KM_REQUIRES(mu_) { return stop_ || flushing_ != was_flushing; });
  if (!stop_ && flushing_ != was_flushing) {
    // Flush mode began during the sleep: wake no later than its cap.
    until = std::min(until, start + retry_.cap());
    lock.waitUntil(clock_, cv_, until, [this]() KM_REQUIRES(mu_) { return stop_; });
  }
  return !stop_;
}

void SenderPool::deliverLive(Transport& transport, EncodedPayload& payload) {
  // In wal mode a payload is sent live only while the spool cannot be
  // written: it keeps trying (the spool would take it no better) until it is
  // delivered or the stop begins, and then goes back to the front.
  const bool held = replayer_.writeAhead();
  milliseconds backoff = retry_.initial();
  for (int n = 1;; ++n) {
    if (n > 1) metrics_.addRetried(payload.samples);
    const DeliveryOutcome outcome = attempt(transport, payload);
    if (outcome.kind == DeliveryOutcome::Kind::kDelivered) {
      replayer_.backendUp();
      return;
    }
    if (outcome.kind == DeliveryOutcome::Kind::kDrop) return;
    const milliseconds wait = retry_.waitFor(backoff, outcome);
    if ((n >= max_attempts_ && !held && !flushing()) || !sleepBeforeRetry(wait)) break;
    backoff = retry_.next(backoff);
  }
  replayer_.backendDown(backoff);
  MutexLock order(order_mu_);
  if (held) {
    ClockLock lock(mu_);
    queue_.push_front(std::move(payload));
    metrics_.setQueued(queue_.size());
    return;
  }
  spoolInOrder(payload, "retries exhausted", Age::kOldest);
}

void SenderPool::senderLoop(Transport& transport) {
  ClockLock lock(mu_);
  for (;;) {
    if (stop_) return;
    if (queueMayGo()) {
      EncodedPayload payload = std::move(queue_.front());
      queue_.pop_front();
      metrics_.setQueued(queue_.size());
      ++in_flight_;
      lock.unlock();
      deliverLive(transport, payload);
      lock.lock();
      --in_flight_;
      cv_.notify_all();
      continue;
    }
    if (replayMayStart() && replayer_.tryBeginReplay()) {
      lock.unlock();
      replayer_.replayOne(
          [this, &transport](const EncodedPayload& p) { return attempt(transport, p); });
      lock.lock();
      cv_.notify_all();  // drain() waits for the replay to end
      continue;
    }
    Deadline wake = clock_.now() + kIdleRecheck;
    if (replayMayStart()) wake = std::min(wake, replayer_.nextReplayAfterNow());
    lock.waitUntil(clock_, cv_, wake, [this]() KM_REQUIRES(mu_) {
      return stop_ || queueMayGo() || (replayMayStart() && replayer_.replayDue());
    });
  }
}

}  // namespace kubemetrics::push
