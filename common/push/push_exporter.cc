#include "common/push/push_exporter.h"

#include <atomic>
#include <deque>
#include <exception>
#include <utility>

#include "common/push/backoff.h"
#include "common/push/batch_journal.h"
#include "common/push/batcher.h"
#include "common/push/push_metrics.h"
#include "common/push/sender_pool.h"
#include "common/push/spool_replayer.h"

namespace kubemetrics::push {

// Wires the three parts: Batcher (samples -> payloads, journaled in wal
// mode) -> SenderPool (queue, senders, retries) -> SpoolReplayer (spool
// writes and replays, run by idle senders). Each owns its own queue and
// lock; this class owns the parts and the shared metrics and retry
// schedule, and orders shutdown.
// Thread-safe as PushExporter.
class PushExporter::Impl {
 public:
  Impl(std::string name, PushConfig config, const Clock& clock, prometheus::Registry& registry)
      : config_(std::move(config)),
        clock_(clock),
        metrics_(registry, std::move(name)),
        backoff_(config_.retry) {}

  ~Impl() {
    // create() failed after threads started, or the owner never called
    // shutdown(): stop anyway so no thread outlives the state.
    shutdown(clock_.now() + std::chrono::milliseconds(1000));
  }

  Result<void> start(PayloadEncoderPtr encoder, const TransportFactory& transports) {
    auto replayer = SpoolReplayer::open(config_, metrics_, backoff_, clock_);
    if (!replayer) return tl::unexpected(replayer.error());
    replayer_ = std::move(*replayer);
    std::vector<TransportPtr> made;
    for (int i = 0; i < config_.max_in_flight; ++i) {
      auto transport = transports();
      if (!transport) return tl::unexpected(transport.error());
      made.push_back(std::move(*transport));
    }
    pool_ = std::make_unique<SenderPool>(config_, std::move(made), *replayer_, backoff_, metrics_,
                                         clock_, encoder->splitter());
    if (replayer_->enabled()) {
      auto journal =
          BatchJournal::open(config_.spool.dir + "/" + name(), metrics_, replayer_->writeAhead());
      if (!journal) return tl::unexpected(journal.error());
      journal_ = std::move(*journal);
    }
    SenderPool* pool = pool_.get();
    SpoolReplayer* spool = replayer_.get();
    batcher_ = std::make_unique<Batcher>(
        config_.batch, std::move(encoder), metrics_, clock_,
        [pool](EncodedPayload&& payload) { pool->submit(std::move(payload)); },
        [pool, spool] {
          pool->retryHeld();
          spool->refreshGauges();
        },
        journal_.get());
    pool_->start();
    batcher_->start();
    return {};
  }

  const std::string& name() const { return metrics_.name(); }

  Result<void> send(const SampleBatch& batch) {
    if (!batcher_->add(batch)) {
      return makeError(ErrorCode::kUnavailable, name() + ": exporter is shut down");
    }
    return {};
  }

  void flush() { batcher_->flush(); }

  void prepareForTermination(std::chrono::system_clock::time_point at) {
    if (flushing_.exchange(true) || shut_down_.load()) return;
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(at - clock_.wallNow());
    metrics_.warn("flush", "the node goes away in " + std::to_string(left.count()) +
                               " s: flush mode (batches and backoff at most 1 s); " +
                               std::to_string(replayer_->records()) + " records (" +
                               std::to_string(replayer_->bytes()) + " bytes) spooled");
    metrics_.setFlushMode(true);
    backoff_.capAt(kFlushWait);
    batcher_->shortenMaxWait(kFlushWait);
    replayer_->backendUp();  // replay now, from the (capped) initial backoff
    pool_->enterFlushMode();
  }

  void shutdown(Deadline deadline) {
    if (shut_down_.exchange(true)) return;
    // Encodes what is pending; from here send() fails.
    if (batcher_) batcher_->close();
    if (!pool_) return;
    std::deque<EncodedPayload> left = pool_->drain(deadline);
    // What no sender took goes to disk for the next run.
    for (EncodedPayload& payload : left) replayer_->spoolOrDrop(payload, "shutdown");
    replayer_->refreshGauges();
  }

  // Upstream first: a payload moves batcher -> pool -> spool and is counted
  // by the part it leaves until the next one has it, so checking in this
  // order cannot miss one in transit.
  bool idle() const { return batcher_->idle() && pool_->idle() && replayer_->idle(); }
  bool backlogged() const { return pool_ && pool_->backlogged(); }

  PushStats stats() const {
    PushStats s = metrics_.stats();
    if (replayer_) {
      s.spool_records = replayer_->records();
      s.spool_bytes = replayer_->bytes();
    }
    return s;
  }

  const PushConfig& config() const { return config_; }

 private:
  const PushConfig config_;
  const Clock& clock_;
  PushMetrics metrics_;
  Backoff backoff_;
  // Declared in the order of the flow's end to its start, so destruction
  // stops the batcher before the pool it feeds and the pool before the
  // replayer it uses (shutdown() has stopped them all already).
  std::unique_ptr<SpoolReplayer> replayer_;
  std::unique_ptr<SenderPool> pool_;
  std::unique_ptr<BatchJournal> journal_;  // with a spool; the batcher's
  std::unique_ptr<Batcher> batcher_;
  std::atomic<bool> shut_down_{false};
  std::atomic<bool> flushing_{false};
  // Flush mode's longest batch wait and retry backoff: short enough that
  // a two-minute spot notice leaves time for many attempts.
  static constexpr std::chrono::milliseconds kFlushWait{1000};
};

Result<std::unique_ptr<PushExporter>> PushExporter::create(std::string name, PushConfig config,
                                                           PayloadEncoderPtr encoder,
                                                           TransportFactory transports,
                                                           prometheus::Registry& registry,
                                                           const Clock& clock) {
  if (!encoder) return makeError(ErrorCode::kInvalidArgument, name + ": no encoder");
  if (!transports) return makeError(ErrorCode::kInvalidArgument, name + ": no transport factory");
  std::unique_ptr<Impl> impl;
  try {
    impl = std::make_unique<Impl>(std::move(name), std::move(config), clock, registry);
  } catch (const std::exception& e) {
    return makeError(ErrorCode::kInternal,
                     std::string("cannot register push exporter metrics: ") + e.what());
  }
  auto started = impl->start(std::move(encoder), transports);
  if (!started) return tl::unexpected(started.error());
  return std::unique_ptr<PushExporter>(new PushExporter(std::move(impl)));
}

PushExporter::PushExporter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PushExporter::~PushExporter() = default;

std::string_view PushExporter::name() const { return impl_->name(); }
Result<void> PushExporter::send(SharedBatch batch) {
  if (!batch) return {};
  return impl_->send(*batch);
}
void PushExporter::shutdown(Deadline deadline) { impl_->shutdown(deadline); }
void PushExporter::prepareForTermination(std::chrono::system_clock::time_point at) {
  impl_->prepareForTermination(at);
}
void PushExporter::flushForTest() { impl_->flush(); }
bool PushExporter::idleForTest() const { return impl_->idle(); }

bool PushExporter::backlogged() const { return impl_->backlogged(); }
PushStats PushExporter::stats() const { return impl_->stats(); }
const PushConfig& PushExporter::config() const { return impl_->config(); }

}  // namespace kubemetrics::push
