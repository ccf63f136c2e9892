#include "agent/pipeline/pipeline.h"

#include <algorithm>
#include <chrono>

#include "agent/pipeline/enricher.h"
#include "agent/pipeline/tagger.h"
#include "kubemetrics/log.h"

namespace kubemetrics {
namespace {

constexpr auto kIdleWait = std::chrono::milliseconds(200);

std::int64_t toNanos(Deadline d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d.time_since_epoch()).count();
}

}  // namespace

AgentTags::Tags configuredTags(const AgentConfig& config) {
  AgentTags::Tags tags;
  tags.emplace_back("cluster", config.cluster);
  if (config.pipeline.node_tag) tags.emplace_back("node", config.node);
  for (const auto& [name, value] : config.pipeline.tags) tags.emplace_back(name, value);
  return tags;
}

/// Self-metrics of the pipeline, one registry family each.
struct Pipeline::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : received(prometheus::BuildCounter()
                     .Name("kubemetrics_pipeline_received_samples_total")
                     .Help("Samples sources handed to the pipeline.")
                     .Register(registry)
                     .Add({})),
        dropped_family(prometheus::BuildCounter()
                           .Name("kubemetrics_pipeline_dropped_samples_total")
                           .Help("Samples the pipeline dropped, by reason: ring_full (the ring "
                                 "between sources and processors was full) or shutdown.")
                           .Register(registry)),
        ring_full(dropped_family.Add({{"reason", "ring_full"}})),
        shutting_down(dropped_family.Add({{"reason", "shutdown"}})),
        offers_refused(prometheus::BuildCounter()
                           .Name("kubemetrics_pipeline_offers_refused_total")
                           .Help("Batches pushed to a listener that the pipeline refused for "
                                 "now (the ring or an exporter queue half full, or stopping): "
                                 "the listener held its sender back and offered again.")
                           .Register(registry)
                           .Add({})),
        filtered(prometheus::BuildCounter()
                     .Name("kubemetrics_pipeline_filtered_samples_total")
                     .Help("Samples removed by pipeline.allow/deny rules.")
                     .Register(registry)
                     .Add({})),
        enriched(prometheus::BuildCounter()
                     .Name("kubemetrics_pipeline_enriched_samples_total")
                     .Help("Samples pipeline.enrich added Kubernetes pod or node tags to.")
                     .Register(registry)
                     .Add({})),
        enrich_unknown_pod(prometheus::BuildCounter()
                               .Name("kubemetrics_pipeline_enrich_unknown_pod_samples_total")
                               .Help("Samples naming a pod the Kubernetes metadata does not "
                                     "hold (not listed yet, or deleted); passed unchanged.")
                               .Register(registry)
                               .Add({})),
        processed(prometheus::BuildCounter()
                      .Name("kubemetrics_pipeline_processed_samples_total")
                      .Help("Samples that left the processors towards the exporters.")
                      .Register(registry)
                      .Add({})),
        processing_seconds(prometheus::BuildCounter()
                               .Name("kubemetrics_pipeline_processing_seconds_total")
                               .Help("Time the processors spent on batches.")
                               .Register(registry)
                               .Add({})),
        ring_batches(prometheus::BuildGauge()
                         .Name("kubemetrics_pipeline_ring_batches")
                         .Help("Batches waiting in the ring.")
                         .Register(registry)
                         .Add({})),
        ring_capacity(prometheus::BuildGauge()
                          .Name("kubemetrics_pipeline_ring_capacity_batches")
                          .Help("Capacity of the ring, in batches.")
                          .Register(registry)
                          .Add({})),
        exporter_sent(prometheus::BuildCounter()
                          .Name("kubemetrics_exporter_sent_samples_total")
                          .Help("Samples handed to each exporter that it accepted.")
                          .Register(registry)),
        exporter_failed(prometheus::BuildCounter()
                            .Name("kubemetrics_exporter_failed_samples_total")
                            .Help("Samples an exporter's send() reported as failed.")
                            .Register(registry)),
        exporter_dropped(prometheus::BuildCounter()
                             .Name("kubemetrics_exporter_dropped_samples_total")
                             .Help("Samples dropped before reaching an exporter, by reason: "
                                   "queue_full or shutdown_timeout.")
                             .Register(registry)),
        exporter_queue(prometheus::BuildGauge()
                           .Name("kubemetrics_exporter_queue_batches")
                           .Help("Batches waiting in each exporter's queue.")
                           .Register(registry)) {}

  prometheus::Counter& received;
  prometheus::Family<prometheus::Counter>& dropped_family;
  prometheus::Counter& ring_full;
  prometheus::Counter& shutting_down;
  prometheus::Counter& offers_refused;
  prometheus::Counter& filtered;
  prometheus::Counter& enriched;
  prometheus::Counter& enrich_unknown_pod;
  prometheus::Counter& processed;
  prometheus::Counter& processing_seconds;
  prometheus::Gauge& ring_batches;
  prometheus::Gauge& ring_capacity;
  prometheus::Family<prometheus::Counter>& exporter_sent;
  prometheus::Family<prometheus::Counter>& exporter_failed;
  prometheus::Family<prometheus::Counter>& exporter_dropped;
  prometheus::Family<prometheus::Gauge>& exporter_queue;
};

