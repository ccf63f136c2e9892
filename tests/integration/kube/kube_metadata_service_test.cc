// KubeMetadataService against the fake API server (tests/support/
// fake_kube_api.h, which follows the Kubernetes API conventions for LIST,
// WATCH, bookmarks and 410 Gone), over TLS with a bearer token.

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/kube/metadata_service.h"
#include "support/fake_kube_api.h"
#include "support/process.h"
#include "support/registry_value.h"
#include "support/tls_certs.h"
#include "support/wait_for.h"

namespace kubemetrics::kube {
namespace {

using kubemetrics::testing::FakeKubeApi;
using kubemetrics::testing::registryValue;
using kubemetrics::testing::TempDir;
using namespace std::chrono_literals;
using kubemetrics::testing::waitFor;

// The node of the kubelet fixture's pods.
constexpr const char* kNode = "datagen-1-35";

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::set<std::string> podKeys(const KubeSnapshot& snapshot) {
  std::set<std::string> keys;
  for (const auto& [key, pod] : snapshot.pods) keys.insert(key);
  return keys;
}

// The value of `name` in a request target's query ("" when absent).
std::string queryValue(const std::string& target, const std::string& name) {
  const std::size_t q = target.find('?');
  if (q == std::string::npos) return "";
  std::istringstream params(target.substr(q + 1));
  std::string pair;
  while (std::getline(params, pair, '&')) {
    if (pair.rfind(name + "=", 0) == 0) return pair.substr(name.size() + 1);
  }
  return "";
}

class KubeMetadataServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    token_file_ = dir_.write("token", "fake-token\n");
    for (const std::string& pod : kubemetrics::testing::podItemsFromList(
             readFile(KM_FIXTURES_DIR "/kubelet/pods_k8s-1.35_nri.json"))) {
      api_.upsertPod(pod);
    }
    fixture_keys_ = {
        "scraper/e2e-hpa-6cd8d99884-tggnr",
        "scraper/e2e-failjob-64h4g",
        "scraper/e2e-failjob-4kj9v",
        "scraper/e2e-failjob-28dqq",
        "kube-system/metrics-server-9d74bb658-c6nnt",
        "scraper/e2e-scraper-5f97dc94d8-vkcjl",
        "scraper/e2e-statefulset-0",
        "kube-system/kindnet-zkpn8",
        "scraper/e2e-deployment-79967c5968-8bnn8",
        "scraper/e2e-cronjob-29707813-dhlr2",
        "scraper/e2e-cronjob-29707814-h2f28",
        "scraper/e2e-statefulset-1",
        "kube-system/kube-scheduler-datagen-1-35",
        "kube-system/etcd-datagen-1-35",
        "kube-system/kube-controller-manager-datagen-1-35",
        "kube-system/storage-provisioner",
        "scraper/e2e-container-creating",
        "scraper/e2e-kube-state-metrics-75b885dc9-97mtr",
        "scraper/e2e-deployment-79967c5968-zjslc",
        "scraper/e2e-failjob-p2w8g",
        "kube-system/kube-apiserver-datagen-1-35",
        "kube-system/kube-proxy-8k9zt",
        "kube-system/coredns-7d764666f9-qdcxt",
        "scraper/e2e-daemonset-kb65b",
    };
    // Pods of another node: the fieldSelector must keep them out.
    api_.upsertPod(kubemetrics::testing::podJson("default", "elsewhere-1", "other-node",
                                                 {{"app", "elsewhere"}}));
    api_.upsertPod(kubemetrics::testing::podJson("default", "elsewhere-2", "other-node",
                                                 {{"app", "elsewhere"}}));
    api_.upsertNode(kubemetrics::testing::nodeJson(
        kNode, {{"node-role.kubernetes.io/control-plane", ""}, {"zone", "a"}}, "8", "16Gi", "7500m",
        "15Gi"));
    api_.upsertNode(kubemetrics::testing::nodeJson("other-node", {}, "2", "4Gi", "2", "4Gi"));
  }

  void TearDown() override {
    if (service_) service_->stop();
  }

  KubeApiConfig config() const {
    KubeApiConfig config;
    config.api_server = api_.url();
    config.bearer_token_file = token_file_;
    config.ca_file = api_.caFile();
    config.watch_timeout = 60s;  // longer than any test: a watch ends only when the test says
    config.initial_backoff = 20ms;
    config.max_backoff = 200ms;
    config.request_timeout = 5s;
    return config;
  }

