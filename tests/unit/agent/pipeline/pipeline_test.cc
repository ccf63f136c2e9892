#include "agent/pipeline/pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "support/fake_kube_metadata.h"
#include "support/registry_value.h"

namespace kubemetrics {
namespace {

using testing::registryValue;

/// Records every batch it is sent; optionally blocks each send until
/// released, to build a backlog.
class RecordingExporter : public Exporter {
 public:
  explicit RecordingExporter(std::string name, std::chrono::milliseconds delay = {})
      : name_(std::move(name)), delay_(delay) {}

  std::string_view name() const override { return name_; }
  Result<void> send(SharedBatch batch) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      released_cv_.wait(lock, [&] { return released_; });
    }
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    std::lock_guard<std::mutex> lock(mu_);
    batches_.push_back(std::move(batch));
    return {};
  }
  void shutdown(Deadline) override { ++shutdowns_; }
  bool backlogged() const override { return backlogged_.load(); }

  void setBacklogged(bool backlogged) { backlogged_ = backlogged; }
  void hold() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = false;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    released_cv_.notify_all();
  }
  std::vector<SharedBatch> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  int shutdowns() const { return shutdowns_; }

 private:
  std::string name_;
  std::chrono::milliseconds delay_;
  std::mutex mu_;
  std::condition_variable released_cv_;
  bool released_ = true;
  std::vector<SharedBatch> batches_;
  std::atomic<int> shutdowns_{0};
  std::atomic<bool> backlogged_{false};
};

AgentConfig testConfig() {
  AgentConfig config;
  config.cluster = "test-cluster";
  config.node = "node-a";
  config.shutdown_timeout = std::chrono::seconds(10);
  return config;
}

SampleBatchPtr makeBatch(int id, int samples, std::string_view name = "test.metric") {
  auto batch = std::make_unique<SampleBatch>();
  batch->source = "test";
  for (int i = 0; i < samples; ++i) {
    LabelsBuilder b;
    b.set("batch", std::to_string(id));
    b.set("index", std::to_string(i));
    batch->samples.push_back(Sample{Symbol::intern(name), b.build(), double(id), 1000});
  }
  return batch;
}

struct Fixture {
  explicit Fixture(AgentConfig config, std::vector<RecordingExporter*>* out = nullptr,
                   int exporters = 1, const AgentTags* tags = nullptr,
                   const KubeMetadata* kube = nullptr) {
    std::vector<ExporterPtr> list;
    for (int i = 0; i < exporters; ++i) {
      auto e = std::make_unique<RecordingExporter>("rec" + std::to_string(i));
      if (out) out->push_back(e.get());
      list.push_back(std::move(e));
    }
    auto created = Pipeline::create(config, std::move(list), registry, tags, kube);
    EXPECT_TRUE(created.has_value());
    pipeline = std::move(*created);
  }
  prometheus::Registry registry;
  std::unique_ptr<Pipeline> pipeline;
};

