// The agent in-process, as the shipped DaemonSet runs it: the kubelet source
// against a fake kubelet serving the Kubernetes 1.35 summary capture, the
// Kubernetes API client against a fake API server (TLS, token) holding the
// pod list of the same node (kubelet/pods_k8s-1.35_nri.json), enrichment
// on. What leaves the Prometheus exporter carries each pod's labels and
// workload, follows a relabel and a delete within one watch event, survives
// a 410 with one re-list, and the request/limit metrics equal the pod spec.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "agent/agent.h"
#include "support/fake_kube_api.h"
#include "support/fake_pod.h"
#include "support/http_get.h"
#include "support/scoped_env.h"
#include "support/tls_certs.h"
#include "support/wait_for.h"
#include "unit/scrapers/kubelet/fake_kubelet.h"

namespace kubemetrics {
namespace {

using scrapers::kubelet::testing::FakeKubelet;
using std::chrono::milliseconds;
using testing::FakeKubeApi;
using testing::metricsPage;
using testing::ScopedEnv;
using testing::TlsCerts;
using testing::waitFor;

constexpr char kNode[] = "datagen-1-35";
constexpr char kKubeletToken[] = "kubelet-token";
constexpr char kCoreDns[] = "coredns-7d764666f9-qdcxt";

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string fixture(const std::string& name) {
  return readFile(std::string(KM_FIXTURES_DIR) + "/" + name);
}

/// The /metrics lines of `metric` whose labels contain every one of `parts`.
std::vector<std::string> lines(const std::string& page, const std::string& metric,
                               const std::vector<std::string>& parts) {
  std::vector<std::string> out;
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(metric + "{", 0) != 0) continue;
    bool all = true;
    for (const std::string& part : parts) all = all && line.find(part) != std::string::npos;
    if (all) out.push_back(line);
  }
  return out;
}

double value(const std::string& line) { return std::stod(line.substr(line.rfind(' ') + 1)); }

class AgentKubernetesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const TlsCerts& certs = TlsCerts::shared();
    kubelet_ = std::make_unique<FakeKubelet>(certs.server_cert, certs.server_key, kKubeletToken);
    ASSERT_TRUE(kubelet_->valid());
    kubelet_->setBody(fixture("kubelet/summary_k8s-1.35_containerd_psi_nri.json"));
    pods_ = testing::podItemsFromList(fixture("kubelet/pods_k8s-1.35_nri.json"));
    ASSERT_EQ(pods_.size(), 24u);
    for (const std::string& pod : pods_) api_.upsertPod(pod);
    // Capacity and allocatable as kube-state-metrics reports them for this
    // node in the same cluster (ksm/ksm-v2.19.0_k8s-1.35_nri.prom).
    api_.upsertNode(testing::nodeJson(
        kNode, {{"node-role.kubernetes.io/control-plane", ""}, {"kubernetes.io/os", "linux"}}, "14",
        "8216887296", "14", "8216887296"));
    // A pod of another node: the field selector keeps it out.
    api_.upsertPod(testing::podJson("scraper", "elsewhere", "other-node", {{"app", "x"}}));

    char dir[] = "/tmp/km-agent-kube-XXXXXX";
    dir_ = ::mkdtemp(dir);
    std::ofstream(dir_ + "/api-token") << "fake-token\n";
    std::ofstream(dir_ + "/kubelet-token") << kKubeletToken << "\n";
  }
  void TearDown() override {
    agent_.reset();
    std::filesystem::remove_all(dir_);
  }

  void startAgent() { startAgentWith("", "expire_after: 1s"); }

  /// `extra_sources`: more lines under `sources:`; `prometheus_options`:
  /// more keys of exporters.prometheus; `pipeline_options`: more lines
  /// under `pipeline:`.
  void startAgentWith(const std::string& extra_sources, const std::string& prometheus_options,
                      const std::string& pipeline_options = "") {
    const std::string yaml =
        std::string("cluster: itest\nnode: ") + kNode +
        "\nserver: {listen: 127.0.0.1:0}\n"
        "kubernetes:\n  api_server: " +
        api_.url() + "\n  ca_file: " + api_.caFile() + "\n  bearer_token_file: " + dir_ +
        "/api-token\n"
        "pipeline:\n  enrich:\n    enabled: true\n"
        "    node_labels: {allow: ['kubernetes\\.io/os']}\n" +
        pipeline_options +
        "sources:\n  host: {enabled: false}\n  ec2: {enabled: false}\n"
        "  kubelet:\n    enabled: true\n    url: " +
        kubelet_->url() +
        "\n    interval: 300ms\n    timeout: 250ms\n    bearer_token_file: " + dir_ +
        "/kubelet-token\n    ca_file: " + TlsCerts::shared().ca_cert +
        "\n    kubernetes_metrics: true\n" + extra_sources +
        "exporters:\n  prometheus: {enabled: true, path: /metrics, " + prometheus_options + "}\n";
    auto agent = Agent::create(yaml, "test");
    ASSERT_TRUE(agent) << agent.error().message();
    agent_ = std::move(*agent);
    ASSERT_TRUE(agent_->start());
    port_ = agent_->port();
  }

  std::string metrics() const { return metricsPage(port_); }

  FakeKubeApi api_;
  std::unique_ptr<FakeKubelet> kubelet_;
  std::vector<std::string> pods_;
  std::string dir_;
  std::unique_ptr<Agent> agent_;
  int port_ = 0;
};

