#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_config.h"
#include "agent/pipeline/name_filter.h"
#include "kubemetrics/agent_tags.h"
#include "kubemetrics/deadline.h"
#include "kubemetrics/exporter.h"
#include "kubemetrics/kube_metadata.h"
#include "kubemetrics/listener.h"
#include "kubemetrics/ring.h"
#include "kubemetrics/sample.h"

namespace kubemetrics {

/// The static tags the config asks for: `cluster`, `node`, then
/// `pipeline.tags`.
AgentTags::Tags configuredTags(const AgentConfig& config);

/// sources -> ring -> processors -> one bounded queue per exporter.
///
/// submit() is called by every source thread: it is lock-free and never
/// blocks; when the ring is full the configured policy drops the newest
/// batch (the one being submitted) or the oldest one in the ring, and the
/// dropped samples are counted. Worker threads pop batches, filter names,
/// add Kubernetes metadata (when given a KubeMetadata; Enricher), add the
/// agent's tags, then share the batch read-only with every
/// exporter's queue; a full queue drops that exporter's copy only (counted),
/// so a dead backend never stalls the others. One flusher thread per
/// exporter calls Exporter::send in order.
///
/// shutdown() stops intake, drains the ring through the processors, drains
/// every queue into its exporter, then calls every Exporter::shutdown at
/// once (one thread each, so each has the whole time), all by the
/// deadline: batches still queued at the deadline are dropped and counted.
///
/// offer() (SampleSink, for the listeners) never drops: it refuses a batch
/// while the ring or any exporter's queue is half of
/// `exporter_queue_capacity` full, or an exporter is backlogged (would drop
/// more), so pushed data waits at its sender, and the other half stays for
/// the scraped sources.
///
/// Thread-safe: submit() and offer() from any thread; start() and
/// shutdown() from the owner's thread only.
class Pipeline final : public SampleSink {
 public:
  /// Fails when an allow/deny pattern (pipeline.allow/deny,
  /// pipeline.enrich.*) does not compile.
  /// `tags` (the agent's, shared with the sources that add them themselves)
  /// must outlive the pipeline; when null the pipeline adds configuredTags().
  /// `kube`, when not null, enriches every batch (pipeline.enrich) and must
  /// outlive the pipeline; the caller passes it only when enrichment is on.
  static Result<std::unique_ptr<Pipeline>> create(const AgentConfig& config,
                                                  std::vector<ExporterPtr> exporters,
                                                  prometheus::Registry& metrics,
                                                  const AgentTags* tags = nullptr,
                                                  const KubeMetadata* kube = nullptr);
  ~Pipeline() override;

  /// Hands a batch to the ring. True when it entered the ring (with
  /// drop_oldest, possibly by dropping an older batch); false when it was
  /// dropped because the ring was full or the pipeline is shutting down.
  bool submit(SampleBatchPtr batch);
  // kubemetrics::SampleSink
  bool offer(SampleBatchPtr& batch) override;
  /// Hands `batch` to the exporters named in `exporters` only; the others
  /// never see it. For the agent's own self-metrics, which only the
  /// exporters that ask for them receive (`self_metrics: true`). The batch
  /// gets the agent's tags like every other, but skips pipeline.allow/deny
  /// and enrichment (those select and describe collected series) and the
  /// pipeline's sample counters. Runs on the caller's thread without the
  /// ring: a batch or two per interval is not worth a routing field on
  /// every batch. Never blocks; a full queue drops that exporter's copy
  /// (counted as queue_full). False when stopping or no exporter matched.
  bool submitTo(SampleBatchPtr batch, std::span<const std::string> exporters);

  void start();
  void shutdown(Deadline deadline);
  /// Passes a termination notice to every exporter
  /// (Exporter::prepareForTermination). Any thread, until shutdown().
  void prepareForTermination(std::chrono::system_clock::time_point at);

  /// Batches in the ring now (approximate while threads run).
  std::size_t ringSize() const { return ring_.sizeApprox(); }
  /// Samples dropped so far because the ring was full.
  std::uint64_t ringDroppedSamples() const;

 private:
  struct ExporterLane;
  struct Metrics;

  Pipeline(const AgentConfig& config, std::vector<ExporterPtr> exporters,
           prometheus::Registry& metrics, const AgentTags* tags, const KubeMetadata* kube);
  void workerLoop();
  void process(SampleBatchPtr batch, class Tagger& tagger, NameFilter& filter,
               class Enricher* enricher);
  void enqueue(ExporterLane& lane, const SharedBatch& shared, double samples);
  void flusherLoop(ExporterLane& lane);
  void waitWhileBacklogged(ExporterLane& lane);
  void dropBatch(SampleBatch* batch, prometheus::Counter& counter);
  bool backedUp() const;

  const AgentConfig config_;
  const bool drop_oldest_;
  std::unique_ptr<AgentTags> own_tags_;  // when create() got none
  const AgentTags* tags_;
  const KubeMetadata* kube_;  // null: no enrichment
  BoundedRing<SampleBatch*> ring_;
  std::vector<std::unique_ptr<ExporterLane>> lanes_;
  std::unique_ptr<Metrics> metrics_;

  std::atomic<bool> accepting_{true};
  std::atomic<int> submitting_{0};
  std::atomic<bool> stop_workers_{false};
  std::atomic<bool> stop_flushers_{false};
  std::atomic<std::int64_t> drain_deadline_ns_{0};
  std::vector<std::thread> workers_;
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace kubemetrics