void waitForBatches(RecordingExporter& recorder, std::size_t n) {
  const auto until = SteadyClock::now() + std::chrono::seconds(10);
  while (recorder.batches().size() < n && SteadyClock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Pushed data (offer) is never dropped: refused while an exporter's lane
// is half full, taken again once it drains, every sample delivered once.
TEST(PipelineTest, OfferRefusesWhileALaneIsHalfFullAndNeverDrops) {
  AgentConfig config = testConfig();
  config.pipeline.exporter_queue_capacity = 8;
  std::vector<RecordingExporter*> exporters;
  Fixture f(config, &exporters);
  f.pipeline->start();
  exporters[0]->hold();
  int offered = 0;
  int refused = 0;
  for (int i = 0; i < 40 && refused == 0; ++i) {
    SampleBatchPtr batch = makeBatch(i, 1);
    if (f.pipeline->offer(batch)) {
      ++offered;
      EXPECT_EQ(batch, nullptr);
    } else {
      ++refused;
      EXPECT_NE(batch, nullptr);  // still the caller's
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // let the worker move it on
  }
  EXPECT_EQ(refused, 1);
  EXPECT_LE(offered, 8);  // at most half the lane, plus one in the flusher's hands
  exporters[0]->release();
  waitForBatches(*exporters[0], static_cast<std::size_t>(offered));
  SampleBatchPtr later = makeBatch(99, 1);
  EXPECT_TRUE(f.pipeline->offer(later));
  f.pipeline->shutdown(deadlineIn(std::chrono::seconds(5)));
  EXPECT_EQ(exporters[0]->batches().size(), static_cast<std::size_t>(offered + 1));
  EXPECT_EQ(f.pipeline->ringDroppedSamples(), 0u);
}

// An exporter that would drop more (no spool, queue filling) is not given
// batches: they wait in its lane, and pushed data is refused meanwhile.
TEST(PipelineTest, ABackloggedExporterIsHeldBackAndOffersAreRefused) {
  std::vector<RecordingExporter*> exporters;
  Fixture f(testConfig(), &exporters);
  f.pipeline->start();
  exporters[0]->setBacklogged(true);
  ASSERT_TRUE(f.pipeline->submit(makeBatch(1, 3)));
  SampleBatchPtr pushed = makeBatch(2, 1);
  EXPECT_FALSE(f.pipeline->offer(pushed));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(exporters[0]->batches().empty());  // held in the lane, not sent
  exporters[0]->setBacklogged(false);
  waitForBatches(*exporters[0], 1);
  EXPECT_TRUE(f.pipeline->offer(pushed));
  f.pipeline->shutdown(deadlineIn(std::chrono::seconds(5)));
  EXPECT_EQ(exporters[0]->batches().size(), 2u);
}

// Runs one batch through a pipeline of `config`: makeBatch's sample, then a
// "proxied" sample that brings `label`=`value` of its own. Returns the batch
// the exporter got (null when it got another count) and its shutdowns.
SharedBatch tagOneBatch(const AgentConfig& config, const std::string& label,
                        const std::string& value, int* shutdowns) {
  std::vector<RecordingExporter*> exporters;
  Fixture f(config, &exporters);
  f.pipeline->start();
  auto batch = makeBatch(1, 1);
  LabelsBuilder own;
  own.set(label, value);
  batch->samples.push_back(Sample{Symbol::intern("proxied"), own.build(), 2, 1000});
  EXPECT_TRUE(f.pipeline->submit(std::move(batch)));
  f.pipeline->shutdown(deadlineIn(std::chrono::seconds(5)));
  *shutdowns = exporters[0]->shutdowns();
  auto got = exporters[0]->batches();
  EXPECT_EQ(got.size(), 1u);
  return got.size() == 1 ? got[0] : nullptr;
}

TEST(PipelineTest, AddsClusterNodeAndStaticTagsKeepingExistingLabels) {
  AgentConfig config = testConfig();
  config.pipeline.tags = {{"env", "prod"}};
  int shutdowns = 0;
  SharedBatch got = tagOneBatch(config, "cluster", "theirs", &shutdowns);
  ASSERT_NE(got, nullptr);
  const Sample& tagged = got->samples[0];
  EXPECT_EQ(tagged.labels.get("cluster"), "test-cluster");
  EXPECT_EQ(tagged.labels.get("node"), "node-a");
  EXPECT_EQ(tagged.labels.get("env"), "prod");
  EXPECT_EQ(tagged.labels.get("batch"), "1");
  EXPECT_EQ(got->samples[1].labels.get("cluster"), "theirs");
  EXPECT_EQ(shutdowns, 1);
}

TEST(PipelineTest, LeavesOutTheNodeTagWhenSwitchedOff) {
  AgentConfig config = testConfig();
  config.pipeline.node_tag = false;
  int shutdowns = 0;
  SharedBatch got = tagOneBatch(config, "node", "sender-node", &shutdowns);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->samples[0].labels.get("cluster"), "test-cluster");
  EXPECT_FALSE(got->samples[0].labels.contains("node"));
  // A node label the sample brings is its own, untouched.
  EXPECT_EQ(got->samples[1].labels.get("node"), "sender-node");
}

TEST(PipelineTest, RuntimeTagsApplyFromTheNextBatchOn) {
  AgentConfig config = testConfig();
  RuntimeTags runtime;
  AgentTags tags(configuredTags(config), &runtime);
  std::vector<RecordingExporter*> exporters;
  Fixture f(config, &exporters, 1, &tags);
  f.pipeline->start();
  f.pipeline->submit(makeBatch(1, 1));
  waitForBatches(*exporters[0], 1);
  runtime.set({{"instance_id", "i-0abc"}, {"region", "eu-west-1"}});
  f.pipeline->submit(makeBatch(2, 1));
  waitForBatches(*exporters[0], 2);
  runtime.set({});
  f.pipeline->submit(makeBatch(3, 1));
  f.pipeline->shutdown(deadlineIn(std::chrono::seconds(5)));
  auto got = exporters[0]->batches();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0]->samples[0].labels.get("instance_id"), "");
  EXPECT_EQ(got[1]->samples[0].labels.get("instance_id"), "i-0abc");
  EXPECT_EQ(got[1]->samples[0].labels.get("region"), "eu-west-1");
  EXPECT_EQ(got[1]->samples[0].labels.get("cluster"), "test-cluster");
  EXPECT_EQ(got[2]->samples[0].labels.get("instance_id"), "");
}

