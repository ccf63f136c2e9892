#include "common/push/sender_pool.h"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

namespace kubemetrics::push {
namespace {

using std::chrono::milliseconds;

// An idle sender looks again at least this often (the clock's time).
constexpr auto kIdleRecheck = std::chrono::seconds(1);

}  // namespace

SenderPool::SenderPool(const PushConfig& config, std::vector<TransportPtr> transports,
                       SpoolReplayer& replayer, Backoff& backoff, PushMetrics& metrics,
                       const Clock& clock)
    : timeout_(config.timeout),
      queue_capacity_(config.queue_capacity),
      max_attempts_(config.retry.max_attempts),
      transports_(std::move(transports)),
      replayer_(replayer),
      retry_(backoff),
      metrics_(metrics),
      clock_(clock) {}

SenderPool::~SenderPool() { stopAndJoin(); }

void SenderPool::start() {
  for (const TransportPtr& transport : transports_) {
    senders_.emplace_back([this, t = transport.get()] { senderLoop(*t); });
  }
}

void SenderPool::submit(EncodedPayload&& payload) {
  MutexLock order(order_mu_);
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

std::deque<EncodedPayload> SenderPool::drain(Deadline deadline) {
  {
    ClockLock lock(mu_);
    draining_ = true;
    shutdown_deadline_ = deadline;
    cv_.notify_all();
    // Let the senders work through the queue until it is empty or time is up.
    lock.waitUntil(clock_, cv_, deadline, [this]() KM_REQUIRES(mu_) {
      return queue_.empty() && in_flight_ == 0 && !replayer_.replaying();
    });
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

bool SenderPool::idle() const {
  ClockLock lock(mu_);
  return queue_.empty() && in_flight_ == 0;
}

DeliveryOutcome SenderPool::attempt(Transport& transport, const EncodedPayload& payload) {
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
  return outcome;
}

// Sleeps `wait` by the clock unless stopping; false when the sleep was cut
// short or would outlast the shutdown deadline.
bool SenderPool::sleepBeforeRetry(milliseconds wait) {
  ClockLock lock(mu_);
  const Deadline until = clock_.now() + wait;
  if (draining_ && until > shutdown_deadline_) return false;
  lock.waitUntil(clock_, cv_, until, [this]() KM_REQUIRES(mu_) { return stop_; });
  return !stop_;
}

void SenderPool::deliverLive(Transport& transport, EncodedPayload& payload) {
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
    if (n >= max_attempts_ || !sleepBeforeRetry(wait)) break;
    backoff = retry_.next(backoff);
  }
  replayer_.backendDown(backoff);
  MutexLock order(order_mu_);
  spoolInOrder(payload, "retries exhausted", Age::kOldest);
}

void SenderPool::senderLoop(Transport& transport) {
  ClockLock lock(mu_);
  for (;;) {
    if (stop_) return;
    if (!queue_.empty()) {
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
    if (!draining_ && replayer_.tryBeginReplay()) {
      lock.unlock();
      replayer_.replayOne(
          [this, &transport](const EncodedPayload& p) { return attempt(transport, p); });
      lock.lock();
      cv_.notify_all();  // drain() waits for the replay to end
      continue;
    }
    Deadline wake = clock_.now() + kIdleRecheck;
    if (!draining_) wake = std::min(wake, replayer_.nextReplayAfterNow());
    lock.waitUntil(clock_, cv_, wake, [this]() KM_REQUIRES(mu_) {
      return stop_ || !queue_.empty() || (!draining_ && replayer_.replayDue());
    });
  }
}

}  // namespace kubemetrics::push
