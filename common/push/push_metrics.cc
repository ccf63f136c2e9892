#include "common/push/push_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <utility>

namespace kubemetrics::push {
namespace {

/// The self-metric families shared by every push exporter; prometheus-cpp
/// (InsertBehavior::Merge) hands the second exporter the families the first
/// registered, so the HELP texts must stay identical.
struct Families {
  explicit Families(prometheus::Registry& r)
      : sent(prometheus::BuildCounter()
                 .Name("kubemetrics_exporter_push_sent_samples_total")
                 .Help("Samples a push exporter's backend acknowledged.")
                 .Register(r)),
        failed(prometheus::BuildCounter()
                   .Name("kubemetrics_exporter_push_failed_samples_total")
                   .Help("Samples in push delivery attempts that failed with a retryable error "
                         "(every failed attempt counts).")
                   .Register(r)),
        retried(prometheus::BuildCounter()
                    .Name("kubemetrics_exporter_push_retried_samples_total")
                    .Help("Samples in push delivery attempts that repeated an earlier failed "
                          "one, including replays from an overflow spool.")
                    .Register(r)),
        dropped(prometheus::BuildCounter()
                    .Name("kubemetrics_exporter_push_dropped_samples_total")
                    .Help("Samples a push exporter lost for good, by reason: rejected (4xx), "
                          "invalid (not representable), encode_error, spool_full (drop-oldest "
                          "at spool.max_bytes), spool_error, no_spool (retries exhausted "
                          "without a spool).")
                    .Register(r)),
        spooled(prometheus::BuildCounter()
                    .Name("kubemetrics_exporter_push_spooled_samples_total")
                    .Help("Samples held in the disk spool because they could not be delivered "
                          "at once: a failed attempt, the backend backing off, a full queue. "
                          "0 while the backend keeps up.")
                    .Register(r)),
        journaled(prometheus::BuildCounter()
                      .Name("kubemetrics_exporter_push_journaled_samples_total")
                      .Help("Samples written ahead to the disk spool before their first "
                            "attempt (spool.mode wal: every sample).")
                      .Register(r)),
        raw_bytes(prometheus::BuildCounter()
                      .Name("kubemetrics_exporter_push_uncompressed_bytes_total")
                      .Help("Bytes of encoded payloads before compression.")
                      .Register(r)),
        wire_bytes(prometheus::BuildCounter()
                       .Name("kubemetrics_exporter_push_compressed_bytes_total")
                       .Help("Bytes of encoded payloads after compression (request bodies).")
                       .Register(r)),
        requests(prometheus::BuildCounter()
                     .Name("kubemetrics_exporter_push_requests_total")
                     .Help("Push delivery attempts, by outcome: delivered, retry, drop.")
                     .Register(r)),
        latency(prometheus::BuildHistogram()
                    .Name("kubemetrics_exporter_push_request_duration_seconds")
                    .Help("Duration of push delivery attempts, any outcome.")
                    .Register(r)),
        queue(prometheus::BuildGauge()
                  .Name("kubemetrics_exporter_push_queue_payloads")
                  .Help("Encoded payloads waiting for a push sender thread.")
                  .Register(r)),
        pending(prometheus::BuildGauge()
                    .Name("kubemetrics_exporter_push_pending_samples")
                    .Help("Samples in the batch being filled, not yet encoded.")
                    .Register(r)),
        spool_bytes(prometheus::BuildGauge()
                        .Name("kubemetrics_exporter_spool_bytes")
                        .Help("Bytes of spool segment files of a push exporter.")
                        .Register(r)),
        spool_records(prometheus::BuildGauge()
                          .Name("kubemetrics_exporter_spool_records")
                          .Help("Payloads waiting in a push exporter's spool.")
                          .Register(r)),
        spool_corrupt(prometheus::BuildCounter()
                          .Name("kubemetrics_exporter_spool_corrupt_records_total")
                          .Help("Spool records skipped because their length or CRC-32C was "
                                "wrong (a torn write or disk corruption).")
                          .Register(r)),
        seconds_to_empty(prometheus::BuildGauge()
                             .Name("kubemetrics_exporter_spool_seconds_to_empty")
                             .Help("Seconds until the spool is empty at the rate the backend "
                                   "took it over the last 10 s: 0 when empty, +Inf when "
                                   "nothing was delivered.")
                             .Register(r)),
        flush_mode(prometheus::BuildGauge()
                       .Name("kubemetrics_exporter_push_flush_mode")
                       .Help("1 once the node announced it goes away (spot interruption, "
                             "scheduled stop): short batches and backoff, to empty the spool "
                             "in time.")
                       .Register(r)),
        spool_write_errors(prometheus::BuildCounter()
                               .Name("kubemetrics_exporter_spool_write_errors_total")
                               .Help("Spool appends that failed (disk full, I/O error, a failed "
                                     "sync); the exporter backs off before writing again.")
                               .Register(r)),
        journal_recovered(prometheus::BuildCounter()
                              .Name("kubemetrics_exporter_journal_recovered_samples_total")
                              .Help("Samples of a batch still being filled when the previous "
                                    "run died (SIGKILL, OOM kill), read back from its journal "
                                    "at start and sent (spool.mode wal).")
                              .Register(r)),
        journal_write_errors(prometheus::BuildCounter()
                                 .Name("kubemetrics_exporter_journal_write_errors_total")
                                 .Help("Batch journal files that could not be created or "
                                       "written (disk full, I/O error): that batch is in memory "
                                       "only until it is cut and spooled.")
                                 .Register(r)) {}