TEST(PipelineTest, LeavesABatchTheSourceTaggedWithTheCurrentTags) {
  AgentConfig config = testConfig();
  RuntimeTags runtime;
  AgentTags tags(configuredTags(config), &runtime);
  std::vector<RecordingExporter*> exporters;
  Fixture f(config, &exporters, 1, &tags);
  f.pipeline->start();
  const std::uint64_t before = tags.version();
  auto current = makeBatch(1, 1);
  current->tags_version = before;
  f.pipeline->submit(std::move(current));
  waitForBatches(*exporters[0], 1);
  runtime.set({{"region", "eu-west-1"}});
  auto stale = makeBatch(2, 1);
  stale->tags_version = before;
  f.pipeline->submit(std::move(stale));
  f.pipeline->shutdown(deadlineIn(std::chrono::seconds(5)));
  auto got = exporters[0]->batches();
  ASSERT_EQ(got.size(), 2u);
  // Tagged by its source: the pipeline adds nothing (not even cluster,
  // which this test's source did not add, so the skip is visible).
  EXPECT_EQ(got[0]->samples[0].labels.get("cluster"), "");
  // Tagged under tags that changed since: the pipeline adds the current ones.
  EXPECT_EQ(got[1]->samples[0].labels.get("cluster"), "test-cluster");
  EXPECT_EQ(got[1]->samples[0].labels.get("region"), "eu-west-1");
}

TEST(PipelineTest, AllowAndDenyFilterByFullName) {
  AgentConfig config = testConfig();
  config.pipeline.allow = {"node_.*", "kubernetes\\..*"};
  config.pipeline.deny = {"node_scrape_.*"};
  std::vector<RecordingExporter*> exporters;
  Fixture f(config, &exporters);
  f.pipeline->start();
  auto batch = std::make_unique<SampleBatch>();
  for (const char* name : {"node_cpu_seconds_total", "node_scrape_duration", "go_goroutines",
                           "kubernetes.pod.cpu.usage_rate", "xnode_cpu"}) {
    batch->samples.push_back(Sample{Symbol::intern(name), Labels(), 1, 1});
  }
  f.pipeline->submit(std::move(batch));
  f.pipeline->shutdown(deadlineIn(std::chrono::seconds(5)));
  auto got = exporters[0]->batches();
  ASSERT_EQ(got.size(), 1u);
  std::vector<std::string> names;
  for (const Sample& s : got[0]->samples) names.push_back(s.name.str());
  EXPECT_EQ(names,
            (std::vector<std::string>{"node_cpu_seconds_total", "kubernetes.pod.cpu.usage_rate"}));
  EXPECT_EQ(registryValue(f.registry, "kubemetrics_pipeline_filtered_samples_total"), 3);
}

