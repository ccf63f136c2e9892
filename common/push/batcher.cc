#include "common/push/batcher.h"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

namespace kubemetrics::push {
namespace {

// The timer wakes at least this often (the clock's time) to tick.
constexpr auto kTick = std::chrono::seconds(1);

}  // namespace

Batcher::Batcher(const PushConfig::Batch& config, PayloadEncoderPtr encoder, PushMetrics& metrics,
                 const Clock& clock, Sink sink, std::function<void()> tick)
    : config_(config),
      encoder_(std::move(encoder)),
      metrics_(metrics),
      clock_(clock),
      sink_(std::move(sink)),
      tick_(std::move(tick)),
      max_wait_(config.max_wait) {}

Batcher::~Batcher() { close(); }

void Batcher::start() {
  timer_ = std::thread([this] { timerLoop(); });
}

bool Batcher::add(const SampleBatch& batch) {
  std::vector<std::vector<Sample>> ready;
  {
    ClockLock lock(mu_);
    if (closed_) return false;
    for (const Sample& sample : batch.samples) {
      if (pending_.empty()) pending_since_ = clock_.now();
      pending_.push_back(sample);
      pending_bytes_ += encoder_->estimateBytes(sample);
      if (pending_.size() >= config_.max_samples || pending_bytes_ >= config_.max_bytes) {
        ready.push_back(takeLocked());
      }
    }
    if (!pending_.empty()) cv_.notify_all();  // the timer starts counting max_wait
  }
  for (auto& chunk : ready) encodeAndHandOver(std::move(chunk));
  return true;
}

void Batcher::flush() {
  std::vector<Sample> chunk;
  {
    ClockLock lock(mu_);
    if (pending_.empty()) return;
    chunk = takeLocked();
  }
  encodeAndHandOver(std::move(chunk));
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

std::vector<Sample> Batcher::takeLocked() {
  std::vector<Sample> chunk = std::move(pending_);
  pending_ = {};
  pending_bytes_ = 0;
  ++handing_over_;
  return chunk;
}

// Encodes one cut batch (serialised: the encoder is single-threaded) and
// hands it to the sink.
void Batcher::encodeAndHandOver(std::vector<Sample> chunk) {
  std::size_t invalid = 0;
  Result<EncodedPayload> encoded = makeError(ErrorCode::kInternal, "not encoded");
  {
    MutexLock lock(encode_mu_);
    try {
      encoded = encoder_->encode(chunk, &invalid);
    } catch (const std::exception& e) {
      encoded = makeError(ErrorCode::kInternal, std::string("encoder threw: ") + e.what());
    }
  }
  metrics_.addDropped(PushMetrics::Drop::kInvalid, invalid);
  if (!encoded) {
    metrics_.addDropped(PushMetrics::Drop::kEncodeError, chunk.size() - invalid);
    metrics_.warn("encode", "cannot encode a batch of " + std::to_string(chunk.size()) +
                                " samples, dropped: " + encoded.error().message());
  } else {
    chunk.clear();
    EncodedPayload& payload = *encoded;
    if (payload.samples > 0) {
      if (payload.content_encoding.empty()) {
        payload.content_encoding = std::string(encoder_->contentEncoding());
      }
      metrics_.addEncoded(payload);
      sink_(std::move(payload));
    }
  }
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
      std::vector<Sample> chunk = takeLocked();
      lock.unlock();
      encodeAndHandOver(std::move(chunk));
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
