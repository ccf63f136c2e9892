#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "common/push/clock_lock.h"
#include "common/push/push_exporter.h"
#include "common/push/push_metrics.h"
#include "kubemetrics/clock.h"
#include "kubemetrics/mutex.h"
#include "kubemetrics/sample.h"

namespace kubemetrics::push {

/// The front of one PushExporter: copies the samples of each send() into
/// the current batch and cuts it into one encoded payload when it reaches
/// batch.max_samples or batch.max_bytes (in the caller's thread), or when
/// its oldest sample has waited batch.max_wait (shortenMaxWait() lowers it)
/// by the clock (in the timer
/// thread). Each payload goes to `sink` (the sender pool) as soon as it is
/// encoded; samples the encoder cannot carry, and batches it fails on, are
/// dropped and counted here.
///
/// Owns the current batch (samples not yet encoded), the encoder and the
/// timer thread, which also calls `tick` at least once a second of the
/// clock (the facade refreshes the spool gauges there).
///
/// Thread-safe: add() (one caller at a time, the flusher), flush(), close()
/// and the timer share the batch under mu_; encoding and the sink run
/// outside it, serialised by encode_mu_ (the encoder is single-threaded by
/// contract). mu_ is never held while calling out.
class Batcher {
 public:
  using Sink = std::function<void(EncodedPayload&&)>;

  Batcher(const PushConfig::Batch& config, PayloadEncoderPtr encoder, PushMetrics& metrics,
          const Clock& clock, Sink sink, std::function<void()> tick);
  ~Batcher();  // close()
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  /// Starts the timer thread. Once.
  void start();
  /// Adds the samples, encoding and handing over every batch they fill.
  /// False once closed.
  bool add(const SampleBatch& batch);
  /// Encodes and hands over whatever is pending now.
  void flush();
  /// No more add(); stops and joins the timer, then encodes and hands over
  /// what is pending. Safe to call twice.
  void close();
  /// Nothing pending, and no cut batch still being encoded or handed over.
  bool idle() const;
  /// Lowers batch.max_wait to `wait` from now on (flush mode); any thread.
  void shortenMaxWait(std::chrono::milliseconds wait);

 private:
  std::vector<Sample> takeLocked() KM_REQUIRES(mu_);
  void encodeAndHandOver(std::vector<Sample> chunk);
  void timerLoop();

  const PushConfig::Batch config_;
  const PayloadEncoderPtr encoder_;
  PushMetrics& metrics_;
  const Clock& clock_;
  const Sink sink_;
  const std::function<void()> tick_;

  Mutex encode_mu_;  // serialises encoder_->encode()

  mutable ClockMutex mu_;
  std::condition_variable cv_;  // the timer: a batch started, or closed
  std::vector<Sample> pending_ KM_GUARDED_BY(mu_);
  std::uint64_t pending_bytes_ KM_GUARDED_BY(mu_) = 0;
  SteadyClock::time_point pending_since_ KM_GUARDED_BY(mu_);
  int handing_over_ KM_GUARDED_BY(mu_) = 0;  // cut batches not yet with the sink
  bool closed_ KM_GUARDED_BY(mu_) = false;
  std::chrono::milliseconds max_wait_ KM_GUARDED_BY(mu_);  // batch.max_wait, or shorter

  std::thread timer_;  // started and joined by the owner's thread
};

}  // namespace kubemetrics::push
