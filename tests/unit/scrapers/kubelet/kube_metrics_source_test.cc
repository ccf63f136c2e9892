// The kubelet source with the Kubernetes API's metadata, built by the
// factory as the agent builds it: a fake kubelet (HTTPS, bearer token)
// serves the 1.35 capture's summary, a FakeKubeMetadata holds hand-built
// objects of the same node (kube_objects_1_35.h). The API metrics must sit
// next to the summary's with tags that join, and follow
// sources.kubelet.kubernetes_metrics.
#include <gtest/gtest.h>

#include <memory>

#include "common/config/config_document.h"
#include "fake_kubelet.h"
#include "kube_objects_1_35.h"
#include "scrapers/kubelet/kubelet_source.h"
#include "summary_support.h"
#include "support/component_context.h"
#include "support/fake_kube_metadata.h"
#include "support/tls_certs.h"

namespace kubemetrics::scrapers::kubelet {
namespace {

using namespace std::chrono_literals;
using namespace testing;  // NOLINT: the fixture builders and sample finders
using ::kubemetrics::testing::FakeKubeMetadata;
using ::kubemetrics::testing::TempDir;
using ::kubemetrics::testing::TestComponentContext;
using ::kubemetrics::testing::TlsCerts;
using M = std::map<std::string, std::string>;

constexpr char kToken[] = "kube-token";
constexpr char kSummary[] = "summary_k8s-1.35_containerd_psi_nri.json";

// Every metric that comes from the Kubernetes API.
const std::vector<std::string>& apiMetricNames() {
  static const std::vector<std::string> names = {
      "kubernetes.pod_container.cpu.request",
      "kubernetes.pod_container.cpu.limit",
      "kubernetes.pod_container.memory.request",
      "kubernetes.pod_container.memory.limit",
      "kubernetes.pod_container.restart_count",
      "kubernetes.pod_container.status",
      "kubernetes.pod.cpu.request",
      "kubernetes.pod.cpu.limit",
      "kubernetes.pod.memory.request",
      "kubernetes.pod.memory.limit",
      "kubernetes.pod.restart_count",
      "kubernetes.pod.status.phase",
      "kubernetes.node.cpu.node_capacity",
      "kubernetes.node.cpu.node_allocatable",
      "kubernetes.node.cpu.node_reservation",
      "kubernetes.node.cpu.node_utilization",
      "kubernetes.node.memory.node_capacity",
      "kubernetes.node.memory.node_allocatable",
      "kubernetes.node.memory.node_reservation",
      "kubernetes.node.memory.node_utilization",
  };
  return names;
}

std::size_t apiSamples(const SampleBatch& batch) {
  std::size_t n = 0;
  for (const std::string& name : apiMetricNames()) n += find(batch, name).size();
  return n;
}

class KubeMetricsSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const TlsCerts& certs = TlsCerts::shared();
    kubelet_ = std::make_unique<FakeKubelet>(certs.server_cert, certs.server_key, kToken);
    ASSERT_TRUE(kubelet_->valid());
    kubelet_->setBody(fixture(kSummary));
    token_file_ = dir_.write("token", kToken);
    kube_.setNode(node135());
    for (KubePod p : {coredns(), scraperWithoutResources(), apiserver(), restartingAlpine(),
                      finishedCronJob(), failedJob(), multiContainerPod(), otherNodePod()}) {
      kube_.setPod(std::move(p));
    }
    kube_.setSynced(true);
  }

  // The source the factory builds for `kubernetes_metrics: <mode>`.
  Result<std::vector<SourcePtr>> build(const std::string& mode) {
    const std::string yaml =
        "sources:\n  kubelet:\n    enabled: true\n    url: " + kubelet_->url() +
        "\n    interval: 10s\n    timeout: 5s\n    bearer_token_file: " + token_file_ +
        "\n    ca_file: " + TlsCerts::shared().ca_cert + "\n    kubernetes_metrics: " + mode + "\n";
    doc_ = ConfigDocument::parse(yaml, "test.yaml");
    ConfigNode node = doc_->root().child("sources").child("kubelet");
    Result<std::vector<SourcePtr>> sources = buildSources(node, &context_.context);
    EXPECT_TRUE(doc_->errors().empty());
    return sources;
  }

  std::unique_ptr<Source> buildOne(const std::string& mode) {
    Result<std::vector<SourcePtr>> sources = build(mode);
    EXPECT_TRUE(sources.has_value()) << sources.error().message();
    if (!sources || sources->size() != 1) return nullptr;
    return std::move(sources->front());
  }