/// One exporter with its bounded queue and flusher thread. The queue holds
/// heap-allocated SharedBatch handles because the ring stores trivially
/// copyable items.
struct Pipeline::ExporterLane {
  ExporterLane(ExporterPtr exp, std::size_t capacity, Metrics& m)
      : exporter(std::move(exp)),
        queue(capacity),
        sent(m.exporter_sent.Add({{"exporter", std::string(exporter->name())}})),
        failed(m.exporter_failed.Add({{"exporter", std::string(exporter->name())}})),
        queue_full(m.exporter_dropped.Add(
            {{"exporter", std::string(exporter->name())}, {"reason", "queue_full"}})),
        shutdown_timeout(m.exporter_dropped.Add(
            {{"exporter", std::string(exporter->name())}, {"reason", "shutdown_timeout"}})),
        queued(m.exporter_queue.Add({{"exporter", std::string(exporter->name())}})) {}

  ExporterPtr exporter;
  BoundedRing<SharedBatch*> queue;
  prometheus::Counter& sent;
  prometheus::Counter& failed;
  prometheus::Counter& queue_full;
  prometheus::Counter& shutdown_timeout;
  prometheus::Gauge& queued;
  LogLimiter log_limiter{std::chrono::seconds(30)};
  std::thread flusher;
};

Result<std::unique_ptr<Pipeline>> Pipeline::create(const AgentConfig& config,
                                                   std::vector<ExporterPtr> exporters,
                                                   prometheus::Registry& metrics,
                                                   const AgentTags* tags,
                                                   const KubeMetadata* kube) {
  // Validate the patterns once here; each worker compiles its own copy.
  auto filter = NameFilter::create(config.pipeline.allow, config.pipeline.deny);
  if (!filter) return tl::unexpected(filter.error());
  if (kube != nullptr) {
    auto enricher = Enricher::create(config.pipeline.enrich, *kube);
    if (!enricher) return tl::unexpected(enricher.error());
  }
  return std::unique_ptr<Pipeline>(new Pipeline(config, std::move(exporters), metrics, tags, kube));
}

Pipeline::Pipeline(const AgentConfig& config, std::vector<ExporterPtr> exporters,
                   prometheus::Registry& metrics, const AgentTags* tags, const KubeMetadata* kube)
    : config_(config),
      drop_oldest_(config.pipeline.ring_full_policy == "drop_oldest"),
      own_tags_(tags == nullptr ? std::make_unique<AgentTags>(configuredTags(config)) : nullptr),
      tags_(tags != nullptr ? tags : own_tags_.get()),
      kube_(kube),
      ring_(config.pipeline.ring_capacity),
      metrics_(std::make_unique<Metrics>(metrics)) {
  metrics_->ring_capacity.Set(static_cast<double>(ring_.capacity()));
  for (ExporterPtr& exporter : exporters) {
    lanes_.push_back(std::make_unique<ExporterLane>(
        std::move(exporter), config.pipeline.exporter_queue_capacity, *metrics_));
  }
}

Pipeline::~Pipeline() {
  if (!shut_down_) shutdown(deadlineIn(config_.shutdown_timeout));
}

std::uint64_t Pipeline::ringDroppedSamples() const {
  return static_cast<std::uint64_t>(metrics_->ring_full.Value());
}

void Pipeline::dropBatch(SampleBatch* batch, prometheus::Counter& counter) {
  counter.Increment(static_cast<double>(batch->samples.size()));
  delete batch;
}

