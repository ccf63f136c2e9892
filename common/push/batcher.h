#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/push/batch_journal.h"
#include "common/push/clock_lock.h"
#include "common/push/push_exporter.h"
#include "common/push/push_metrics.h"
#include "kubemetrics/clock.h"
#include "kubemetrics/mutex.h"
#include "kubemetrics/sample.h"

namespace kubemetrics::push {

/// The front of one PushExporter: adds the samples of each send() to the
/// current batch and cuts it into one encoded payload when it reaches
/// batch.max_samples or batch.max_bytes (in the caller's thread), or when
/// its oldest sample has waited batch.max_wait (shortenMaxWait() lowers it)
/// by the clock (in the timer thread). Each payload goes to `sink` (the
/// sender pool) as soon as it is compressed, in the order the batches were
/// cut; samples the encoder cannot carry, and batches it fails on, are
/// dropped and counted here.
///
/// An encoder that appends (PayloadEncoder::appends()) encodes each send()'s
/// share of the batch as it is added, and the batch is its uncompressed
/// body, compressed at the cut. Any other encoder gets a copy of the batch's
/// samples at the cut. Both cut at the same sample (max_bytes by the
/// encoder's estimateBytes()).
///
/// With a `journal` (spool.mode wal) every sample is also written to the
/// batch's journal file as it is added (as the encoder's bytes when it
/// appends), and the file is released once the sink has the payload;
/// start() first reads back and hands over what a previous run left in the
/// journal (batch_journal.h).
///
/// Owns the current batch (samples not yet encoded), the encoder and the
/// timer thread, which also calls `tick` at least once a second of the
/// clock (the facade refreshes the spool gauges there).
///
/// Thread-safe: add() (one caller at a time, the flusher), flush(), close()
/// and the timer cut batches holding handover_mu_ and keep it while they
/// encode and hand over, so payloads reach the sink in cut order (the
/// encoder and the journal are single-threaded by contract too); the batch
/// itself is under mu_, which idle() and shortenMaxWait() take alone. Lock
/// order: handover_mu_, then mu_; mu_ is never held while calling out.
class Batcher {
 public:
  using Sink = std::function<void(EncodedPayload&&)>;

  /// `journal` may be null (no write-ahead spool); it must outlive this.
  Batcher(const PushConfig::Batch& config, PayloadEncoderPtr encoder, PushMetrics& metrics,
          const Clock& clock, Sink sink, std::function<void()> tick,
          BatchJournal* journal = nullptr);
  ~Batcher();  // close()
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  /// Hands over what the journal's previous run left, then starts the
  /// timer thread. Once.
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
  // A cut batch and the journal file holding its samples (0: none): its
  // samples, or (an appending encoder) their uncompressed body.
  struct Cut {
    std::vector<Sample> samples;
    std::string encoded;
    std::size_t encoded_samples = 0;
    std::uint64_t journal_seq = 0;
  };
  // How many of `samples` the batch takes before it is full (by count, or
  // by the encoder's estimate of the bytes), counting their bytes and
  // starting the batch's clock; `full` when it is then. Both ways of
  // filling a batch cut it there.
  std::size_t fillLocked(std::span<const Sample> samples, bool& full) KM_REQUIRES(mu_);
  // Adds `samples` to the batch until it is full: then cuts it into `cut`
  // and returns the samples not taken yet.
  std::span<const Sample> addSamplesLocked(std::span<const Sample> samples, std::optional<Cut>& cut)
      KM_REQUIRES(handover_mu_, mu_);
  std::span<const Sample> appendLocked(std::span<const Sample> samples, std::optional<Cut>& cut)
      KM_REQUIRES(handover_mu_, mu_);
  bool pendingLocked() const KM_REQUIRES(mu_) { return pending_count_ > 0; }
  Cut takeLocked() KM_REQUIRES(handover_mu_, mu_);
  void encodeAndHandOver(Cut cut) KM_REQUIRES(handover_mu_);
  void recoverJournal() KM_REQUIRES(handover_mu_);
  void timerLoop();

  const PushConfig::Batch config_;
  const PayloadEncoderPtr encoder_;
  PushMetrics& metrics_;
  const Clock& clock_;
  const Sink sink_;
  const std::function<void()> tick_;

  BatchJournal* const journal_;  // null: no write-ahead spool
  const bool appends_;           // encoder_->appends()

  // Held from a cut to its hand-over; guards the encoder and the journal.
  Mutex handover_mu_;
  // The buffer of the last batch handed over, emptied, for the next one.
  std::string spare_encoded_ KM_GUARDED_BY(handover_mu_);

  mutable ClockMutex mu_;
  std::condition_variable cv_;  // the timer: a batch started, or closed
  // The batch: its samples (pending_) or their encoding (pending_encoded_,
  // of pending_count_ samples taken, pending_carried_ of them encoded).
  std::vector<Sample> pending_ KM_GUARDED_BY(mu_);
  std::string pending_encoded_ KM_GUARDED_BY(mu_);
  std::size_t pending_count_ KM_GUARDED_BY(mu_) = 0;
  std::size_t pending_carried_ KM_GUARDED_BY(mu_) = 0;
  std::uint64_t pending_bytes_ KM_GUARDED_BY(mu_) = 0;
  SteadyClock::time_point pending_since_ KM_GUARDED_BY(mu_);
  int handing_over_ KM_GUARDED_BY(mu_) = 0;  // cut batches not yet with the sink
  bool closed_ KM_GUARDED_BY(mu_) = false;
  std::chrono::milliseconds max_wait_ KM_GUARDED_BY(mu_);  // batch.max_wait, or shorter

  std::thread timer_;  // started and joined by the owner's thread
};

}  // namespace kubemetrics::push