// submitTo (the self-metrics' route) reaches the named exporters only,
// tagged like every batch, past allow/deny, outside the pipeline's counts.
TEST(PipelineTest, SubmitToReachesOnlyTheNamedExportersTaggedAndUnfiltered) {
  AgentConfig config = testConfig();
  config.pipeline.allow = {"collected_.*"};
  std::vector<RecordingExporter*> exporters;
  Fixture f(config, &exporters, 3);
  f.pipeline->start();
  const std::vector<std::string> to = {"rec0", "rec2", "absent"};
  ASSERT_TRUE(f.pipeline->submitTo(makeBatch(7, 2, "kubemetrics_self_total"), to));
  const std::vector<std::string> nobody = {"absent"};
  EXPECT_FALSE(f.pipeline->submitTo(makeBatch(8, 1, "kubemetrics_self_total"), nobody));
  f.pipeline->shutdown(deadlineIn(std::chrono::seconds(5)));

  EXPECT_TRUE(exporters[1]->batches().empty());
  for (RecordingExporter* named : {exporters[0], exporters[2]}) {
    auto got = named->batches();
    ASSERT_EQ(got.size(), 1u) << named->name();
    ASSERT_EQ(got[0]->samples.size(), 2u);
    const Sample& sample = got[0]->samples[0];
    EXPECT_EQ(sample.name.view(), "kubemetrics_self_total");
    EXPECT_EQ(sample.labels.get("cluster"), "test-cluster");
    EXPECT_EQ(sample.labels.get("node"), "node-a");
  }
  EXPECT_EQ(registryValue(f.registry, "kubemetrics_pipeline_filtered_samples_total"), 0);
  EXPECT_EQ(registryValue(f.registry, "kubemetrics_pipeline_processed_samples_total"), 0);
  // Stopped: refused, nothing queued where no flusher reads.
  const std::vector<std::string> first = {"rec0"};
  EXPECT_FALSE(f.pipeline->submitTo(makeBatch(9, 1), first));
  EXPECT_EQ(exporters[0]->batches().size(), 1u);
}

TEST(PipelineTest, InvalidPatternFailsCreation) {
  AgentConfig config = testConfig();
  config.pipeline.deny = {"(unclosed"};
  prometheus::Registry registry;
  auto created = Pipeline::create(config, {}, registry);
  ASSERT_FALSE(created.has_value());
  EXPECT_NE(created.error().message().find("(unclosed"), std::string::npos);
}

TEST(PipelineTest, FullRingDropsNewestAndCountsEverySample) {
  AgentConfig config = testConfig();
  config.pipeline.ring_capacity = 4;
  std::vector<RecordingExporter*> exporters;
  Fixture f(config, &exporters);
  // Not started: nothing consumes, so the ring fills after 4 batches.
  int accepted = 0;
  for (int i = 0; i < 10; ++i) accepted += f.pipeline->submit(makeBatch(i, 3)) ? 1 : 0;
  EXPECT_EQ(accepted, 4);
  EXPECT_EQ(f.pipeline->ringDroppedSamples(), 18u);
  EXPECT_EQ(registryValue(f.registry, "kubemetrics_pipeline_dropped_samples_total",
                          {{"reason", "ring_full"}}),
            18);
  f.pipeline->shutdown(deadlineIn(std::chrono::seconds(5)));
  auto got = exporters[0]->batches();
  ASSERT_EQ(got.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(got[i]->samples[0].value, i);  // the oldest kept
}

TEST(PipelineTest, DropOldestPolicyKeepsTheNewest) {
  AgentConfig config = testConfig();
  config.pipeline.ring_capacity = 4;
  config.pipeline.ring_full_policy = "drop_oldest";
  std::vector<RecordingExporter*> exporters;
  Fixture f(config, &exporters);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(f.pipeline->submit(makeBatch(i, 3)));
  EXPECT_EQ(f.pipeline->ringDroppedSamples(), 18u);
  f.pipeline->shutdown(deadlineIn(std::chrono::seconds(5)));
  auto got = exporters[0]->batches();
  ASSERT_EQ(got.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(got[i]->samples[0].value, 6 + i);
}

TEST(PipelineTest, ShutdownDrainsEverythingAlreadyInTheRingInOrder) {
  AgentConfig config = testConfig();
  std::vector<RecordingExporter*> exporters;
  Fixture f(config, &exporters, 2);
  // A held exporter builds a backlog in the ring and in the queues.
  exporters[0]->hold();
  exporters[1]->hold();
  f.pipeline->start();
  constexpr int kBatches = 200;
  for (int i = 0; i < kBatches; ++i) ASSERT_TRUE(f.pipeline->submit(makeBatch(i, 5)));
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    exporters[0]->release();
    exporters[1]->release();
  });
  f.pipeline->shutdown(deadlineIn(std::chrono::seconds(10)));
  releaser.join();
  for (RecordingExporter* e : exporters) {
    auto got = e->batches();
    ASSERT_EQ(got.size(), static_cast<size_t>(kBatches));
    for (int i = 0; i < kBatches; ++i) ASSERT_EQ(got[i]->samples[0].value, i);
  }
  EXPECT_EQ(
      registryValue(f.registry, "kubemetrics_exporter_sent_samples_total", {{"exporter", "rec1"}}),
      kBatches * 5);
  EXPECT_FALSE(f.pipeline->submit(makeBatch(0, 2)));
  EXPECT_EQ(registryValue(f.registry, "kubemetrics_pipeline_dropped_samples_total",
                          {{"reason", "shutdown"}}),
            2);
}

