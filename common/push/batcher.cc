#include "common/push/batcher.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <utility>

namespace kubemetrics::push {
namespace {

// The timer wakes at least this often (the clock's time) to tick.
constexpr auto kTick = std::chrono::seconds(1);

}  // namespace

Batcher::Batcher(const PushConfig::Batch& config, PayloadEncoderPtr encoder, PushMetrics& metrics,
                 const Clock& clock, Sink sink, std::function<void()> tick, BatchJournal* journal)
    : config_(config),
      encoder_(std::move(encoder)),
      metrics_(metrics),
      clock_(clock),
      sink_(std::move(sink)),
      tick_(std::move(tick)),
      journal_(journal),
      max_wait_(config.max_wait) {}

Batcher::~Batcher() { close(); }

void Batcher::start() {
  {
    MutexLock handover(handover_mu_);
    recoverJournal();
  }
  timer_ = std::thread([this] { timerLoop(); });
}

// The samples a killed run had not cut yet: newer than everything it
// spooled, older than anything this run adds, so they go first.
void Batcher::recoverJournal() {
  if (!journal_) return;
  for (const std::uint64_t seq : journal_->leftovers()) {
    BatchJournal::Leftover left = journal_->read(seq);
    if (left.torn) {
      metrics_.warn("journal", "batch journal " + std::to_string(seq) +
                                   " ends in a torn record (the previous run died while "
                                   "writing it); its complete records are sent");
    }
    metrics_.addRecovered(left.samples.size());
    for (std::size_t at = 0; at < left.samples.size(); at += config_.max_samples) {
      const std::size_t end = std::min(left.samples.size(), at + config_.max_samples);
      Cut cut{{left.samples.begin() + static_cast<std::ptrdiff_t>(at),
               left.samples.begin() + static_cast<std::ptrdiff_t>(end)},
              0};
      {
        ClockLock lock(mu_);
        ++handing_over_;
      }
      encodeAndHandOver(std::move(cut));
    }
    journal_->release(seq);
  }
}

bool Batcher::add(const SampleBatch& batch) {
  MutexLock handover(handover_mu_);
  std::vector<Cut> ready;
  {
    ClockLock lock(mu_);
    if (closed_) return false;
    const std::span<const Sample> samples = batch.samples;
    std::size_t unrecorded = 0;  // samples before this are in the journal
    for (std::size_t i = 0; i < samples.size(); ++i) {
      const Sample& sample = samples[i];
      if (pending_.empty()) pending_since_ = clock_.now();
      pending_.push_back(sample);
      pending_bytes_ += encoder_->estimateBytes(sample);
      if (pending_.size() >= config_.max_samples || pending_bytes_ >= config_.max_bytes) {
        if (journal_) journal_->record(samples.subspan(unrecorded, i + 1 - unrecorded));
        unrecorded = i + 1;
        ready.push_back(takeLocked());
      }
    }
    if (journal_) journal_->record(samples.subspan(unrecorded));
    if (!pending_.empty()) cv_.notify_all();  // the timer starts counting max_wait
  }
  for (Cut& cut : ready) encodeAndHandOver(std::move(cut));
  return true;
}

void Batcher::flush() {
  MutexLock handover(handover_mu_);
  Cut cut;
  {
    ClockLock lock(mu_);
    if (pending_.empty()) return;
    cut = takeLocked();
  }
  encodeAndHandOver(std::move(cut));
}

void Batcher::close() {
  {
    ClockLock lock(mu_);
    if (closed_) return;
    closed_ = true;
    cv_.notify_all();
  }
  if (timer_.joinable()) timer_.join();
  flush();
}

bool Batcher::idle() const {
  ClockLock lock(mu_);
  return pending_.empty() && handing_over_ == 0;
}

Batcher::Cut Batcher::takeLocked() {
  Cut cut{std::move(pending_), journal_ ? journal_->cut() : 0};
  pending_ = {};
  pending_bytes_ = 0;
  ++handing_over_;
  return cut;
}

// Encodes one cut batch and hands it to the sink; its journal file goes
// once the sink has the payload (on disk, in wal mode) or it was dropped.
void Batcher::encodeAndHandOver(Cut cut) {
  std::size_t invalid = 0;
  Result<EncodedPayload> encoded = makeError(ErrorCode::kInternal, "not encoded");
  try {
    encoded = encoder_->encode(cut.samples, &invalid);
  } catch (const std::exception& e) {
    encoded = makeError(ErrorCode::kInternal, std::string("encoder threw: ") + e.what());
  }
  metrics_.addDropped(PushMetrics::Drop::kInvalid, invalid);
  if (!encoded) {
    metrics_.addDropped(PushMetrics::Drop::kEncodeError, cut.samples.size() - invalid);
    metrics_.warn("encode", "cannot encode a batch of " + std::to_string(cut.samples.size()) +
                                " samples, dropped: " + encoded.error().message());
  } else {
    cut.samples.clear();
    EncodedPayload& payload = *encoded;
    if (payload.samples > 0) {
      if (payload.content_encoding.empty()) {
        payload.content_encoding = std::string(encoder_->contentEncoding());
      }
      metrics_.addEncoded(payload);
      sink_(std::move(payload));
    }
  }
  if (journal_) journal_->release(cut.journal_seq);
  ClockLock lock(mu_);
  --handing_over_;
}

void Batcher::shortenMaxWait(std::chrono::milliseconds wait) {
  ClockLock lock(mu_);
  if (wait >= max_wait_) return;
  max_wait_ = wait;
  cv_.notify_all();  // the pending batch may be due now
}

void Batcher::timerLoop() {
  ClockLock lock(mu_);
  while (!closed_) {
    const auto now = clock_.now();
    if (!pending_.empty() && now - pending_since_ >= max_wait_) {
      // Cutting takes handover_mu_ first (the lock order); the batch may
      // have been cut meanwhile by add(), which is as good.
      lock.unlock();
      {
        MutexLock handover(handover_mu_);
        std::optional<Cut> cut;
        {
          ClockLock relock(mu_);
          if (!pending_.empty()) cut = takeLocked();
        }
        if (cut) encodeAndHandOver(std::move(*cut));
      }
      lock.lock();
      continue;
    }
    Deadline wake = now + kTick;
    if (!pending_.empty()) wake = std::min(wake, pending_since_ + max_wait_);
    metrics_.setPending(pending_.size());
    lock.unlock();
    if (tick_) tick_();
    lock.lock();
    if (closed_) break;
    // Also woken by a batch that starts now and is due before `wake`.
    lock.waitUntil(clock_, cv_, wake, [this, wake]() KM_REQUIRES(mu_) {
      return closed_ || (!pending_.empty() && pending_since_ + max_wait_ < wake);
    });
  }
}

}  // namespace kubemetrics::push
