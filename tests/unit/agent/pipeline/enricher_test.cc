#include "agent/pipeline/enricher.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "support/fake_kube_metadata.h"

namespace kubemetrics {
namespace {

using testing::FakeKubeMetadata;

KubePod webPod(std::map<std::string, std::string, std::less<>> labels) {
  KubePod pod;
  pod.namespace_name = "shop";
  pod.name = "web-7d4b9c-x2x9z";
  pod.uid = "0b6f2c4e-1111-2222-3333-444455556666";
  pod.node_name = "node-a";
  pod.phase = "Running";
  pod.labels = std::move(labels);
  pod.workload_kind = "Deployment";
  pod.workload_name = "web";
  return pod;
}

KubeNode nodeA() {
  KubeNode node;
  node.name = "node-a";
  node.role = "worker";
  node.labels = {{"topology.kubernetes.io/zone", "eu-west-1a"},
                 {"kubernetes.io/arch", "amd64"},
                 {"node-role.kubernetes.io/worker", ""}};
  return node;
}

Labels labelsOf(std::initializer_list<std::pair<std::string_view, std::string_view>> items) {
  LabelsBuilder b;
  for (const auto& [name, value] : items) b.set(name, value);
  return b.build();
}

SampleBatch batchOf(std::initializer_list<Labels> series) {
  SampleBatch batch;
  batch.source = "test";
  for (const Labels& labels : series) {
    batch.samples.push_back(Sample{Symbol::intern("kubernetes.pod.cpu.usage"), labels, 1, 1000});
  }
  return batch;
}

// A kubelet pod sample (tags as scrapers/kubelet/emitter.cc writes them).
Labels kubeletPodSample() {
  return labelsOf({{"type", "pod"},
                   {"nodename", "node-a"},
                   {"namespace_name", "shop"},
                   {"pod_name", "web-7d4b9c-x2x9z"}});
}

std::unique_ptr<Enricher> makeEnricher(const FakeKubeMetadata& kube, EnrichConfig config = {}) {
  config.enabled = true;
  auto created = Enricher::create(config, kube);
  EXPECT_TRUE(created.has_value()) << (created ? "" : created.error().message());
  return created ? std::move(*created) : nullptr;
}

TEST(EnricherTest, PodSampleGetsPodLabelsWorkloadAndPhase) {
  FakeKubeMetadata kube;
  kube.setPod(webPod({{"app", "web"}, {"tier", "frontend"}}));
  auto enricher = makeEnricher(kube);
  SampleBatch batch = batchOf({kubeletPodSample()});

  const Enricher::Stats stats = enricher->apply(batch);

  const Labels& out = batch.samples[0].labels;
  EXPECT_EQ(out.get("label.app"), "web");
  EXPECT_EQ(out.get("label.tier"), "frontend");
  EXPECT_EQ(out.get("workload_kind"), "Deployment");
  EXPECT_EQ(out.get("workload_name"), "web");
  EXPECT_EQ(out.get("phase"), "Running");
  EXPECT_EQ(out.get("pod_name"), "web-7d4b9c-x2x9z");  // the sample's own stay
  EXPECT_EQ(stats.enriched, 1u);
  EXPECT_EQ(stats.unknown_pod, 0u);
}

TEST(EnricherTest, PrometheusStyleNamespaceAndPodLabelsNameThePod) {
  FakeKubeMetadata kube;
  kube.setPod(webPod({{"app", "web"}}));
  auto enricher = makeEnricher(kube);
  SampleBatch batch =
      batchOf({labelsOf({{"namespace", "shop"}, {"pod", "web-7d4b9c-x2x9z"}, {"job", "web"}})});

  enricher->apply(batch);

  EXPECT_EQ(batch.samples[0].labels.get("label.app"), "web");
  EXPECT_EQ(batch.samples[0].labels.get("workload_name"), "web");
}

TEST(EnricherTest, RelabelledPodCarriesNewTagsOnTheNextBatch) {
  FakeKubeMetadata kube;
  kube.setPod(webPod({{"app", "web"}, {"version", "v1"}}));
  auto enricher = makeEnricher(kube);
  SampleBatch first = batchOf({kubeletPodSample()});
  enricher->apply(first);
  ASSERT_EQ(first.samples[0].labels.get("label.version"), "v1");

  kube.setPod(webPod({{"app", "web"}, {"version", "v2"}, {"canary", "true"}}));
  SampleBatch second = batchOf({kubeletPodSample()});
  enricher->apply(second);

  EXPECT_EQ(second.samples[0].labels.get("label.version"), "v2");
  EXPECT_EQ(second.samples[0].labels.get("label.canary"), "true");
}

TEST(EnricherTest, DeletedPodsSamplesPassUnchangedAndAreCounted) {
  FakeKubeMetadata kube;
  kube.setPod(webPod({{"app", "web"}}));
  auto enricher = makeEnricher(kube);
  SampleBatch first = batchOf({kubeletPodSample()});
  enricher->apply(first);
  ASSERT_EQ(first.samples[0].labels.get("label.app"), "web");

  kube.deletePod("shop", "web-7d4b9c-x2x9z");
  SampleBatch second = batchOf({kubeletPodSample()});
  const Enricher::Stats stats = enricher->apply(second);

  EXPECT_EQ(second.samples[0].labels, kubeletPodSample());
  EXPECT_EQ(stats.enriched, 0u);
  EXPECT_EQ(stats.unknown_pod, 1u);
}

// A discovered pod's target is retired after the pod left the snapshot:
// its staleness markers must end the enriched series, not a bare one.
TEST(EnricherTest, StalenessMarkerOfADeletedPodKeepsTheTagsItsSeriesHad) {
  FakeKubeMetadata kube;
  kube.setPod(webPod({{"app", "web"}}));
  auto enricher = makeEnricher(kube);
  SampleBatch first = batchOf({kubeletPodSample()});
  enricher->apply(first);
  const Labels enriched = first.samples[0].labels;
  ASSERT_EQ(enriched.get("label.app"), "web");

  kube.deletePod("shop", "web-7d4b9c-x2x9z");
  kube.setPod(webPod({{"app", "other"}}));  // more versions in between
  kube.deletePod("shop", "web-7d4b9c-x2x9z");
  SampleBatch markers = batchOf({kubeletPodSample(), kubeletPodSample()});
  markers.samples[0].value = kStaleNaN;
  const Enricher::Stats stats = enricher->apply(markers);

  EXPECT_EQ(markers.samples[0].labels, enriched);
  EXPECT_TRUE(isStaleMarker(markers.samples[0].value));
  EXPECT_EQ(markers.samples[1].labels, kubeletPodSample());  // a value: unchanged
  EXPECT_EQ(stats.enriched, 1u);
  EXPECT_EQ(stats.unknown_pod, 1u);
}

TEST(EnricherTest, PodNotYetListedPassesUnchanged) {
  FakeKubeMetadata kube;
  auto enricher = makeEnricher(kube);
  SampleBatch batch = batchOf({kubeletPodSample()});

  const Enricher::Stats stats = enricher->apply(batch);

  EXPECT_EQ(batch.samples[0].labels, kubeletPodSample());
  EXPECT_EQ(stats.unknown_pod, 1u);
}

TEST(EnricherTest, AllowAndDenyChooseThePodLabelKeys) {
  FakeKubeMetadata kube;
  kube.setPod(webPod({{"app", "web"},
                      {"app.kubernetes.io/name", "web"},
                      {"app.kubernetes.io/version", "1.4"},
                      {"pod-template-hash", "7d4b9c"}}));
  EnrichConfig config;
  config.pod_labels.allow = {"app.*"};
  config.pod_labels.deny = {".*/version"};
  auto enricher = makeEnricher(kube, config);
  SampleBatch batch = batchOf({kubeletPodSample()});

  enricher->apply(batch);

  const Labels& out = batch.samples[0].labels;
  EXPECT_EQ(out.get("label.app"), "web");
  EXPECT_EQ(out.get("label.app.kubernetes.io/name"), "web");
  EXPECT_FALSE(out.contains("label.app.kubernetes.io/version"));  // denied
  EXPECT_FALSE(out.contains("label.pod-template-hash"));          // not allowed
  EXPECT_EQ(out.get("workload_kind"), "Deployment");              // not a label: always
}

TEST(EnricherTest, EmptyAllowTakesNoPodLabel) {
  FakeKubeMetadata kube;
  kube.setPod(webPod({{"app", "web"}}));
  EnrichConfig config;
  config.pod_labels.allow = {};
  auto enricher = makeEnricher(kube, config);
  SampleBatch batch = batchOf({kubeletPodSample()});

  enricher->apply(batch);

  EXPECT_FALSE(batch.samples[0].labels.contains("label.app"));
  EXPECT_EQ(batch.samples[0].labels.get("phase"), "Running");
}

TEST(EnricherTest, NodeLevelSamplesGetNodeRoleAndAllowedNodeLabels) {
  FakeKubeMetadata kube;
  kube.setNode(nodeA());
  EnrichConfig config;
  config.node_labels.allow = {"topology\\.kubernetes\\.io/.*", "kubernetes\\.io/arch"};
  config.node_labels.deny = {"kubernetes\\.io/arch"};
  auto enricher = makeEnricher(kube, config);
  SampleBatch batch = batchOf(
      {labelsOf({{"type", "node"}, {"nodename", "node-a"}}), labelsOf({{"mountpoint", "/"}})});

  const Enricher::Stats stats = enricher->apply(batch);

  for (const Sample& sample : batch.samples) {
    EXPECT_EQ(sample.labels.get("node_role"), "worker");
    EXPECT_EQ(sample.labels.get("label.topology.kubernetes.io/zone"), "eu-west-1a");
    EXPECT_FALSE(sample.labels.contains("label.kubernetes.io/arch"));
  }
  EXPECT_EQ(stats.enriched, 2u);
}

TEST(EnricherTest, NodeLabelsAreOffByDefault) {
  FakeKubeMetadata kube;
  kube.setNode(nodeA());
  auto enricher = makeEnricher(kube);
  SampleBatch batch = batchOf({labelsOf({{"type", "node"}, {"nodename", "node-a"}})});

  enricher->apply(batch);

  EXPECT_EQ(batch.samples[0].labels.get("node_role"), "worker");
  EXPECT_FALSE(batch.samples[0].labels.contains("label.topology.kubernetes.io/zone"));
}

TEST(EnricherTest, SampleOfAnotherNodeGetsNoNodeMetadata) {
  FakeKubeMetadata kube;
  kube.setNode(nodeA());
  auto enricher = makeEnricher(kube);
  const Labels other = labelsOf({{"node", "node-b"}});
  SampleBatch batch = batchOf({other});

  enricher->apply(batch);

  EXPECT_EQ(batch.samples[0].labels, other);
}

TEST(EnricherTest, PodSampleGetsNoNodeMetadata) {
  FakeKubeMetadata kube;
  kube.setNode(nodeA());
  kube.setPod(webPod({}));
  auto enricher = makeEnricher(kube);
  SampleBatch batch = batchOf({kubeletPodSample()});

  enricher->apply(batch);

  EXPECT_FALSE(batch.samples[0].labels.contains("node_role"));
  EXPECT_EQ(batch.samples[0].labels.get("phase"), "Running");
}

TEST(EnricherTest, ExistingLabelsAreNotOverwritten) {
  FakeKubeMetadata kube;
  kube.setPod(webPod({{"app", "web"}, {"team", "payments"}}));
  kube.setNode(nodeA());
  auto enricher = makeEnricher(kube);
  const Labels own_pod = labelsOf({{"namespace", "shop"},
                                   {"pod", "web-7d4b9c-x2x9z"},
                                   {"label.app", "mine"},
                                   {"phase", "custom"}});
  const Labels own_node = labelsOf({{"node_role", "edge"}});
  SampleBatch batch = batchOf({own_pod, own_node});

  enricher->apply(batch);

  EXPECT_EQ(batch.samples[0].labels.get("label.app"), "mine");
  EXPECT_EQ(batch.samples[0].labels.get("phase"), "custom");
  EXPECT_EQ(batch.samples[0].labels.get("label.team"), "payments");
  EXPECT_EQ(batch.samples[1].labels.get("node_role"), "edge");
}

TEST(EnricherTest, SteadyClusterReusesTheCacheAndANewVersionDropsIt) {
  FakeKubeMetadata kube;
  kube.setPod(webPod({{"app", "web"}}));
  kube.setNode(nodeA());
  auto enricher = makeEnricher(kube);
  SampleBatch first = batchOf({kubeletPodSample(), labelsOf({{"nodename", "node-a"}})});
  enricher->apply(first);
  EXPECT_EQ(enricher->cacheSizeForTest(), 2u);

  SampleBatch again = batchOf({kubeletPodSample(), labelsOf({{"nodename", "node-a"}})});
  enricher->apply(again);
  EXPECT_EQ(enricher->cacheSizeForTest(), 2u);
  EXPECT_EQ(again.samples[0].labels, first.samples[0].labels);

  kube.setSynced(true);  // any change publishes a new version
  SampleBatch later = batchOf({kubeletPodSample()});
  enricher->apply(later);
  EXPECT_EQ(enricher->cacheSizeForTest(), 1u);
}

TEST(EnricherTest, CacheStaysWithinItsBound) {
  FakeKubeMetadata kube;
  kube.setNode(nodeA());
  EnrichConfig config;
  config.enabled = true;
  auto enricher = std::move(*Enricher::create(config, kube, /*max_cache_entries=*/4));
  for (int i = 0; i < 20; ++i) {
    SampleBatch batch = batchOf({labelsOf({{"index", std::to_string(i)}})});
    enricher->apply(batch);
    EXPECT_EQ(batch.samples[0].labels.get("node_role"), "worker");
    EXPECT_LE(enricher->cacheSizeForTest(), 4u);
  }
}

TEST(EnricherTest, AddsLabelNamesEveryLabelApplyAdds) {
  // AgentTags relies on it: a source leaves tags of these names to the
  // pipeline, so the pod's or node's value keeps its precedence.
  FakeKubeMetadata kube;
  kube.setPod(webPod({{"app", "web"}}));
  kube.setNode(nodeA());
  EnrichConfig config;
  config.node_labels.allow = {".*"};
  auto enricher = makeEnricher(kube, config);
  const Labels pod_in = kubeletPodSample();
  const Labels node_in = labelsOf({{"type", "node"}, {"nodename", "node-a"}});
  SampleBatch batch = batchOf({pod_in, node_in});
  enricher->apply(batch);

  std::size_t added = 0;
  for (const Sample& sample : batch.samples) {
    for (const Label& label : sample.labels) {
      if (pod_in.contains(label.name.view()) || node_in.contains(label.name.view())) continue;
      EXPECT_TRUE(Enricher::addsLabel(label.name.view())) << label.name.view();
      ++added;
    }
  }
  // label.app, workload_kind, workload_name, phase; node_role and the two
  // node labels with a value.
  EXPECT_EQ(added, 7u);
  for (std::string_view other : {"cluster", "node", "namespace", "pod", "labels", "job"}) {
    EXPECT_FALSE(Enricher::addsLabel(other)) << other;
  }
}

TEST(EnricherTest, InvalidPatternIsAnErrorNamingItsPath) {
  FakeKubeMetadata kube;
  EnrichConfig config;
  config.node_labels.deny = {"ok", "(unclosed"};
  auto created = Enricher::create(config, kube);
  ASSERT_FALSE(created.has_value());
  EXPECT_NE(created.error().message().find("pipeline.enrich.node_labels.deny[1]"),
            std::string::npos)
      << created.error().message();
}

}  // namespace
}  // namespace kubemetrics