// Enrichment without an API server (none configured, not in a cluster)
// fails at start with its key and the reason, as the Kubernetes sources do.
TEST(AgentKubernetesStartTest, EnrichWithoutAnApiServerFailsAtItsKey) {
  ScopedEnv in_cluster("KUBERNETES_SERVICE_HOST", nullptr);
  auto agent = Agent::create(
      "cluster: itest\nnode: node-a\nserver: {listen: 127.0.0.1:0}\n"
      "pipeline: {enrich: {enabled: true}}\n"
      "sources: {host: {enabled: false}, ec2: {enabled: false}, kubelet: {enabled: false}}\n",
      "test");
  ASSERT_FALSE(agent);
  EXPECT_EQ(agent.error().message().rfind("pipeline.enrich.enabled: needs the Kubernetes API: ", 0),
            0u)
      << agent.error().message();
}

TEST_F(AgentKubernetesTest, PodSamplesCarryTheirPodsLabelsAndWorkload) {
  startAgent();
  const std::vector<std::string> coredns = {"pod_name=\"" + std::string(kCoreDns) + "\""};
  // The agent starts its sources once the first pod and node lists are in:
  // the first page that has pod series has them all enriched.
  std::string page;
  ASSERT_TRUE(waitFor([&] {
    page = metrics();
    return lines(page, "kubernetes_pod_memory_working_set", {}).size() > 10;
  })) << metrics();
  for (const std::string& line : lines(page, "kubernetes_pod_memory_working_set", {})) {
    EXPECT_NE(line.find("phase=\""), std::string::npos) << line;
  }
  for (const std::string& line : lines(page, "kubernetes_pod_memory_working_set", coredns)) {
    EXPECT_NE(line.find("label_k8s_app=\"kube-dns\""), std::string::npos) << line;
    EXPECT_NE(line.find("workload_kind=\"Deployment\""), std::string::npos) << line;
    EXPECT_NE(line.find("workload_name=\"coredns\""), std::string::npos) << line;
    EXPECT_NE(line.find("phase=\"Running\""), std::string::npos) << line;
  }
  EXPECT_EQ(lines(page, "kubernetes_pod_memory_working_set", coredns).size(), 1u) << page;
  // Node-level samples: the node's role and the allowed node label only.
  const auto node_lines = lines(page, "kubernetes_node_memory_working_set", {});
  ASSERT_EQ(node_lines.size(), 1u) << page;
  EXPECT_NE(node_lines[0].find("node_role=\"control-plane\""), std::string::npos);
  EXPECT_NE(node_lines[0].find("label_kubernetes_io_os=\"linux\""), std::string::npos);
  EXPECT_EQ(node_lines[0].find("label_node_role"), std::string::npos);
  // The pod of another node never reached the agent.
  EXPECT_EQ(page.find("elsewhere"), std::string::npos);
}