  static SampleBatch scrape(Source& source) {
    SampleBatch out;
    Result<ScrapeStats> r = source.scrape(out, deadlineIn(10s));
    EXPECT_TRUE(r.has_value()) << r.error().message();
    if (r) {
      EXPECT_EQ(r->samples, out.samples.size());
    }
    return out;
  }

  TempDir dir_;
  std::string token_file_;
  std::unique_ptr<FakeKubelet> kubelet_;
  FakeKubeMetadata kube_;
  TestComponentContext context_;
  std::shared_ptr<ConfigDocument> doc_;
};

// The labels of the one sample (name, labels ⊇ match); empty Labels otherwise.
Labels labelsOf(const SampleBatch& out, std::string_view name, const M& match) {
  const std::vector<Sample> found = find(out, name, match);
  EXPECT_EQ(found.size(), 1u) << name;
  return found.size() == 1 ? found[0].labels : Labels();
}

TEST_F(KubeMetricsSourceTest, ApiMetricsSitNextToTheSummaryAndJoinItsTags) {
  context_.kube.metadata = &kube_;
  std::unique_ptr<Source> source = buildOne("auto");
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(context_.kube.acquired_by,
            std::vector<std::string>{"sources.kubelet.kubernetes_metrics"});

  const auto wall_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const std::int64_t before = wall_ms();
  const SampleBatch first = scrape(*source);
  const std::int64_t after = wall_ms();

  // Requests and limits equal the specs (coredns: 100m / 70Mi, limit 170Mi).
  const KubePod dns = coredns();
  const M dns_container{{"pod_name", dns.name}, {"container_name", "coredns"}};
  EXPECT_EQ(value(first, "kubernetes.pod_container.cpu.request", dns_container), 100.0);
  EXPECT_EQ(value(first, "kubernetes.pod_container.memory.request", dns_container), 70 * kMi);
  EXPECT_EQ(value(first, "kubernetes.pod_container.memory.limit", dns_container), 170 * kMi);
  EXPECT_EQ(value(first, "kubernetes.pod.cpu.request", {{"pod_name", dns.name}, {"type", "pod"}}),
            100.0);
  EXPECT_EQ(value(first, "kubernetes.pod.cpu.request",
                  {{"pod_name", multiContainerPod().name}, {"type", "pod"}}),
            300.0);
  EXPECT_EQ(
      value(first, "kubernetes.pod.status.phase", {{"pod_name", dns.name}, {"phase", "Running"}}),
      2.0);
  EXPECT_EQ(value(first, "kubernetes.pod.status.phase",
                  {{"pod_name", failedJob().name}, {"phase", "Failed"}}),
            4.0);
  EXPECT_EQ(value(first, "kubernetes.pod_container.status",
                  {{"pod_name", restartingAlpine().name},
                   {"status", "terminated"},
                   {"reason", "Completed"}}),
            3.0);
  EXPECT_EQ(value(first, "kubernetes.pod.restart_count", {{"pod_name", restartingAlpine().name}}),
            2.0);

  // Node: capacity/allocatable as the Node object; reservation from the
  // requests of the pods still holding resources; memory utilization from
  // the summary's node workingSetBytes (917110784). CPU utilization needs
  // cpu.usage_rate, which needs a second scrape.
  const M node{{"type", "node"}, {"nodename", kNode135}, {"interface_name", ""}};
  EXPECT_EQ(value(first, "kubernetes.node.cpu.node_capacity", node), 14000.0);
  EXPECT_EQ(value(first, "kubernetes.node.memory.node_allocatable", node), 8216887296.0);
  EXPECT_DOUBLE_EQ(value(first, "kubernetes.node.cpu.node_reservation", node),
                   kRequestedCpu / 14000.0);
  EXPECT_DOUBLE_EQ(value(first, "kubernetes.node.memory.node_reservation", node),
                   kRequestedMemory / 8216887296.0);
  EXPECT_EQ(value(first, "kubernetes.node.memory.working_set", node), 917110784.0);
  EXPECT_DOUBLE_EQ(value(first, "kubernetes.node.memory.node_utilization", node),
                   917110784.0 / 8216887296.0);
  EXPECT_TRUE(find(first, "kubernetes.node.cpu.node_utilization").empty());
  EXPECT_TRUE(find(first, "kubernetes.node.cpu.usage_rate").empty());

  // Tags join: the same label set as the summary's series of the entity.
  EXPECT_EQ(labelsOf(first, "kubernetes.pod_container.cpu.request", dns_container),
            labelsOf(first, "kubernetes.pod_container.memory.working_set", dns_container));
  EXPECT_EQ(labelsOf(first, "kubernetes.pod.memory.request", {{"pod_name", dns.name}}),
            labelsOf(first, "kubernetes.pod.memory.working_set", {{"pod_name", dns.name}}));
  EXPECT_EQ(labelsOf(first, "kubernetes.node.cpu.node_capacity", node),
            labelsOf(first, "kubernetes.node.memory.working_set", node));

  // One timestamp for all of them: the scrape's.
  std::int64_t ts = 0;
  std::size_t api = 0;
  for (const std::string& name : apiMetricNames()) {
    for (const Sample& s : find(first, name)) {
      ++api;
      if (ts == 0) ts = s.timestamp_ms;
      EXPECT_EQ(s.timestamp_ms, ts) << name;
    }
  }
  EXPECT_GE(ts, before);
  EXPECT_LE(ts, after);
  EXPECT_EQ(api, apiSamples(first));
  EXPECT_GT(api, 40u);

  // 7 core-seconds in 10 s on the node: usage_rate 700 millicores, and
  // utilization 700 / 14000.
  std::string next = shiftTimes(fixture(kSummary), 10);
  next = replaceAll(next, "\"usageCoreNanoSeconds\": 62148052000",
                    "\"usageCoreNanoSeconds\": 69148052000");
  kubelet_->setBody(next);
  const SampleBatch second = scrape(*source);
  EXPECT_DOUBLE_EQ(value(second, "kubernetes.node.cpu.usage_rate", node), 700.0);
  EXPECT_DOUBLE_EQ(value(second, "kubernetes.node.cpu.node_utilization", node), 0.05);
}