TEST(PipelineTest, SlowExporterOnlyFillsItsOwnQueue) {
  AgentConfig config = testConfig();
  config.pipeline.exporter_queue_capacity = 2;
  prometheus::Registry registry;
  auto slow = std::make_unique<RecordingExporter>("slow");
  auto fast = std::make_unique<RecordingExporter>("fast");
  RecordingExporter* slow_ptr = slow.get();
  RecordingExporter* fast_ptr = fast.get();
  slow_ptr->hold();
  std::vector<ExporterPtr> list;
  list.push_back(std::move(slow));
  list.push_back(std::move(fast));
  auto pipeline = std::move(*Pipeline::create(config, std::move(list), registry));
  pipeline->start();
  // Paced so the fast exporter keeps up; it gets every batch while the
  // slow one is stuck and its small queue overflows.
  const auto until = SteadyClock::now() + std::chrono::seconds(10);
  for (int i = 0; i < 50; ++i) {
    pipeline->submit(makeBatch(i, 1));
    while (fast_ptr->batches().size() < static_cast<size_t>(i + 1) && SteadyClock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  EXPECT_EQ(fast_ptr->batches().size(), 50u);
  slow_ptr->release();
  pipeline->shutdown(deadlineIn(std::chrono::seconds(5)));
  const double dropped = registryValue(registry, "kubemetrics_exporter_dropped_samples_total",
                                       {{"exporter", "slow"}, {"reason", "queue_full"}});
  EXPECT_GT(dropped, 0);
  EXPECT_EQ(slow_ptr->batches().size() + static_cast<size_t>(dropped), 50u);
}

TEST(PipelineTest, ShutdownDeadlineBoundsTheDrain) {
  AgentConfig config = testConfig();
  prometheus::Registry registry;
  auto slow = std::make_unique<RecordingExporter>("slow", std::chrono::milliseconds(50));
  RecordingExporter* slow_ptr = slow.get();
  std::vector<ExporterPtr> list;
  list.push_back(std::move(slow));
  auto pipeline = std::move(*Pipeline::create(config, std::move(list), registry));
  pipeline->start();
  for (int i = 0; i < 100; ++i) pipeline->submit(makeBatch(i, 1));
  const auto began = SteadyClock::now();
  pipeline->shutdown(deadlineIn(std::chrono::milliseconds(300)));
  EXPECT_LT(SteadyClock::now() - began, std::chrono::seconds(2));
  const double timed_out = registryValue(registry, "kubemetrics_exporter_dropped_samples_total",
                                         {{"exporter", "slow"}, {"reason", "shutdown_timeout"}});
  EXPECT_GT(timed_out, 0);
  EXPECT_EQ(slow_ptr->batches().size() + static_cast<size_t>(timed_out), 100u);
}

TEST(PipelineTest, ManyProducersLoseNothingWhenTheRingHasRoom) {
  AgentConfig config = testConfig();
  constexpr int kProducers = 4, kPerProducer = 500;
  config.pipeline.workers = 2;
  // Room for every batch in the ring and in the exporter queue: on a loaded
  // machine the exporter thread may not run at all until producers finish.
  config.pipeline.exporter_queue_capacity = kProducers * kPerProducer;
  std::vector<RecordingExporter*> exporters;
  Fixture f(config, &exporters);
  f.pipeline->start();
  std::vector<std::thread> producers;
  std::atomic<int> accepted{0};
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        accepted += f.pipeline->submit(makeBatch(p * kPerProducer + i, 2)) ? 1 : 0;
      }
    });
  }
  for (auto& t : producers) t.join();
  f.pipeline->shutdown(deadlineIn(std::chrono::seconds(10)));
  EXPECT_EQ(accepted.load(), kProducers * kPerProducer);
  std::vector<bool> seen(kProducers * kPerProducer);
  for (const auto& b : exporters[0]->batches()) {
    const int id = static_cast<int>(b->samples[0].value);
    ASSERT_FALSE(seen[id]) << "duplicate batch " << id;
    seen[id] = true;
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), true), kProducers * kPerProducer);
}