TEST_F(AgentKubernetesTest, RelabelDeleteAndGoneFollowTheApiWithinOneEvent) {
  startAgent();
  const std::vector<std::string> coredns = {"pod_name=\"" + std::string(kCoreDns) + "\""};
  auto corednsLines = [&] {
    return lines(metrics(), "kubernetes_pod_memory_working_set", coredns);
  };
  ASSERT_TRUE(waitFor([&] {
    auto l = corednsLines();
    return !l.empty() && l[0].find("label_k8s_app=\"kube-dns\"") != std::string::npos;
  })) << metrics();

  std::string relabelled;
  for (const std::string& pod : pods_) {
    if (pod.find(kCoreDns) != std::string::npos) relabelled = pod;
  }
  ASSERT_FALSE(relabelled.empty());
  const std::string from = "\"k8s-app\":\"kube-dns\"";
  const auto at = relabelled.find(from);
  ASSERT_NE(at, std::string::npos);
  relabelled.replace(at, from.size(), "\"k8s-app\":\"dns-v2\"");
  api_.upsertPod(relabelled);
  // expire_after 1s: the old label set leaves the page, the new one is there.
  ASSERT_TRUE(waitFor([&] {
    auto l = corednsLines();
    return l.size() == 1 && l[0].find("label_k8s_app=\"dns-v2\"") != std::string::npos;
  })) << metrics();

  // A 410: one re-list, and every pod is still known (each pod sample keeps
  // its workload tags), none twice.
  api_.compactHistory();
  ASSERT_TRUE(waitFor([&] {
    return metrics().find("kubemetrics_kubernetes_relists_total{kind=\"pod\",reason=\"gone\"} 1") !=
           std::string::npos;
  })) << metrics();
  EXPECT_NE(metrics().find("kubemetrics_kubernetes_cached_objects{kind=\"pod\"} 24"),
            std::string::npos)
      << metrics();

  // Deleted from the API (the kubelet still reports it): its tags go.
  api_.deletePod("kube-system", kCoreDns);
  ASSERT_TRUE(waitFor([&] {
    auto l = corednsLines();
    return l.size() == 1 && l[0].find("label_k8s_app") == std::string::npos &&
           l[0].find("workload_kind") == std::string::npos;
  })) << metrics();
  EXPECT_NE(metrics().find("kubemetrics_kubernetes_cached_objects{kind=\"pod\"} 23"),
            std::string::npos);
}

TEST_F(AgentKubernetesTest, RequestsAndLimitsEqualThePodSpecAndTheNode) {
  startAgent();
  const std::vector<std::string> coredns = {"pod_name=\"" + std::string(kCoreDns) + "\"",
                                            "container_name=\"coredns\""};
  ASSERT_TRUE(waitFor([&] {
    return !lines(metrics(), "kubernetes_pod_container_memory_limit", coredns).empty();
  })) << metrics();
  const std::string page = metrics();
  // coredns: requests cpu 100m, memory 70Mi; limits memory 170Mi, no cpu limit.
  auto one = [&](const std::string& metric, const std::vector<std::string>& parts) {
    const auto l = lines(page, metric, parts);
    EXPECT_EQ(l.size(), 1u) << metric;
    return l.empty() ? -1 : value(l[0]);
  };
  EXPECT_EQ(one("kubernetes_pod_container_cpu_request", coredns), 100);
  EXPECT_EQ(one("kubernetes_pod_container_memory_request", coredns), 70.0 * 1024 * 1024);
  EXPECT_EQ(one("kubernetes_pod_container_memory_limit", coredns), 170.0 * 1024 * 1024);
  EXPECT_TRUE(lines(page, "kubernetes_pod_container_cpu_limit", coredns).empty());
  // The node: the Node object's capacity and allocatable.
  EXPECT_EQ(one("kubernetes_node_cpu_node_capacity", {}), 14000);
  EXPECT_EQ(one("kubernetes_node_memory_node_allocatable", {}), 8216887296.0);
}