  // Starts the service and waits for both first LISTs.
  void startSynced() {
    service_ = std::make_unique<KubeMetadataService>(config(), kNode, registry_);
    ASSERT_TRUE(service_->acquire("test")) << "acquire";
    service_->start();
    ASSERT_TRUE(waitFor([&] { return service_->snapshot()->synced; })) << "never synced";
    // Both watches open: changes from now on come as events.
    ASSERT_TRUE(api_.waitForWatches(2, 10s));
  }

  double metric(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    return registryValue(registry_, name, labels);
  }

  // Replaces the token file the way a projected volume does (a new file
  // renamed over the old one).
  void rotateToken(const std::string& token) {
    const std::string fresh = dir_.write("token.new", token + "\n");
    ASSERT_EQ(std::rename(fresh.c_str(), token_file_.c_str()), 0);
  }

  TempDir dir_;
  std::string token_file_;
  FakeKubeApi api_;
  prometheus::Registry registry_;
  std::set<std::string> fixture_keys_;
  std::unique_ptr<KubeMetadataService> service_;
};

TEST_F(KubeMetadataServiceTest, WaitForSyncReturnsOnceBothListsAreIn) {
  service_ = std::make_unique<KubeMetadataService>(config(), kNode, registry_);
  // Nothing acquired it: no watches run, no wait.
  EXPECT_FALSE(service_->waitForSync(deadlineIn(60s)));
  ASSERT_TRUE(service_->acquire("test"));
  service_->start();
  ASSERT_TRUE(service_->waitForSync(deadlineIn(10s)));
  EXPECT_TRUE(service_->snapshot()->synced);
  EXPECT_EQ(podKeys(*service_->snapshot()), fixture_keys_);
}

TEST_F(KubeMetadataServiceTest, WaitForSyncGivesUpAtItsDeadlineWhileTheApiFails) {
  api_.failNextRequests(1000, 503);
  service_ = std::make_unique<KubeMetadataService>(config(), kNode, registry_);
  ASSERT_TRUE(service_->acquire("test"));
  service_->start();
  EXPECT_FALSE(service_->waitForSync(deadlineIn(300ms)));
  EXPECT_FALSE(service_->snapshot()->synced);
}

TEST_F(KubeMetadataServiceTest, InitialListHoldsThisNodesPodsOnly) {
  startSynced();
  const auto snapshot = service_->snapshot();
  EXPECT_EQ(podKeys(*snapshot), fixture_keys_);
  EXPECT_EQ(snapshot->pod("default", "elsewhere-1"), nullptr);
  EXPECT_GE(snapshot->version, 1u);
  const KubePod* kindnet = snapshot->pod("kube-system", "kindnet-zkpn8");
  ASSERT_NE(kindnet, nullptr);
  EXPECT_EQ(kindnet->node_name, kNode);
  EXPECT_EQ(kindnet->labels.size(), 5u);
  EXPECT_EQ(metric("kubemetrics_kubernetes_cached_objects", {{"kind", "pod"}}), 24);
  EXPECT_EQ(metric("kubemetrics_kubernetes_cached_objects", {{"kind", "node"}}), 1);
  EXPECT_GT(metric("kubemetrics_kubernetes_cache_bytes"), 24 * 200);
  EXPECT_EQ(metric("kubemetrics_kubernetes_relists_total", {{"kind", "pod"}, {"reason", "start"}}),
            1);
  // Both requests carried the selector and the token.
  EXPECT_GE(api_.requests("pods", "list"), 1);
  EXPECT_GE(api_.requests("nodes", "list"), 1);
  EXPECT_EQ(api_.unauthorized(), 0);
}

TEST_F(KubeMetadataServiceTest, NodeCapacityAndAllocatableEqualTheNodeObject) {
  startSynced();
  const auto snapshot = service_->snapshot();
  ASSERT_NE(snapshot->node, nullptr);
  EXPECT_EQ(snapshot->node->name, kNode);
  EXPECT_EQ(snapshot->node->role, "control-plane");
  EXPECT_EQ(snapshot->node->capacity.cpu_millicores, 8000);
  EXPECT_EQ(snapshot->node->capacity.memory_bytes, 16.0 * 1024 * 1024 * 1024);
  EXPECT_EQ(snapshot->node->allocatable.cpu_millicores, 7500);
  EXPECT_EQ(snapshot->node->allocatable.memory_bytes, 15.0 * 1024 * 1024 * 1024);
  // A node update comes as an event.
  api_.upsertNode(kubemetrics::testing::nodeJson(kNode, {{"zone", "b"}}, "8", "16Gi", "7", "14Gi"));
  ASSERT_TRUE(waitFor([&] {
    auto s = service_->snapshot();
    return s->node && s->node->allocatable.cpu_millicores == 7000;
  }));
  const auto updated = service_->snapshot();
  EXPECT_EQ(updated->node->allocatable.memory_bytes, 14.0 * 1024 * 1024 * 1024);
  EXPECT_EQ(updated->node->labels.at("zone"), "b");
  EXPECT_EQ(updated->node->role, "");
}