bool Pipeline::submit(SampleBatchPtr batch) {
  if (!batch) return true;
  // submitting_ lets shutdown() wait for submits that passed the check
  // below, so nothing lands in the ring after the workers drained it.
  submitting_.fetch_add(1, std::memory_order_acq_rel);
  const std::size_t samples = batch->samples.size();
  bool accepted = false;
  if (!accepting_.load(std::memory_order_acquire)) {
    dropBatch(batch.release(), metrics_->shutting_down);
  } else {
    metrics_->received.Increment(static_cast<double>(samples));
    SampleBatch* raw = batch.release();
    accepted = ring_.tryPush(raw);
    if (!accepted && drop_oldest_) {
      // Make room by dropping the oldest batch. Another producer may take
      // the freed cell first; then the newest is dropped after all.
      if (auto oldest = ring_.tryPop()) dropBatch(*oldest, metrics_->ring_full);
      accepted = ring_.tryPush(raw);
    }
    if (!accepted) dropBatch(raw, metrics_->ring_full);
    if (accepted) metrics_->ring_batches.Set(static_cast<double>(ring_.sizeApprox()));
  }
  submitting_.fetch_sub(1, std::memory_order_acq_rel);
  return accepted;
}

bool Pipeline::offer(SampleBatchPtr& batch) {
  if (!batch) return true;
  submitting_.fetch_add(1, std::memory_order_acq_rel);
  bool accepted = false;
  if (accepting_.load(std::memory_order_acquire) && !backedUp()) {
    const std::size_t samples = batch->samples.size();
    accepted = ring_.tryPush(batch.get());
    if (accepted) {
      (void)batch.release();
      metrics_->received.Increment(static_cast<double>(samples));
      metrics_->ring_batches.Set(static_cast<double>(ring_.sizeApprox()));
    }
  }
  submitting_.fetch_sub(1, std::memory_order_acq_rel);
  if (!accepted) metrics_->offers_refused.Increment();
  return accepted;
}

bool Pipeline::backedUp() const {
  const std::size_t limit = std::max<std::size_t>(config_.pipeline.exporter_queue_capacity / 2, 1);
  if (ring_.sizeApprox() >= limit) return true;
  return std::any_of(lanes_.begin(), lanes_.end(), [limit](const auto& lane) {
    return lane->queue.sizeApprox() >= limit || lane->exporter->backlogged();
  });
}

void Pipeline::start() {
  if (started_) return;
  started_ = true;
  for (auto& lane : lanes_) {
    lane->flusher = std::thread([this, l = lane.get()] { flusherLoop(*l); });
  }
  for (int i = 0; i < config_.pipeline.workers; ++i) {
    workers_.emplace_back([this] { workerLoop(); });
  }
}

void Pipeline::process(SampleBatchPtr batch, Tagger& tagger, NameFilter& filter,
                       Enricher* enricher) {
  const auto began = SteadyClock::now();
  metrics_->filtered.Increment(static_cast<double>(filter.apply(*batch)));
  // Before the tagger: where both would add a tag (a static `phase`, say),
  // the pod's own value is the more specific one and wins. A source that
  // tags its own series leaves such tags to this order (pipeline_only).
  if (enricher != nullptr) {
    const Enricher::Stats stats = enricher->apply(*batch);
    if (stats.enriched != 0) metrics_->enriched.Increment(static_cast<double>(stats.enriched));
    if (stats.unknown_pod != 0) {
      metrics_->enrich_unknown_pod.Increment(static_cast<double>(stats.unknown_pod));
    }
  }
  tagger.apply(*batch);
  const auto samples = static_cast<double>(batch->samples.size());
  metrics_->processed.Increment(samples);
  SharedBatch shared(std::move(batch));
  for (auto& lane : lanes_) enqueue(*lane, shared, samples);
  metrics_->processing_seconds.Increment(
      std::chrono::duration<double>(SteadyClock::now() - began).count());
}

void Pipeline::enqueue(ExporterLane& lane, const SharedBatch& shared, double samples) {
  auto* handle = new SharedBatch(shared);
  if (!lane.queue.tryPush(handle)) {
    lane.queue_full.Increment(samples);
    delete handle;
    if (lane.log_limiter.allow("queue_full")) {
      logWarn("pipeline") << "exporter " << lane.exporter->name()
                          << " queue is full: dropping its copy of a batch (" << samples
                          << " samples); the backend is slower than the sources";
    }
  }
  lane.queued.Set(static_cast<double>(lane.queue.sizeApprox()));
}

bool Pipeline::submitTo(SampleBatchPtr batch, std::span<const std::string> exporters) {
  if (!batch) return true;
  // As in submit(): shutdown() waits for this call before the flushers
  // drain, so no handle is left in a queue nobody reads.
  submitting_.fetch_add(1, std::memory_order_acq_rel);
  bool delivered = false;
  if (accepting_.load(std::memory_order_acquire)) {
    // A fresh tagger: its cache would hold one interval's series at most.
    Tagger tagger(*tags_);
    tagger.apply(*batch);
    const auto samples = static_cast<double>(batch->samples.size());
    SharedBatch shared(std::move(batch));
    for (auto& lane : lanes_) {
      if (std::find(exporters.begin(), exporters.end(), lane->exporter->name()) ==
          exporters.end()) {
        continue;
      }
      enqueue(*lane, shared, samples);
      delivered = true;
    }
  }
  submitting_.fetch_sub(1, std::memory_order_acq_rel);
  return delivered;
}