TEST_F(AgentKubernetesTest, AnnotatedPodsOfThisNodeAreScrapedUntilTheyGo) {
  testing::FakePod web("/metrics", "app_requests_total{code=\"200\"} 7\n");
  testing::FakePod worker("/metrics", "app_jobs_total 3\n");
  testing::FakePod plain("/metrics", "app_plain 1\n");
  testing::FakePod remote("/metrics", "app_remote 1\n");
  const std::map<std::string, std::string> scrape = {{"prometheus.io/scrape", "true"}};
  api_.upsertPod(testing::podJson("shop", "web-5d9f7c-abcde", kNode, {{"app", "web"}}, scrape,
                                  "127.0.0.1", web.port()));
  api_.upsertPod(testing::podJson("shop", "worker-6b8c9d-fghij", kNode, {{"app", "worker"}}, scrape,
                                  "127.0.0.1", worker.port()));
  api_.upsertPod(testing::podJson("shop", "plain-1", kNode, {{"app", "plain"}}, {}, "127.0.0.1",
                                  plain.port()));
  api_.upsertPod(testing::podJson("shop", "remote-1", "other-node", {{"app", "remote"}}, scrape,
                                  "127.0.0.1", remote.port()));
  kubelet_->setStatus(500);  // only the discovered targets on the page
  startAgentWith("  kubernetes_pods: {enabled: true, interval: 300ms}\n", "expire_after: 60s");

  const std::vector<std::string> web_series = {"namespace=\"shop\"", "pod=\"web-5d9f7c-abcde\"",
                                               "container=\"main\"", "label_app=\"web\"",
                                               "job=\"kubernetes-pods\""};
  ASSERT_TRUE(waitFor([&] {
    const std::string page = metrics();
    return !lines(page, "app_requests_total", web_series).empty() &&
           !lines(page, "app_jobs_total", {"pod=\"worker-6b8c9d-fghij\""}).empty();
  })) << metrics();
  const std::string page = metrics();
  EXPECT_EQ(value(lines(page, "app_requests_total", web_series)[0]), 7);
  EXPECT_FALSE(lines(page, "up", {"pod=\"web-5d9f7c-abcde\""}).empty()) << page;
  EXPECT_EQ(plain.allRequests(), 0);
  EXPECT_EQ(remote.allRequests(), 0);

  // The pod goes: its scrape stops, and staleness markers take its series
  // off the page long before expire_after (60s) would.
  api_.deletePod("shop", "web-5d9f7c-abcde");
  ASSERT_TRUE(waitFor([&] {
    const std::string now = metrics();
    return lines(now, "app_requests_total", {}).empty() &&
           lines(now, "up", {"pod=\"web-5d9f7c-abcde\""}).empty();
  })) << metrics();
  const int asked = web.allRequests();
  const int worker_before = worker.allRequests();
  ASSERT_TRUE(waitFor([&] { return worker.allRequests() >= worker_before + 3; }));
  EXPECT_EQ(web.allRequests(), asked);
  EXPECT_FALSE(lines(metrics(), "app_jobs_total", {}).empty());
  EXPECT_EQ(plain.allRequests(), 0);
  EXPECT_EQ(remote.allRequests(), 0);
}

// The pod's value wins over a static tag of the same name, on the kubelet's
// series (tagged in the pipeline, after the Enricher) as on a discovered
// target's (which would tag its own series, but leaves such a tag to the
// pipeline); a node-level series, given no phase, shows the static one.
TEST_F(AgentKubernetesTest, APodsPhaseWinsOverAStaticPhaseTagWhateverTheSource) {
  testing::FakePod web("/metrics", "app_requests_total 7\n");
  api_.upsertPod(testing::podJson("shop", "web-5d9f7c-abcde", kNode, {{"app", "web"}},
                                  {{"prometheus.io/scrape", "true"}}, "127.0.0.1", web.port()));
  startAgentWith("  kubernetes_pods: {enabled: true, interval: 300ms}\n", "expire_after: 60s",
                 "  tags: {phase: unknown, team: shop}\n");

  const std::vector<std::string> coredns = {"pod_name=\"" + std::string(kCoreDns) + "\""};
  const std::vector<std::string> web_series = {"pod=\"web-5d9f7c-abcde\""};
  std::string page;
  ASSERT_TRUE(waitFor([&] {
    page = metrics();
    return !lines(page, "app_requests_total", web_series).empty() &&
           !lines(page, "kubernetes_pod_memory_working_set", coredns).empty();
  })) << metrics();
  for (const std::string& line : lines(page, "app_requests_total", web_series)) {
    EXPECT_NE(line.find("phase=\"Running\""), std::string::npos) << line;
    EXPECT_NE(line.find("team=\"shop\""), std::string::npos) << line;
  }
  for (const std::string& line : lines(page, "kubernetes_pod_memory_working_set", coredns)) {
    EXPECT_NE(line.find("phase=\"Running\""), std::string::npos) << line;
  }
  const auto node_lines = lines(page, "kubernetes_node_memory_working_set", {});
  ASSERT_EQ(node_lines.size(), 1u) << page;
  EXPECT_NE(node_lines[0].find("phase=\"unknown\""), std::string::npos) << node_lines[0];
}

}  // namespace
}  // namespace kubemetrics