TEST(PipelineTest, EnrichesPodAndNodeSamplesFromTheLatestSnapshot) {
  testing::FakeKubeMetadata kube;
  KubePod pod;
  pod.namespace_name = "shop";
  pod.name = "web-1";
  pod.phase = "Running";
  pod.labels = {{"app", "web"}};
  pod.workload_kind = "StatefulSet";
  pod.workload_name = "web";
  kube.setPod(pod);
  KubeNode node;
  node.name = "node-a";
  node.role = "worker";
  kube.setNode(node);
  AgentConfig config = testConfig();
  config.pipeline.enrich.enabled = true;
  std::vector<RecordingExporter*> exporters;
  Fixture f(config, &exporters, 1, nullptr, &kube);
  f.pipeline->start();

  auto sampleBatch = [](std::string_view pod_name) {
    auto batch = std::make_unique<SampleBatch>();
    LabelsBuilder b;
    b.set("namespace_name", "shop").set("pod_name", pod_name).set("nodename", "node-a");
    batch->samples.push_back(Sample{Symbol::intern("kubernetes.pod.cpu.usage"), b.build(), 1, 1});
    b.clear();
    b.set("nodename", "node-a");
    batch->samples.push_back(Sample{Symbol::intern("kubernetes.node.cpu.usage"), b.build(), 2, 1});
    return batch;
  };
  ASSERT_TRUE(f.pipeline->submit(sampleBatch("web-1")));
  waitForBatches(*exporters[0], 1);
  ASSERT_EQ(exporters[0]->batches().size(), 1u);
  // Relabelled mid-run: the next batch carries the new value.
  pod.labels = {{"app", "web-v2"}};
  kube.setPod(pod);
  ASSERT_TRUE(f.pipeline->submit(sampleBatch("web-1")));
  ASSERT_TRUE(f.pipeline->submit(sampleBatch("not-listed")));
  f.pipeline->shutdown(deadlineIn(std::chrono::seconds(5)));

  auto got = exporters[0]->batches();
  ASSERT_EQ(got.size(), 3u);
  const Labels& first = got[0]->samples[0].labels;
  EXPECT_EQ(first.get("label.app"), "web");
  EXPECT_EQ(first.get("workload_kind"), "StatefulSet");
  EXPECT_EQ(first.get("phase"), "Running");
  EXPECT_EQ(first.get("cluster"), "test-cluster");  // the tagger still ran
  EXPECT_FALSE(first.contains("node_role"));
  EXPECT_EQ(got[0]->samples[1].labels.get("node_role"), "worker");
  EXPECT_EQ(got[1]->samples[0].labels.get("label.app"), "web-v2");
  EXPECT_FALSE(got[2]->samples[0].labels.contains("label.app"));
  EXPECT_EQ(got[2]->samples[0].labels.get("cluster"), "test-cluster");
  EXPECT_EQ(registryValue(f.registry, "kubemetrics_pipeline_enriched_samples_total", {}), 5);
  EXPECT_EQ(registryValue(f.registry, "kubemetrics_pipeline_enrich_unknown_pod_samples_total", {}),
            1);
}

TEST(PipelineTest, WithoutKubeMetadataNothingIsEnriched) {
  AgentConfig config = testConfig();
  // The flag alone does nothing: the metadata comes from the caller.
  config.pipeline.enrich.enabled = true;
  std::vector<RecordingExporter*> exporters;
  Fixture f(config, &exporters);
  f.pipeline->start();
  ASSERT_TRUE(f.pipeline->submit(makeBatch(1, 2)));
  f.pipeline->shutdown(deadlineIn(std::chrono::seconds(5)));
  ASSERT_EQ(exporters[0]->batches().size(), 1u);
  EXPECT_EQ(registryValue(f.registry, "kubemetrics_pipeline_enriched_samples_total", {}), 0);
}

TEST(PipelineTest, InvalidEnrichPatternFailsCreation) {
  testing::FakeKubeMetadata kube;
  AgentConfig config = testConfig();
  config.pipeline.enrich.enabled = true;
  config.pipeline.enrich.pod_labels.allow = {"(unclosed"};
  prometheus::Registry registry;
  auto created = Pipeline::create(config, {}, registry, nullptr, &kube);
  ASSERT_FALSE(created.has_value());
  EXPECT_NE(created.error().message().find("pipeline.enrich.pod_labels.allow[0]"),
            std::string::npos);
}

}  // namespace
}  // namespace kubemetrics
