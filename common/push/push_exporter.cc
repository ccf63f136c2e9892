#include "common/push/push_exporter.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <random>
#include <thread>

#include "common/push/spool.h"
#include "kubemetrics/log.h"
#include "kubemetrics/mutex.h"

namespace kubemetrics::push {
namespace {

using std::chrono::milliseconds;

constexpr auto kGaugeRefresh = std::chrono::seconds(1);

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
                          "one, including replays from the spool.")
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
                    .Help("Samples written to the disk spool because they could not be "
                          "delivered or queued.")
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
                          .Register(r)) {}

  prometheus::Family<prometheus::Counter>& sent;
  prometheus::Family<prometheus::Counter>& failed;
  prometheus::Family<prometheus::Counter>& retried;
  prometheus::Family<prometheus::Counter>& dropped;
  prometheus::Family<prometheus::Counter>& spooled;
  prometheus::Family<prometheus::Counter>& raw_bytes;
  prometheus::Family<prometheus::Counter>& wire_bytes;
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& latency;
  prometheus::Family<prometheus::Gauge>& queue;
  prometheus::Family<prometheus::Gauge>& pending;
  prometheus::Family<prometheus::Gauge>& spool_bytes;
  prometheus::Family<prometheus::Gauge>& spool_records;
  prometheus::Family<prometheus::Counter>& spool_corrupt;
};

/// One exporter's series in the shared families.
struct Metrics {
  Metrics(Families& f, const std::string& name)
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
        spool_corrupt(f.spool_corrupt.Add({{"exporter", name}})) {}

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
};