void Pipeline::workerLoop() {
  Tagger tagger(*tags_);
  auto filter = NameFilter::create(config_.pipeline.allow, config_.pipeline.deny);
  // create() proved the patterns compile.
  std::unique_ptr<Enricher> enricher;
  if (kube_ != nullptr) enricher = std::move(*Enricher::create(config_.pipeline.enrich, *kube_));
  for (;;) {
    auto item = ring_.waitPop(kIdleWait);
    if (item) {
      metrics_->ring_batches.Set(static_cast<double>(ring_.sizeApprox()));
      process(SampleBatchPtr(*item), tagger, *filter, enricher.get());
      continue;
    }
    // Exit only once stopped and the ring is empty: the drain guarantee.
    if (stop_workers_.load(std::memory_order_acquire) && ring_.sizeApprox() == 0) return;
  }
}

void Pipeline::flusherLoop(ExporterLane& lane) {
  for (;;) {
    auto item = lane.queue.waitPop(kIdleWait);
    if (!item) {
      if (stop_flushers_.load(std::memory_order_acquire) && lane.queue.sizeApprox() == 0) return;
      continue;
    }
    std::unique_ptr<SharedBatch> handle(*item);
    lane.queued.Set(static_cast<double>(lane.queue.sizeApprox()));
    const auto samples = static_cast<double>((*handle)->samples.size());
    const std::int64_t deadline_ns = drain_deadline_ns_.load(std::memory_order_acquire);
    if (deadline_ns != 0 && toNanos(SteadyClock::now()) > deadline_ns) {
      lane.shutdown_timeout.Increment(samples);
      continue;
    }
    waitWhileBacklogged(lane);
    Result<void> sent = lane.exporter->send(std::move(*handle));
    if (sent) {
      lane.sent.Increment(samples);
    } else {
      lane.failed.Increment(samples);
      std::uint64_t suppressed = 0;
      if (lane.log_limiter.allow("send", &suppressed)) {
        logWarn("pipeline") << "exporter " << lane.exporter->name()
                            << " failed: " << sent.error().message() << " (" << suppressed
                            << " similar errors suppressed)";
      }
    }
  }
}

// A backlogged exporter (no spool, its queue filling) would drop what it
// is given now: hold the batch here instead, so this lane fills, offer()
// refuses, and the listeners hold their senders back. Scraped batches that
// find the lane full are dropped and counted, as for any slow exporter.
// Bounded by the drain deadline once shutdown() has set one.
void Pipeline::waitWhileBacklogged(ExporterLane& lane) {
  constexpr auto kPoll = std::chrono::milliseconds(5);
  while (lane.exporter->backlogged()) {
    const std::int64_t deadline_ns = drain_deadline_ns_.load(std::memory_order_acquire);
    if (deadline_ns != 0 && toNanos(SteadyClock::now()) > deadline_ns) return;
    std::this_thread::sleep_for(kPoll);
  }
}

void Pipeline::prepareForTermination(std::chrono::system_clock::time_point at) {
  for (auto& lane : lanes_) lane->exporter->prepareForTermination(at);
}

void Pipeline::shutdown(Deadline deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  accepting_.store(false, std::memory_order_release);
  while (submitting_.load(std::memory_order_acquire) != 0) std::this_thread::yield();

  drain_deadline_ns_.store(toNanos(deadline), std::memory_order_release);
  const std::size_t pending = ring_.sizeApprox();
  if (!started_) {
    // Never started: drain on this thread so queued samples still go out.
    start();
  }
  stop_workers_.store(true, std::memory_order_release);
  ring_.wakeAll();
  for (std::thread& t : workers_) t.join();
  workers_.clear();

  stop_flushers_.store(true, std::memory_order_release);
  for (auto& lane : lanes_) lane->queue.wakeAll();
  for (auto& lane : lanes_) {
    if (lane->flusher.joinable()) lane->flusher.join();
  }
  // In parallel: every exporter gets the whole deadline to send or spool
  // what it holds; one stuck on a dead backend does not use up the others'.
  std::vector<std::thread> stopping;
  for (auto& lane : lanes_) {
    stopping.emplace_back(
        [exporter = lane->exporter.get(), deadline] { exporter->shutdown(deadline); });
  }
  for (std::thread& t : stopping) t.join();
  logInfo("pipeline") << "drained: " << pending << " batches were in the ring at shutdown";
}

}  // namespace kubemetrics
