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
      appends_(encoder_->appends()),
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
    metrics_.addRecovered(left.samples.size() + left.encoded_samples);
    std::vector<Cut> cuts;
    for (std::size_t at = 0; at < left.samples.size(); at += config_.max_samples) {
      const std::size_t end = std::min(left.samples.size(), at + config_.max_samples);
      Cut& cut = cuts.emplace_back();
      cut.samples.assign(left.samples.begin() + static_cast<std::ptrdiff_t>(at),
                         left.samples.begin() + static_cast<std::ptrdiff_t>(end));
    }
    if (left.encoded_samples > 0) {
      Cut& cut = cuts.emplace_back();
      cut.encoded = std::move(left.encoded);
      cut.encoded_samples = left.encoded_samples;
    }
    for (Cut& cut : cuts) {
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
  std::span<const Sample> rest = batch.samples;
  bool first = true;
  // Each batch is handed over as soon as it is cut, before the next is
  // filled: its buffer then comes back for the next (spare_encoded_).
  do {
    std::optional<Cut> cut;
    {
      ClockLock lock(mu_);
      if (first && closed_) return false;  // once taken, a batch goes in whole
      first = false;
      rest = appends_ ? appendLocked(rest, cut) : addSamplesLocked(rest, cut);
      if (pendingLocked()) cv_.notify_all();  // the timer starts counting max_wait
    }
    if (cut) encodeAndHandOver(std::move(*cut));
  } while (!rest.empty());
  return true;
}

std::size_t Batcher::fillLocked(std::span<const Sample> samples, bool& full) {
  if (pending_count_ == 0 && !samples.empty()) pending_since_ = clock_.now();
  std::size_t take = 0;
  full = false;
  while (take < samples.size() && !full) {
    pending_bytes_ += encoder_->estimateBytes(samples[take++]);
    full = pending_count_ + take >= config_.max_samples || pending_bytes_ >= config_.max_bytes;
  }
  return take;
}

std::span<const Sample> Batcher::addSamplesLocked(std::span<const Sample> samples,
                                                  std::optional<Cut>& cut) {
  bool full = false;
  const std::size_t take = fillLocked(samples, full);
  pending_.insert(pending_.end(), samples.begin(),
                  samples.begin() + static_cast<std::ptrdiff_t>(take));
  pending_count_ += take;
  if (journal_) journal_->record(samples.first(take));
  if (full) cut = takeLocked();
  return samples.subspan(take);
}

std::span<const Sample> Batcher::appendLocked(std::span<const Sample> samples,
                                              std::optional<Cut>& cut) {
  if (samples.empty()) return {};
  // One append() takes all of this send()'s share of the batch, so the
  // encoder groups its series as encode() would.
  bool full = false;
  const std::size_t take = fillLocked(samples, full);
  const std::size_t encoded_before = pending_encoded_.size();
  std::size_t dropped = 0;
  encoder_->append(samples.first(take), pending_encoded_, &dropped);
  metrics_.addDropped(PushMetrics::Drop::kInvalid, dropped);
  pending_count_ += take;
  pending_carried_ += take - dropped;
  if (journal_) {
    journal_->recordEncoded(std::string_view(pending_encoded_).substr(encoded_before),
                            take - dropped);
  }
  if (full) cut = takeLocked();
  return samples.subspan(take);
}

void Batcher::flush() {
  MutexLock handover(handover_mu_);
  Cut cut;
  {
    ClockLock lock(mu_);
    if (!pendingLocked()) return;
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
  return !pendingLocked() && handing_over_ == 0;
}

Batcher::Cut Batcher::takeLocked() {
  Cut cut{std::move(pending_), std::move(pending_encoded_), pending_carried_,
          journal_ ? journal_->cut() : 0};
  pending_ = {};
  pending_encoded_ = std::exchange(spare_encoded_, {});
  pending_count_ = 0;
  pending_carried_ = 0;
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
    if (cut.samples.empty()) {
      // What an appending encoder wrote, possibly in a previous run (a
      // journal's leftover): compress only. Nothing to encode when this
      // encoder does not append (the exporter's format changed): dropped.
      if (cut.encoded_samples == 0) {
        encoded = EncodedPayload{};
      } else if (appends_) {
        encoded = encoder_->compress(cut.encoded, cut.encoded_samples);
      } else {
        encoded = makeError(ErrorCode::kInternal,
                            "encoded samples left by an earlier run, and this exporter's "
                            "encoder cannot take them");
      }
    } else {
      encoded = encoder_->encode(cut.samples, &invalid);
    }
  } catch (const std::exception& e) {
    encoded = makeError(ErrorCode::kInternal, std::string("encoder threw: ") + e.what());
  }
  metrics_.addDropped(PushMetrics::Drop::kInvalid, invalid);
  const std::size_t samples = cut.samples.size() + cut.encoded_samples;
  if (!encoded) {
    metrics_.addDropped(PushMetrics::Drop::kEncodeError, samples - invalid);
    metrics_.warn("encode", "cannot encode a batch of " + std::to_string(samples) +
                                " samples, dropped: " + encoded.error().message());
  } else {
    cut.samples.clear();
    // Its buffer fills the next batch: no new pages, and no growth, per batch.
    cut.encoded.clear();
    spare_encoded_ = std::move(cut.encoded);
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
    if (pendingLocked() && now - pending_since_ >= max_wait_) {
      // Cutting takes handover_mu_ first (the lock order); the batch may
      // have been cut meanwhile by add(), which is as good.
      lock.unlock();
      {
        MutexLock handover(handover_mu_);
        std::optional<Cut> cut;
        {
          ClockLock relock(mu_);
          if (pendingLocked()) cut = takeLocked();
        }
        if (cut) encodeAndHandOver(std::move(*cut));
      }
      lock.lock();
      continue;
    }
    Deadline wake = now + kTick;
    if (pendingLocked()) wake = std::min(wake, pending_since_ + max_wait_);
    metrics_.setPending(pending_count_);
    lock.unlock();
    if (tick_) tick_();
    lock.lock();
    if (closed_) break;
    // Also woken by a batch that starts now and is due before `wake`.
    lock.waitUntil(clock_, cv_, wake, [this, wake]() KM_REQUIRES(mu_) {
      return closed_ || (pendingLocked() && pending_since_ + max_wait_ < wake);
    });
  }
}

}  // namespace kubemetrics::push