  prometheus::Family<prometheus::Counter>& sent;
  prometheus::Family<prometheus::Counter>& failed;
  prometheus::Family<prometheus::Counter>& retried;
  prometheus::Family<prometheus::Counter>& dropped;
  prometheus::Family<prometheus::Counter>& spooled;
  prometheus::Family<prometheus::Counter>& journaled;
  prometheus::Family<prometheus::Counter>& raw_bytes;
  prometheus::Family<prometheus::Counter>& wire_bytes;
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& latency;
  prometheus::Family<prometheus::Gauge>& queue;
  prometheus::Family<prometheus::Gauge>& pending;
  prometheus::Family<prometheus::Gauge>& spool_bytes;
  prometheus::Family<prometheus::Gauge>& spool_records;
  prometheus::Family<prometheus::Counter>& spool_corrupt;
  prometheus::Family<prometheus::Gauge>& seconds_to_empty;
  prometheus::Family<prometheus::Gauge>& flush_mode;
  prometheus::Family<prometheus::Counter>& spool_write_errors;
  prometheus::Family<prometheus::Counter>& journal_recovered;
  prometheus::Family<prometheus::Counter>& journal_write_errors;
};

}  // namespace

/// One exporter's series in the shared families.
struct PushMetrics::Series {
  Series(prometheus::Registry& registry, const std::string& name)
      : Series(Families(registry), name) {}
  Series(Families f, const std::string& name)
      : sent(f.sent.Add({{"exporter", name}})),
        failed(f.failed.Add({{"exporter", name}})),
        retried(f.retried.Add({{"exporter", name}})),
        rejected(f.dropped.Add({{"exporter", name}, {"reason", "rejected"}})),
        invalid(f.dropped.Add({{"exporter", name}, {"reason", "invalid"}})),
        encode_error(f.dropped.Add({{"exporter", name}, {"reason", "encode_error"}})),
        spool_full(f.dropped.Add({{"exporter", name}, {"reason", "spool_full"}})),
        spool_error(f.dropped.Add({{"exporter", name}, {"reason", "spool_error"}})),
        no_spool(f.dropped.Add({{"exporter", name}, {"reason", "no_spool"}})),
        spooled(f.spooled.Add({{"exporter", name}})),
        journaled(f.journaled.Add({{"exporter", name}})),
        raw_bytes(f.raw_bytes.Add({{"exporter", name}})),
        wire_bytes(f.wire_bytes.Add({{"exporter", name}})),
        delivered_requests(f.requests.Add({{"exporter", name}, {"outcome", "delivered"}})),
        retry_requests(f.requests.Add({{"exporter", name}, {"outcome", "retry"}})),
        drop_requests(f.requests.Add({{"exporter", name}, {"outcome", "drop"}})),
        latency(f.latency.Add({{"exporter", name}},
                              prometheus::Histogram::BucketBoundaries{
                                  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})),
        queue(f.queue.Add({{"exporter", name}})),
        pending(f.pending.Add({{"exporter", name}})),
        spool_bytes(f.spool_bytes.Add({{"exporter", name}})),
        spool_records(f.spool_records.Add({{"exporter", name}})),
        spool_corrupt(f.spool_corrupt.Add({{"exporter", name}})),
        seconds_to_empty(f.seconds_to_empty.Add({{"exporter", name}})),
        flush_mode(f.flush_mode.Add({{"exporter", name}})),
        spool_write_errors(f.spool_write_errors.Add({{"exporter", name}})),
        journal_recovered(f.journal_recovered.Add({{"exporter", name}})),
        journal_write_errors(f.journal_write_errors.Add({{"exporter", name}})) {}