TEST_F(KubeMetadataServiceTest, RelabelledPodShowsInTheNextSnapshotAndDeleteRemovesIt) {
  startSynced();
  // Shared with the watch thread, which may call it until stop().
  struct Seen {
    std::mutex mu;
    std::vector<std::uint64_t> versions;
  };
  auto seen = std::make_shared<Seen>();
  service_->subscribe([seen](const KubeSnapshot& s) {
    std::lock_guard<std::mutex> lock(seen->mu);
    seen->versions.push_back(s.version);
  });
  api_.upsertPod(kubemetrics::testing::podJson("scraper", "web-1", kNode, {{"app", "web"}}));
  ASSERT_TRUE(waitFor([&] { return service_->snapshot()->pod("scraper", "web-1") != nullptr; }));
  const std::uint64_t before = service_->snapshot()->version;

  api_.upsertPod(kubemetrics::testing::podJson("scraper", "web-1", kNode,
                                               {{"app", "web"}, {"track", "canary"}}));
  ASSERT_TRUE(waitFor([&] { return service_->snapshot()->version > before; }));
  // The very next snapshot carries the new labels.
  const auto next = service_->snapshot();
  EXPECT_EQ(next->version, before + 1);
  const KubePod* web = next->pod("scraper", "web-1");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->labels.size(), 2u);
  EXPECT_EQ(web->labels.at("track"), "canary");

  api_.deletePod("scraper", "web-1");
  ASSERT_TRUE(waitFor([&] { return service_->snapshot()->pod("scraper", "web-1") == nullptr; }));
  EXPECT_EQ(podKeys(*service_->snapshot()), fixture_keys_);
  // Subscribers saw each version once, in order.
  std::lock_guard<std::mutex> lock(seen->mu);
  ASSERT_GE(seen->versions.size(), 3u);
  for (std::size_t i = 1; i < seen->versions.size(); ++i) {
    EXPECT_EQ(seen->versions[i], seen->versions[i - 1] + 1);
  }
}

TEST_F(KubeMetadataServiceTest, GoneCausesExactlyOneRelistWithoutLossOrDuplicates) {
  startSynced();
  const int lists_before = api_.requests("pods", "list");
  // Compaction ends the watch with a 410 ERROR event; the pod added and the
  // pod deleted right after happen while the reflector re-lists.
  api_.compactHistory();
  api_.upsertPod(kubemetrics::testing::podJson("scraper", "late-arrival", kNode, {{"a", "b"}}));
  api_.deletePod("kube-system", "kindnet-zkpn8");
  std::set<std::string> expected = fixture_keys_;
  expected.insert("scraper/late-arrival");
  expected.erase("kube-system/kindnet-zkpn8");

  ASSERT_TRUE(waitFor([&] { return podKeys(*service_->snapshot()) == expected; }))
      << ::testing::PrintToString(podKeys(*service_->snapshot()));
  ASSERT_TRUE(api_.waitForWatches(2, 10s));
  EXPECT_EQ(metric("kubemetrics_kubernetes_relists_total", {{"kind", "pod"}, {"reason", "gone"}}),
            1);
  EXPECT_EQ(api_.requests("pods", "list"), lists_before + 1);
  EXPECT_EQ(metric("kubemetrics_kubernetes_cached_objects", {{"kind", "pod"}}),
            static_cast<double>(expected.size()));
  // Still live after the re-list: a later change arrives as an event.
  api_.deletePod("scraper", "late-arrival");
  expected.erase("scraper/late-arrival");
  ASSERT_TRUE(waitFor([&] { return podKeys(*service_->snapshot()) == expected; }));
}