void add(prometheus::Counter& counter, std::atomic<std::uint64_t>& mirror, std::uint64_t n) {
  if (n == 0) return;
  counter.Increment(static_cast<double>(n));
  mirror.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace

class PushExporter::Impl {
 public:
  Impl(std::string name, PushConfig config, PayloadEncoderPtr encoder,
       prometheus::Registry& registry)
      : name_(std::move(name)),
        config_(std::move(config)),
        encoder_(std::move(encoder)),
        families_(registry),
        metrics_(families_, name_),
        log_limiter_(std::chrono::seconds(30)) {}

  ~Impl() {
    // create() failed after threads started, or the owner never called
    // shutdown(): stop anyway so no thread outlives the state.
    shutdown(deadlineIn(milliseconds(1000)));
  }

  Result<void> start(const TransportFactory& transports) {
    if (config_.spool.enabled) {
      Spool::Options options;
      options.dir = config_.spool.dir + "/" + name_;
      options.max_bytes = config_.spool.max_bytes;
      options.segment_bytes = config_.spool.segment_bytes;
      options.sync = config_.spool.sync;
      options.owner = name_;
      auto spool = Spool::open(std::move(options));
      if (!spool) return tl::unexpected(spool.error());
      spool_ = std::move(*spool);
      // Records skipped by the scan at open count from the start.
      noteCorrupt();
    }
    for (int i = 0; i < config_.max_in_flight; ++i) {
      auto transport = transports();
      if (!transport) return tl::unexpected(transport.error());
      transports_.push_back(std::move(*transport));
    }
    refreshGauges();
    timer_ = std::thread([this] { timerLoop(); });
    for (auto& transport : transports_) {
      senders_.emplace_back([this, t = transport.get()] { senderLoop(*t); });
    }
    return {};
  }

  const std::string& name() const { return name_; }

  Result<void> send(const SampleBatch& batch) {
    std::vector<std::vector<Sample>> ready;
    {
      MutexLock lock(mu_);
      if (closed_) {
        return makeError(ErrorCode::kUnavailable, name_ + ": exporter is shut down");
      }
      for (const Sample& sample : batch.samples) {
        if (pending_.empty()) pending_since_ = SteadyClock::now();
        pending_.push_back(sample);
        pending_bytes_ += encoder_->estimateBytes(sample);
        if (pending_.size() >= config_.batch.max_samples ||
            pending_bytes_ >= config_.batch.max_bytes) {
          ready.push_back(std::move(pending_));
          pending_ = {};
          pending_bytes_ = 0;
        }
      }
      if (!pending_.empty()) cv_.notify_all();  // the timer starts counting max_wait
    }
    for (auto& chunk : ready) encodeAndQueue(std::move(chunk));
    return {};
  }

  void flushPending() {
    std::vector<Sample> chunk;
    {
      MutexLock lock(mu_);
      chunk = std::move(pending_);
      pending_ = {};
      pending_bytes_ = 0;
    }
    if (!chunk.empty()) encodeAndQueue(std::move(chunk));
  }

  void shutdown(Deadline deadline) {
    {
      MutexLock lock(mu_);
      if (shut_down_) return;
      shut_down_ = true;
      closed_ = true;
    }
    flushPending();
    {
      MutexLock lock(mu_);
      draining_ = true;
      shutdown_deadline_ = deadline;
      cv_.notify_all();
      // Let the senders work through the queue until it is empty or time is up.
      while (!(queue_.empty() && in_flight_ == 0 && !replaying_) && SteadyClock::now() < deadline) {
        cv_.wait_until(lock, std::min(deadline, SteadyClock::now() + milliseconds(50)));
      }
      stop_ = true;
      cv_.notify_all();
    }
    if (timer_.joinable()) timer_.join();
    for (std::thread& t : senders_) {
      if (t.joinable()) t.join();
    }
    // What no sender took goes to disk for the next run.
    std::deque<EncodedPayload> left;
    {
      MutexLock lock(mu_);
      left.swap(queue_);
    }
    for (EncodedPayload& payload : left) spoolOrDrop(payload, "shutdown");
    refreshGauges();
  }

  bool idle() const {
    MutexLock lock(mu_);
    return pending_.empty() && queue_.empty() && in_flight_ == 0 && !replaying_ &&
           (!spool_ || spool_->records() == 0);
  }

  PushStats stats() const {
    PushStats s;
    s.sent_samples = sent_.load();
    s.failed_samples = failed_.load();
    s.retried_samples = retried_.load();
    s.dropped_samples = dropped_.load();
    s.spooled_samples = spooled_.load();
    s.requests = requests_.load();
    s.spool_corrupt_records = corrupt_.load();
    if (spool_) {
      s.spool_records = spool_->records();
      s.spool_bytes = spool_->bytes();
    }
    return s;
  }

 private:
  // Encodes one chunk (serialised: the encoder is single-threaded) and
  // hands it to the senders, or to the spool when they are all busy.
  void encodeAndQueue(std::vector<Sample> chunk) {
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
    add(metrics_.invalid, dropped_, invalid);
    if (!encoded) {
      add(metrics_.encode_error, dropped_, chunk.size() - invalid);
      logLimited("encode", "cannot encode a batch of " + std::to_string(chunk.size()) +
                               " samples, dropped: " + encoded.error().message());
      return;
    }
    chunk.clear();
    EncodedPayload& payload = *encoded;
    if (payload.samples == 0) return;
    if (payload.content_encoding.empty()) {
      payload.content_encoding = std::string(encoder_->contentEncoding());
    }
    metrics_.raw_bytes.Increment(static_cast<double>(payload.raw_bytes));
    metrics_.wire_bytes.Increment(static_cast<double>(payload.body.size()));
    {
      MutexLock lock(mu_);
      if (queue_.size() < config_.queue_capacity && !stop_) {
        queue_.push_back(std::move(payload));
        metrics_.queue.Set(static_cast<double>(queue_.size()));
        cv_.notify_all();
        return;
      }
    }
    spoolOrDrop(payload, "queue_full");
  }

  void spoolOrDrop(const EncodedPayload& payload, std::string_view why) {
    if (!spool_) {
      add(metrics_.no_spool, dropped_, payload.samples);
      logLimited("no_spool", "payload of " + std::to_string(payload.samples) +
                                 " samples dropped (" + std::string(why) +
                                 ") and there is no spool (exporters.spool.enabled: false)");
      return;
    }
    auto loss = spool_->append(payload);
    if (!loss) {
      add(metrics_.spool_error, dropped_, payload.samples);
      logLimited("spool_error", "payload of " + std::to_string(payload.samples) +
                                    " samples dropped: " + loss.error().message());
      return;
    }
    if (loss->dropped_samples > 0) {
      add(metrics_.spool_full, dropped_, loss->dropped_samples);
      logLimited("spool_full", "spool is full (exporters.spool.max_bytes): dropped the oldest " +
                                   std::to_string(loss->dropped_samples) + " samples");
    }
    // A record too large for the cap is the one counted above.
    if (loss->stored) add(metrics_.spooled, spooled_, payload.samples);
    refreshGauges();
  }

  // One attempt, timed and counted.
  DeliveryOutcome attempt(Transport& transport, const EncodedPayload& payload) {
    Deadline deadline = deadlineIn(config_.timeout);
    {
      MutexLock lock(mu_);
      if (draining_) deadline = std::min(deadline, shutdown_deadline_);
    }
    const auto began = SteadyClock::now();
    DeliveryOutcome outcome;
    try {
      outcome = transport.deliver(payload, deadline);
    } catch (const std::exception& e) {
      outcome = DeliveryOutcome::retry(std::string("transport threw: ") + e.what());
    }
    metrics_.latency.Observe(std::chrono::duration<double>(SteadyClock::now() - began).count());
    requests_.fetch_add(1, std::memory_order_relaxed);
    switch (outcome.kind) {
      case DeliveryOutcome::Kind::kDelivered:
        metrics_.delivered_requests.Increment();
        add(metrics_.sent, sent_, payload.samples);
        break;
      case DeliveryOutcome::Kind::kRetry:
        metrics_.retry_requests.Increment();
        add(metrics_.failed, failed_, payload.samples);
        logLimited("retry", "delivery failed, will retry: " + outcome.message);
        break;
      case DeliveryOutcome::Kind::kDrop:
        metrics_.drop_requests.Increment();
        add(metrics_.rejected, dropped_, payload.samples);
        logLimited("drop", "backend rejected a payload of " + std::to_string(payload.samples) +
                               " samples, dropped: " + outcome.message);
        break;
    }
    return outcome;
  }

  // Backoff with "equal jitter": half fixed, half random, so senders that
  // failed together do not retry together.
  milliseconds jittered(milliseconds backoff) {
    const auto half = backoff.count() / 2;
    std::uniform_int_distribution<std::int64_t> dist(0, std::max<std::int64_t>(half, 0));
    MutexLock lock(rng_mu_);
    return milliseconds(half + dist(rng_));
  }

  milliseconds waitFor(milliseconds backoff, const DeliveryOutcome& outcome) {
    milliseconds wait = jittered(backoff);
    if (outcome.retry_after > wait) wait = std::min(outcome.retry_after, config_.retry.max_backoff);
    return wait;
  }

  // Sleeps `wait` unless stopping; false when the sleep was cut short or
  // would outlast the shutdown deadline.
  bool sleepBeforeRetry(milliseconds wait) {
    MutexLock lock(mu_);
    const Deadline until = SteadyClock::now() + wait;
    if (draining_ && until > shutdown_deadline_) return false;
    while (!stop_ && SteadyClock::now() < until) cv_.wait_until(lock, until);
    return !stop_;
  }

  void deliverLive(Transport& transport, EncodedPayload& payload) {
    milliseconds backoff = config_.retry.initial_backoff;
    for (int n = 1;; ++n) {
      if (n > 1) add(metrics_.retried, retried_, payload.samples);
      const DeliveryOutcome outcome = attempt(transport, payload);
      if (outcome.kind == DeliveryOutcome::Kind::kDelivered) {
        MutexLock lock(mu_);
        // The backend answers again: replay the spool now.
        replay_not_before_ = SteadyClock::now();
        replay_backoff_ = config_.retry.initial_backoff;
        return;
      }
      if (outcome.kind == DeliveryOutcome::Kind::kDrop) return;
      const milliseconds wait = waitFor(backoff, outcome);
      if (n >= config_.retry.max_attempts || !sleepBeforeRetry(wait)) break;
      backoff = std::min(backoff * 2, config_.retry.max_backoff);
    }
    {
      MutexLock lock(mu_);
      // The backend is down: no point replaying before the next backoff.
      replay_not_before_ = std::max(replay_not_before_, SteadyClock::now() + backoff);
    }
    spoolOrDrop(payload, "retries exhausted");
  }

  // Replays the oldest spool record once; on failure backs the replay off.
  void replayOne(Transport& transport) {
    std::optional<Spool::Record> record = spool_->peekOldest();
    noteCorrupt();
    if (!record) return;
    add(metrics_.retried, retried_, record->payload.samples);
    const DeliveryOutcome outcome = attempt(transport, record->payload);
    if (outcome.kind != DeliveryOutcome::Kind::kRetry) {
      spool_->pop(record->id);
      MutexLock lock(mu_);
      replay_backoff_ = config_.retry.initial_backoff;
    } else {
      MutexLock lock(mu_);
      replay_not_before_ = SteadyClock::now() + waitFor(replay_backoff_, outcome);
      replay_backoff_ = std::min(replay_backoff_ * 2, config_.retry.max_backoff);
    }
    refreshGauges();
  }

  void senderLoop(Transport& transport) {
    MutexLock lock(mu_);
    for (;;) {
      if (stop_) return;
      if (!queue_.empty()) {
        EncodedPayload payload = std::move(queue_.front());
        queue_.pop_front();
        metrics_.queue.Set(static_cast<double>(queue_.size()));
        ++in_flight_;
        lock.unlock();
        deliverLive(transport, payload);
        lock.lock();
        --in_flight_;
        cv_.notify_all();
        continue;
      }
      const auto now = SteadyClock::now();
      if (spool_ && !draining_ && !replaying_ && now >= replay_not_before_ &&
          spool_->records() > 0) {
        replaying_ = true;
        lock.unlock();
        replayOne(transport);
        lock.lock();
        replaying_ = false;
        cv_.notify_all();
        continue;
      }
      Deadline wake = now + kGaugeRefresh;
      if (spool_ && !draining_ && replay_not_before_ > now)
        wake = std::min(wake, replay_not_before_);
      cv_.wait_until(lock, wake);
    }
  }

  void timerLoop() {
    MutexLock lock(mu_);
    while (!stop_ && !closed_) {
      const auto now = SteadyClock::now();
      if (!pending_.empty() && now - pending_since_ >= config_.batch.max_wait) {
        std::vector<Sample> chunk = std::move(pending_);
        pending_ = {};
        pending_bytes_ = 0;
        lock.unlock();
        encodeAndQueue(std::move(chunk));
        lock.lock();
        continue;
      }
      Deadline wake = now + kGaugeRefresh;
      if (!pending_.empty()) wake = std::min(wake, pending_since_ + config_.batch.max_wait);
      metrics_.pending.Set(static_cast<double>(pending_.size()));
      lock.unlock();
      refreshGauges();
      lock.lock();
      if (stop_ || closed_) break;
      cv_.wait_until(lock, wake);
    }
  }

  void noteCorrupt() {
    if (!spool_) return;
    const std::uint64_t now = spool_->corruptRecords();
    MutexLock lock(corrupt_mu_);
    if (now > last_corrupt_) {
      metrics_.spool_corrupt.Increment(static_cast<double>(now - last_corrupt_));
      corrupt_.store(now);
      last_corrupt_ = now;
    }
  }

  void refreshGauges() {
    if (!spool_) return;
    metrics_.spool_bytes.Set(static_cast<double>(spool_->bytes()));
    metrics_.spool_records.Set(static_cast<double>(spool_->records()));
  }

  void logLimited(std::string_view key, const std::string& message) {
    std::uint64_t suppressed = 0;
    if (!log_limiter_.allow(key, &suppressed)) return;
    LogLine line = logWarn(name_);
    line << message;
    if (suppressed > 0) line << " (" << suppressed << " similar messages suppressed)";
  }

  const std::string name_;
  const PushConfig config_;
  const PayloadEncoderPtr encoder_;
  Families families_;
  Metrics metrics_;
  LogLimiter log_limiter_;
  std::unique_ptr<Spool> spool_;  // null without a spool; set before threads start
  std::vector<TransportPtr> transports_;

  Mutex encode_mu_;  // serialises encoder_ (single-threaded by contract)
  Mutex rng_mu_;
  std::mt19937_64 rng_ KM_GUARDED_BY(rng_mu_){std::random_device{}()};
  Mutex corrupt_mu_;
  std::uint64_t last_corrupt_ KM_GUARDED_BY(corrupt_mu_) = 0;

  mutable Mutex mu_;
  std::condition_variable_any cv_;
  std::vector<Sample> pending_ KM_GUARDED_BY(mu_);
  std::uint64_t pending_bytes_ KM_GUARDED_BY(mu_) = 0;
  SteadyClock::time_point pending_since_ KM_GUARDED_BY(mu_);
  std::deque<EncodedPayload> queue_ KM_GUARDED_BY(mu_);
  int in_flight_ KM_GUARDED_BY(mu_) = 0;
  bool replaying_ KM_GUARDED_BY(mu_) = false;
  SteadyClock::time_point replay_not_before_ KM_GUARDED_BY(mu_);
  milliseconds replay_backoff_ KM_GUARDED_BY(mu_){config_.retry.initial_backoff};
  bool closed_ KM_GUARDED_BY(mu_) = false;    // no more send()
  bool draining_ KM_GUARDED_BY(mu_) = false;  // shutdown: finish the queue, no replay
  bool stop_ KM_GUARDED_BY(mu_) = false;      // threads exit
  bool shut_down_ KM_GUARDED_BY(mu_) = false;
  Deadline shutdown_deadline_ KM_GUARDED_BY(mu_);

  std::thread timer_;
  std::vector<std::thread> senders_;

  std::atomic<std::uint64_t> sent_{0}, failed_{0}, retried_{0}, dropped_{0}, spooled_{0},
      requests_{0}, corrupt_{0};
};

Result<std::unique_ptr<PushExporter>> PushExporter::create(std::string name, PushConfig config,
                                                           PayloadEncoderPtr encoder,
                                                           TransportFactory transports,
                                                           prometheus::Registry& registry) {
  if (!encoder) return makeError(ErrorCode::kInvalidArgument, name + ": no encoder");
  if (!transports) return makeError(ErrorCode::kInvalidArgument, name + ": no transport factory");
  std::unique_ptr<Impl> impl;
  try {
    impl = std::make_unique<Impl>(std::move(name), std::move(config), std::move(encoder), registry);
  } catch (const std::exception& e) {
    return makeError(ErrorCode::kInternal,
                     std::string("cannot register push exporter metrics: ") + e.what());
  }
  auto started = impl->start(transports);
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
void PushExporter::flushForTest() { impl_->flushPending(); }
bool PushExporter::idleForTest() const { return impl_->idle(); }
PushStats PushExporter::stats() const { return impl_->stats(); }

}  // namespace kubemetrics::push