TEST_F(KubeMetricsSourceTest, EachScrapeReadsTheLatestSnapshot) {
  context_.kube.metadata = &kube_;
  std::unique_ptr<Source> source = buildOne("true");
  ASSERT_NE(source, nullptr);
  const std::string name = multiContainerPod().name;
  EXPECT_EQ(find(scrape(*source), "kubernetes.pod.status.phase", {{"pod_name", name}}).size(), 1u);
  kube_.deletePod("scraper", name);
  const SampleBatch after = scrape(*source);
  for (const std::string& metric : apiMetricNames()) {
    EXPECT_TRUE(find(after, metric, {{"pod_name", name}}).empty()) << metric;
  }
  EXPECT_DOUBLE_EQ(value(after, "kubernetes.node.cpu.node_reservation"),
                   (kRequestedCpu - 300) / 14000.0);
  // A re-list in progress (not synced): the summary goes on, the API metrics pause.
  kube_.setSynced(false);
  const SampleBatch unsynced = scrape(*source);
  EXPECT_EQ(apiSamples(unsynced), 0u);
  EXPECT_FALSE(find(unsynced, "kubernetes.pod.memory.working_set").empty());
}

TEST_F(KubeMetricsSourceTest, OffEmitsNoneOfThemAndNeverAsks) {
  context_.kube.metadata = &kube_;
  std::unique_ptr<Source> source = buildOne("false");
  ASSERT_NE(source, nullptr);
  EXPECT_TRUE(context_.kube.acquired_by.empty());
  const SampleBatch out = scrape(*source);
  EXPECT_EQ(apiSamples(out), 0u);
  EXPECT_FALSE(find(out, "kubernetes.pod.memory.working_set").empty());
}

TEST_F(KubeMetricsSourceTest, AutoWithoutAnApiEmitsNoneAndIsNoError) {
  std::unique_ptr<Source> source = buildOne("auto");  // context_.kube has no metadata
  ASSERT_NE(source, nullptr);
  EXPECT_TRUE(context_.kube.acquired_by.empty());
  const SampleBatch out = scrape(*source);
  EXPECT_EQ(apiSamples(out), 0u);
  EXPECT_FALSE(find(out, "kubernetes.node.memory.working_set").empty());
}

TEST_F(KubeMetricsSourceTest, TrueWithoutAnApiIsAStartUpError) {
  Result<std::vector<SourcePtr>> sources = build("true");
  ASSERT_FALSE(sources.has_value());
  EXPECT_EQ(sources.error().code(), ErrorCode::kInvalidArgument);
  const std::string& message = sources.error().message();
  EXPECT_NE(message.find("sources.kubelet.kubernetes_metrics"), std::string::npos) << message;
  EXPECT_NE(message.find("no Kubernetes API"), std::string::npos) << message;
}

}  // namespace
}  // namespace kubemetrics::scrapers::kubelet