TEST_F(KubeMetadataServiceTest, BookmarkAdvancesTheResourceVersionOfTheNextWatch) {
  startSynced();
  const auto watchTargets = [&] {
    std::vector<std::string> targets;
    for (const std::string& line : api_.requestLog()) {
      if (line.find("/api/v1/pods") != std::string::npos && queryValue(line, "watch") == "1") {
        targets.push_back(line);
      }
    }
    return targets;
  };
  const std::vector<std::string> first = watchTargets();
  ASSERT_EQ(first.size(), 1u);
  const std::string listed_rv = queryValue(first[0], "resourceVersion");
  EXPECT_EQ(queryValue(first[0], "allowWatchBookmarks"), "true");
  EXPECT_FALSE(queryValue(first[0], "timeoutSeconds").empty());
  // Changes this watch does not see (another node's pods) move the
  // server's version on; only a bookmark tells the reflector.
  api_.upsertPod(kubemetrics::testing::podJson("default", "elsewhere-3", "other-node", {}));
  api_.sendBookmarks();
  ASSERT_TRUE(waitFor([&] {
    return metric("kubemetrics_kubernetes_watch_events_total",
                  {{"kind", "pod"}, {"type", "BOOKMARK"}}) >= 1;
  }));
  const std::uint64_t version = service_->snapshot()->version;
  api_.closeWatches();
  ASSERT_TRUE(waitFor([&] { return watchTargets().size() >= 2; }));
  const std::string next_rv = queryValue(watchTargets()[1], "resourceVersion");
  EXPECT_NE(next_rv, listed_rv);
  EXPECT_FALSE(next_rv.empty());
  EXPECT_GT(std::stoll(next_rv), std::stoll(listed_rv));
  // A bookmark is no change: no new snapshot, no re-list.
  EXPECT_EQ(service_->snapshot()->version, version);
  EXPECT_EQ(metric("kubemetrics_kubernetes_relists_total", {{"kind", "pod"}, {"reason", "gone"}}),
            0);
}

TEST_F(KubeMetadataServiceTest, RotatedTokenKeepsWorking) {
  startSynced();
  rotateToken("rotated-token");
  api_.setToken("rotated-token");
  api_.closeWatches();  // the next requests must carry the new token
  api_.upsertPod(kubemetrics::testing::podJson("scraper", "after-rotation", kNode, {}));
  ASSERT_TRUE(
      waitFor([&] { return service_->snapshot()->pod("scraper", "after-rotation") != nullptr; }));
  std::set<std::string> expected = fixture_keys_;
  expected.insert("scraper/after-rotation");
  EXPECT_EQ(podKeys(*service_->snapshot()), expected);
  EXPECT_EQ(metric("kubemetrics_kubernetes_api_errors_total",
                   {{"kind", "pod"}, {"reason", "unauthorized"}}),
            0);
}

TEST_F(KubeMetadataServiceTest, RejectedTokenIsCountedAndRecoversWhenTheFileRotates) {
  startSynced();
  api_.setToken("next-token");  // the server moved on before the file did
  api_.closeWatches();
  ASSERT_TRUE(waitFor([&] {
    return metric("kubemetrics_kubernetes_api_errors_total",
                  {{"kind", "pod"}, {"reason", "unauthorized"}}) >= 1;
  }));
  rotateToken("next-token");
  api_.upsertPod(kubemetrics::testing::podJson("scraper", "after-401", kNode, {}));
  ASSERT_TRUE(
      waitFor([&] { return service_->snapshot()->pod("scraper", "after-401") != nullptr; }));
  EXPECT_EQ(podKeys(*service_->snapshot()).size(), fixture_keys_.size() + 1);
}

TEST_F(KubeMetadataServiceTest, ServiceUnavailableBacksOffThenRecovers) {
  startSynced();
  api_.failNextRequests(4, 503);
  api_.closeWatches();
  ASSERT_TRUE(waitFor([&] {
    return metric("kubemetrics_kubernetes_api_errors_total",
                  {{"kind", "pod"}, {"reason", "http_503"}}) +
               metric("kubemetrics_kubernetes_api_errors_total",
                      {{"kind", "node"}, {"reason", "http_503"}}) >=
           4;
  }));
  api_.upsertPod(kubemetrics::testing::podJson("scraper", "after-503", kNode, {}));
  ASSERT_TRUE(
      waitFor([&] { return service_->snapshot()->pod("scraper", "after-503") != nullptr; }));
  EXPECT_EQ(podKeys(*service_->snapshot()).size(), fixture_keys_.size() + 1);
  // A failed watch is retried from its version: no re-list.
  EXPECT_EQ(metric("kubemetrics_kubernetes_relists_total", {{"kind", "pod"}, {"reason", "gone"}}),
            0);
}