  prometheus::Counter& sent;
  prometheus::Counter& failed;
  prometheus::Counter& retried;
  prometheus::Counter& rejected;
  prometheus::Counter& invalid;
  prometheus::Counter& encode_error;
  prometheus::Counter& spool_full;
  prometheus::Counter& spool_error;
  prometheus::Counter& no_spool;
  prometheus::Counter& spooled;
  prometheus::Counter& journaled;
  prometheus::Counter& raw_bytes;
  prometheus::Counter& wire_bytes;
  prometheus::Counter& delivered_requests;
  prometheus::Counter& retry_requests;
  prometheus::Counter& drop_requests;
  prometheus::Histogram& latency;
  prometheus::Gauge& queue;
  prometheus::Gauge& pending;
  prometheus::Gauge& spool_bytes;
  prometheus::Gauge& spool_records;
  prometheus::Counter& spool_corrupt;
  prometheus::Gauge& seconds_to_empty;
  prometheus::Gauge& flush_mode;
  prometheus::Counter& spool_write_errors;
  prometheus::Counter& journal_recovered;
  prometheus::Counter& journal_write_errors;
};

namespace {

void add(prometheus::Counter& counter, std::atomic<std::uint64_t>& mirror, std::uint64_t n) {
  if (n == 0) return;
  counter.Increment(static_cast<double>(n));
  // Release: a stats() reader that sees `n` also sees the series above.
  mirror.fetch_add(n, std::memory_order_release);
}

}  // namespace

PushMetrics::PushMetrics(prometheus::Registry& registry, std::string name)
    : name_(std::move(name)),
      series_(std::make_unique<Series>(registry, name_)),
      log_limiter_(std::chrono::seconds(30)) {}

PushMetrics::~PushMetrics() = default;

void PushMetrics::addSent(std::uint64_t samples) { add(series_->sent, sent_, samples); }
void PushMetrics::addFailed(std::uint64_t samples) { add(series_->failed, failed_, samples); }
void PushMetrics::addRetried(std::uint64_t samples) { add(series_->retried, retried_, samples); }
void PushMetrics::addSpooled(std::uint64_t samples) { add(series_->spooled, spooled_, samples); }
void PushMetrics::addJournaled(std::uint64_t samples) {
  add(series_->journaled, journaled_, samples);
}

void PushMetrics::addDropped(Drop reason, std::uint64_t samples) {
  prometheus::Counter* counter = nullptr;
  switch (reason) {
    case Drop::kRejected:
      counter = &series_->rejected;
      break;
    case Drop::kInvalid:
      counter = &series_->invalid;
      break;
    case Drop::kEncodeError:
      counter = &series_->encode_error;
      break;
    case Drop::kSpoolFull:
      counter = &series_->spool_full;
      break;
    case Drop::kSpoolError:
      counter = &series_->spool_error;
      break;
    case Drop::kNoSpool:
      counter = &series_->no_spool;
      break;
  }
  add(*counter, dropped_, samples);
}

void PushMetrics::addSpoolWriteError() {
  series_->spool_write_errors.Increment();
  spool_write_errors_.fetch_add(1, std::memory_order_release);
}

void PushMetrics::addRecovered(std::uint64_t samples) {
  add(series_->journal_recovered, recovered_, samples);
}

void PushMetrics::addJournalWriteError() {
  add(series_->journal_write_errors, journal_write_errors_, 1);
}

void PushMetrics::addEncoded(const EncodedPayload& payload) {
  series_->raw_bytes.Increment(static_cast<double>(payload.raw_bytes));
  series_->wire_bytes.Increment(static_cast<double>(payload.body.size()));
}

void PushMetrics::addRequest(DeliveryOutcome::Kind outcome, double seconds) {
  series_->latency.Observe(seconds);
  switch (outcome) {
    case DeliveryOutcome::Kind::kDelivered:
      series_->delivered_requests.Increment();
      break;
    case DeliveryOutcome::Kind::kRetry:
      series_->retry_requests.Increment();
      break;
    case DeliveryOutcome::Kind::kDrop:
      series_->drop_requests.Increment();
      break;
  }
  requests_.fetch_add(1, std::memory_order_release);
}

void PushMetrics::noteCorrupt(std::uint64_t total) {
  MutexLock lock(corrupt_mu_);
  if (total > last_corrupt_) {
    series_->spool_corrupt.Increment(static_cast<double>(total - last_corrupt_));
    corrupt_.store(total, std::memory_order_release);
    last_corrupt_ = total;
  }
}

void PushMetrics::setQueued(std::size_t payloads) {
  series_->queue.Set(static_cast<double>(payloads));
}
void PushMetrics::setPending(std::size_t samples) {
  series_->pending.Set(static_cast<double>(samples));
}
void PushMetrics::setSpool(std::uint64_t bytes, std::uint64_t records) {
  series_->spool_bytes.Set(static_cast<double>(bytes));
  series_->spool_records.Set(static_cast<double>(records));
}

void PushMetrics::setSecondsToEmpty(double seconds) { series_->seconds_to_empty.Set(seconds); }
void PushMetrics::setFlushMode(bool on) { series_->flush_mode.Set(on ? 1 : 0); }

PushStats PushMetrics::stats() const {
  PushStats s;
  s.sent_samples = sent_.load(std::memory_order_acquire);
  s.failed_samples = failed_.load(std::memory_order_acquire);
  s.retried_samples = retried_.load(std::memory_order_acquire);
  s.dropped_samples = dropped_.load(std::memory_order_acquire);
  s.spooled_samples = spooled_.load(std::memory_order_acquire);
  s.journaled_samples = journaled_.load(std::memory_order_acquire);
  s.requests = requests_.load(std::memory_order_acquire);
  s.spool_corrupt_records = corrupt_.load(std::memory_order_acquire);
  s.spool_write_errors = spool_write_errors_.load(std::memory_order_acquire);
  s.journal_recovered_samples = recovered_.load(std::memory_order_acquire);
  s.journal_write_errors = journal_write_errors_.load(std::memory_order_acquire);
  return s;
}

void PushMetrics::warn(std::string_view key, const std::string& message) {
  std::uint64_t suppressed = 0;
  if (!log_limiter_.allow(key, &suppressed)) return;
  LogLine line = logWarn(name_);
  line << message;
  if (suppressed > 0) line << " (" << suppressed << " similar messages suppressed)";
}

}  // namespace kubemetrics::push
