#include "common/push/spool_replayer.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

namespace kubemetrics::push {

Result<std::unique_ptr<SpoolReplayer>> SpoolReplayer::open(const PushConfig& config,
                                                           PushMetrics& metrics, Backoff& backoff,
                                                           const Clock& clock) {
  std::unique_ptr<Spool> spool;
  if (config.spool.enabled) {
    Spool::Options options;
    options.dir = config.spool.dir + "/" + metrics.name();
    options.max_bytes = config.spool.max_bytes;
    options.segment_bytes = config.spool.segment_bytes;
    options.sync = config.spool.sync;
    options.owner = metrics.name();
    auto opened = Spool::open(std::move(options));
    if (!opened) return tl::unexpected(opened.error());
    spool = std::move(*opened);
  }
  const bool write_ahead = config.spool.mode == SpoolConfig::Mode::kWal;
  std::unique_ptr<SpoolReplayer> replayer(
      new SpoolReplayer(std::move(spool), write_ahead, metrics, backoff, clock));
  // Records skipped by the scan at open count from the start.
  replayer->noteCorrupt();
  replayer->refreshGauges();
  return replayer;
}

SpoolReplayer::SpoolReplayer(std::unique_ptr<Spool> spool, bool write_ahead, PushMetrics& metrics,
                             Backoff& backoff, const Clock& clock)
    : spool_(std::move(spool)),
      write_ahead_(write_ahead && spool_ != nullptr),
      metrics_(metrics),
      retry_(backoff),
      clock_(clock),
      backoff_(backoff.initial()) {}

void SpoolReplayer::spoolOrDrop(const EncodedPayload& payload, std::string_view why) {
  if (!spool_) {
    metrics_.addDropped(PushMetrics::Drop::kNoSpool, payload.samples);
    metrics_.warn("no_spool", "payload of " + std::to_string(payload.samples) +
                                  " samples dropped (" + std::string(why) +
                                  ") and there is no spool (exporters.spool.enabled: false)");
    return;
  }
  if (!append(payload)) {
    metrics_.addDropped(PushMetrics::Drop::kSpoolError, payload.samples);
    metrics_.warn("spool_error", "payload of " + std::to_string(payload.samples) +
                                     " samples dropped (" + std::string(why) +
                                     "): the spool cannot be written");
  }
}

bool SpoolReplayer::append(const EncodedPayload& payload) {
  auto loss = spool_->append(payload);
  if (!loss) {
    metrics_.addSpoolWriteError();
    metrics_.warn("spool_write", loss.error().message());
    return false;
  }
  if (loss->dropped_samples > 0) {
    metrics_.addDropped(PushMetrics::Drop::kSpoolFull, loss->dropped_samples);
    metrics_.warn("spool_full", "spool is full (exporters.spool.max_bytes): dropped the oldest " +
                                    std::to_string(loss->dropped_samples) + " samples");
  }
  // The gauges first: whoever sees the samples counted as spooled also
  // sees the spool's size that holds them.
  refreshGauges();
  if (!write_ahead_) {
    // A record too large for the cap is the one counted above.
    if (loss->stored) metrics_.addSpooled(payload.samples);
    return true;
  }
  std::uint64_t held_back = 0;
  {
    MutexLock lock(mu_);
    // The drop-oldest for the cap takes held-back records first; a record
    // too large for the cap never entered the spool.
    releaseOldestLocked(loss->dropped_samples - (loss->stored ? 0 : payload.samples));
    if (loss->stored && backend_failing_) held_back = holdBackAllLocked();
  }
  if (loss->stored) metrics_.addJournaled(payload.samples);
  if (held_back > 0) metrics_.addSpooled(held_back);
  return true;
}

std::uint64_t SpoolReplayer::holdBackAllLocked() {
  const std::uint64_t in_spool = spool_->samples();
  if (in_spool <= held_back_) return 0;
  const std::uint64_t newly = in_spool - held_back_;
  held_back_ = in_spool;
  return newly;
}

void SpoolReplayer::releaseOldestLocked(std::uint64_t samples) {
  held_back_ -= std::min(held_back_, samples);
  // A record popped after the cap dropped it would be released twice:
  // held-back records are in the spool, never more.
  held_back_ = std::min(held_back_, spool_->samples());
}

void SpoolReplayer::backendUp() {
  MutexLock lock(mu_);
  not_before_ = clock_.now();
  backoff_ = retry_.initial();
}

void SpoolReplayer::backendDown(std::chrono::milliseconds backoff) {
  MutexLock lock(mu_);
  // The backend is down: no point replaying before the next backoff.
  not_before_ = std::max(not_before_, clock_.now() + backoff);
}

bool SpoolReplayer::dueLocked(SteadyClock::time_point now) const {
  return spool_ && !replaying_ && now >= not_before_ && spool_->records() > 0;
}

bool SpoolReplayer::tryBeginReplay() {
  MutexLock lock(mu_);
  if (!dueLocked(clock_.now())) return false;
  replaying_ = true;
  return true;
}

bool SpoolReplayer::replayDue() const {
  MutexLock lock(mu_);
  return dueLocked(clock_.now());
}

SteadyClock::time_point SpoolReplayer::nextReplayAfterNow() const {
  MutexLock lock(mu_);
  if (!spool_ || not_before_ <= clock_.now()) return SteadyClock::time_point::max();
  return not_before_;
}

void SpoolReplayer::replayOne(const Attempt& attempt) {
  std::optional<Spool::Record> record = spool_->peekOldest();
  noteCorrupt();
  if (record) {
    bool repeat = true;  // an overflow spool holds only payloads sent before
    if (write_ahead_) {
      MutexLock lock(mu_);
      repeat = failed_id_ == record->id;
    }
    if (repeat) metrics_.addRetried(record->payload.samples);
    const DeliveryOutcome outcome = attempt(record->payload);
    std::uint64_t held_back = 0;
    if (outcome.kind != DeliveryOutcome::Kind::kRetry) {
      spool_->pop(record->id);
      MutexLock lock(mu_);
      backoff_ = retry_.initial();
      replayed_bytes_ += record->payload.body.size();
      if (write_ahead_) {
        backend_failing_ = false;
        releaseOldestLocked(record->payload.samples);
      }
    } else {
      MutexLock lock(mu_);
      not_before_ = clock_.now() + retry_.waitFor(backoff_, outcome);
      backoff_ = retry_.next(backoff_);
      failed_id_ = record->id;
      if (write_ahead_) {
        backend_failing_ = true;
        held_back = holdBackAllLocked();
      }
    }
    refreshGauges();
    if (held_back > 0) metrics_.addSpooled(held_back);
  } else {
    // Counted records but none readable (every one skipped as corrupt just
    // now): wait a backoff rather than claim the next replay at once, so
    // no accounting slip can make a sender spin.
    MutexLock lock(mu_);
    not_before_ = clock_.now() + backoff_;
    backoff_ = retry_.next(backoff_);
  }
  MutexLock lock(mu_);
  replaying_ = false;
}

bool SpoolReplayer::replaying() const {
  MutexLock lock(mu_);
  return replaying_;
}

bool SpoolReplayer::idle() const {
  MutexLock lock(mu_);
  return !replaying_ && (!spool_ || spool_->records() == 0);
}

std::uint64_t SpoolReplayer::records() const { return spool_ ? spool_->records() : 0; }
std::uint64_t SpoolReplayer::bytes() const { return spool_ ? spool_->bytes() : 0; }

void SpoolReplayer::refreshGauges() {
  if (!spool_) return;
  const std::uint64_t bytes = spool_->bytes();
  metrics_.setSpool(bytes, spool_->records());
  metrics_.setSecondsToEmpty(secondsToEmpty(bytes));
}

double SpoolReplayer::secondsToEmpty(std::uint64_t bytes) {
  MutexLock lock(mu_);
  const SteadyClock::time_point now = clock_.now();
  // A point at most once a second (the batcher's tick), the last 10 s kept.
  if (rate_points_.empty() || now - rate_points_.back().first >= std::chrono::seconds(1)) {
    rate_points_.emplace_back(now, replayed_bytes_);
  }
  while (rate_points_.size() > 2 && now - rate_points_.front().first > kRateWindow) {
    rate_points_.pop_front();
  }
  if (bytes == 0) return 0;
  const auto& [since, replayed_then] = rate_points_.front();
  const double seconds = std::chrono::duration<double>(now - since).count();
  const double rate =
      seconds > 0 ? static_cast<double>(replayed_bytes_ - replayed_then) / seconds : 0;
  if (rate <= 0) return std::numeric_limits<double>::infinity();
  return static_cast<double>(bytes) / rate;
}

void SpoolReplayer::noteCorrupt() {
  if (spool_) metrics_.noteCorrupt(spool_->corruptRecords());
}

}  // namespace kubemetrics::push