TEST_F(KubeMetadataServiceTest, ChurnReturnsTheCacheToTheLiveCount) {
  startSynced();
  const double bytes_before = metric("kubemetrics_kubernetes_cache_bytes");
  const double events_before =
      metric("kubemetrics_kubernetes_watch_events_total", {{"kind", "pod"}, {"type", "ADDED"}}) +
      metric("kubemetrics_kubernetes_watch_events_total", {{"kind", "pod"}, {"type", "DELETED"}});
  // 10,000 events: 5,000 pods each added and deleted, a few alive at once.
  constexpr int kPods = 5000;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kPods; ++i) {
    const std::string name = "churn-" + std::to_string(i);
    api_.upsertPod(kubemetrics::testing::podJson("churn", name, kNode,
                                                 {{"app", "churn"}, {"i", std::to_string(i)}}));
    if (i >= 8) api_.deletePod("churn", "churn-" + std::to_string(i - 8));
  }
  for (int i = kPods - 8; i < kPods; ++i) api_.deletePod("churn", "churn-" + std::to_string(i));
  ASSERT_TRUE(waitFor(
      [&] {
        return metric("kubemetrics_kubernetes_watch_events_total",
                      {{"kind", "pod"}, {"type", "ADDED"}}) +
                   metric("kubemetrics_kubernetes_watch_events_total",
                          {{"kind", "pod"}, {"type", "DELETED"}}) >=
               events_before + 2 * kPods;
      },
      60s));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(metric("kubemetrics_kubernetes_cached_objects", {{"kind", "pod"}}), 24);
  EXPECT_EQ(podKeys(*service_->snapshot()), fixture_keys_);
  // The same objects as before: the same estimate, within rounding.
  const double bytes_after = metric("kubemetrics_kubernetes_cache_bytes");
  EXPECT_NEAR(bytes_after, bytes_before, bytes_before * 0.01);
  RecordProperty(
      "churn_ms",
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
}

TEST_F(KubeMetadataServiceTest, StopIsPromptWhileAWatchIsOpen) {
  startSynced();
  const auto started = std::chrono::steady_clock::now();
  service_->stop();
  const auto took = std::chrono::steady_clock::now() - started;
  // The watch would run for watch_timeout (60s+) on its own.
  EXPECT_LT(took, 3s);
  service_->stop();  // idempotent
}

TEST_F(KubeMetadataServiceTest, AcquireErrors) {
  {
    KubeApiConfig bad = config();
    bad.bearer_token_file = dir_.path() + "/missing-token";
    prometheus::Registry registry;
    KubeMetadataService service(bad, kNode, registry);
    const Result<KubeMetadata*> acquired = service.acquire("test");
    ASSERT_FALSE(acquired);
    EXPECT_NE(acquired.error().message().find("kubernetes.bearer_token_file"), std::string::npos);
  }
  {
    KubeApiConfig bad = config();
    bad.ca_file = dir_.path() + "/missing-ca.crt";
    prometheus::Registry registry;
    KubeMetadataService service(bad, kNode, registry);
    const Result<KubeMetadata*> acquired = service.acquire("test");
    ASSERT_FALSE(acquired);
    EXPECT_NE(acquired.error().message().find("kubernetes.ca_file"), std::string::npos);
  }
  {
    prometheus::Registry registry;
    KubeMetadataService service(config(), "", registry);
    EXPECT_TRUE(service.available());
    EXPECT_FALSE(service.acquire("test"));
  }
}

TEST_F(KubeMetadataServiceTest, WrongCaIsAConnectErrorNotACrash) {
  KubeApiConfig untrusting = config();
  untrusting.ca_file = kubemetrics::testing::TlsCerts::shared().other_ca_cert;
  service_ = std::make_unique<KubeMetadataService>(untrusting, kNode, registry_);
  ASSERT_TRUE(service_->acquire("test"));
  service_->start();
  ASSERT_TRUE(waitFor([&] {
    return metric("kubemetrics_kubernetes_api_errors_total",
                  {{"kind", "pod"}, {"reason", "connect"}}) >= 2;
  }));
  EXPECT_FALSE(service_->snapshot()->synced);
}

}  // namespace
}  // namespace kubemetrics::kube
