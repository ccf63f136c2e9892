// Two replicas of the cluster role, in process, as the sharded StatefulSet
// runs them (manifests/overlays/sharded): `sharding: {total_shards: 2,
// shard: <pod name>}`, each with its own kube-state-metrics shard (a fake
// per shard, as the KSM sidecar with automatic sharding serves only its
// shard's objects), service discovery against one fake API server, and the
// API server preset. The replicas scrape disjoint sets of service
// endpoints whose union is every endpoint, each endpoint on the replica
// scrape::shardOf(URL) names; each scrapes its own KSM shard only; the API
// server is scraped by exactly one replica.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent.h"
#include "common/scrape/shard.h"
#include "support/fake_kube_api.h"
#include "support/fake_pod.h"
#include "support/http_get.h"
#include "support/wait_for.h"

namespace kubemetrics {
namespace {

using std::chrono::milliseconds;
using testing::endpointSliceJson;
using testing::FakeKubeApi;
using testing::FakePod;
using testing::metricsPage;
using testing::serviceJson;
using testing::waitFor;

constexpr int kServices = 3;
constexpr int kEndpointsPerService = 4;

// The `instance` of every live `up` line of `job` on a /metrics page.
std::set<std::string> upInstances(const std::string& page, const std::string& job) {
  std::set<std::string> out;
  static const std::regex instance_re(R"re(instance="([^"]*)")re");
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("up{", 0) != 0) continue;
    if (line.find("job=\"" + job + "\"") == std::string::npos) continue;
    std::smatch m;
    if (std::regex_search(line, m, instance_re)) out.insert(m[1].str());
  }
  return out;
}

class ClusterShardingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/km-sharding-XXXXXX";
    dir_ = ::mkdtemp(dir);
    std::ofstream(dir_ + "/api-token") << "fake-token\n";
    for (int s = 0; s < kServices; ++s) {
      const std::string service = "svc-" + std::string(1, static_cast<char>('a' + s));
      api_.upsertService(serviceJson("shop", service, {{"prometheus.io/scrape", "true"}}));
      for (int e = 0; e < kEndpointsPerService; ++e) {
        const std::string pod = service + "-" + std::to_string(e);
        endpoints_.push_back(std::make_unique<FakePod>("/metrics", "app_up 1\n"));
        // One slice per endpoint: they share 127.0.0.1, so each has its own
        // port (see service_discovery_test.cc).
        api_.upsertEndpointSlice(endpointSliceJson("shop", pod, service, endpoints_.back()->port(),
                                                   {{"127.0.0.1", pod, true}}));
        all_.insert(endpoints_.back()->instance());
      }
    }
    // kube-state-metrics, one per shard: each serves its shard's objects.
    for (int shard = 0; shard < 2; ++shard) {
      ksm_.push_back(std::make_unique<FakePod>(
          "/metrics",
          "# TYPE kube_pod_info gauge\nkube_pod_info{namespace=\"shop\",pod=\"ksm-shard-" +
              std::to_string(shard) + "-pod\"} 1\n"));
    }
  }
  void TearDown() override {
    agents_.clear();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<Agent> startReplica(int ordinal) {
    const std::string yaml =
        "cluster: itest\nrole: cluster\nnode: node-a\n"
        "server: {listen: 127.0.0.1:0}\n"
        "sharding: {total_shards: 2, shard: kubemetrics-cluster-" +
        std::to_string(ordinal) +
        "}\n"
        "kubernetes:\n  api_server: " +
        api_.url() + "\n  ca_file: " + api_.caFile() + "\n  bearer_token_file: " + dir_ +
        "/api-token\n"
        "sources:\n  host: {enabled: false}\n  ec2: {enabled: false}\n"
        "  kube_state_metrics: {enabled: true, interval: 300ms, url: \"http://127.0.0.1:" +
        ksm_[ordinal]->portText() +
        "/metrics\"}\n"
        "  kubernetes_services: {enabled: true, interval: 300ms}\n"
        "  kubernetes_apiserver: {enabled: true, interval: 300ms}\n"
        "exporters:\n  prometheus: {enabled: true, path: /metrics}\n";
    auto agent = Agent::create(yaml, "test");
    EXPECT_TRUE(agent) << agent.error().message();
    if (!agent) return nullptr;
    EXPECT_TRUE((*agent)->start());
    return std::move(*agent);
  }

  FakeKubeApi api_;
  std::string dir_;
  std::vector<std::unique_ptr<FakePod>> endpoints_;
  std::vector<std::unique_ptr<FakePod>> ksm_;
  std::set<std::string> all_;  // every endpoint's instance
  std::vector<std::unique_ptr<Agent>> agents_;
};

TEST_F(ClusterShardingTest, TwoReplicasScrapeDisjointShardsThatCoverEveryTarget) {
  for (int ordinal = 0; ordinal < 2; ++ordinal) {
    agents_.push_back(startReplica(ordinal));
    ASSERT_NE(agents_.back(), nullptr);
  }
  // Which replica each endpoint belongs to, as every replica computes it.
  std::set<std::string> expected[2];
  for (const std::string& instance : all_) {
    expected[scrape::shardOf("http://" + instance + "/metrics", 2)].insert(instance);
  }
  std::set<std::string> seen[2];
  std::string pages[2];
  for (int ordinal = 0; ordinal < 2; ++ordinal) {
    const int port = agents_[ordinal]->port();
    EXPECT_TRUE(waitFor([&] {
      pages[ordinal] = metricsPage(port);
      seen[ordinal] = upInstances(pages[ordinal], "kubernetes-service-endpoints");
      return seen[ordinal] == expected[ordinal] &&
             pages[ordinal].find("kube_pod_info{") != std::string::npos;
    })) << "replica "
        << ordinal << "\n"
        << pages[ordinal];
  }
  // Disjoint, and together every endpoint.
  std::set<std::string> both;
  std::set<std::string> overlap;
  for (const std::string& instance : seen[0]) {
    both.insert(instance);
    if (seen[1].count(instance) > 0) overlap.insert(instance);
  }
  both.insert(seen[1].begin(), seen[1].end());
  EXPECT_TRUE(overlap.empty()) << ::testing::PrintToString(overlap);
  EXPECT_EQ(both, all_);
  EXPECT_EQ(all_.size(), static_cast<std::size_t>(kServices * kEndpointsPerService));
  std::cout << "shard sizes: " << seen[0].size() << " + " << seen[1].size() << "\n";

  // Each replica has its own kube-state-metrics shard, not the other's.
  for (int ordinal = 0; ordinal < 2; ++ordinal) {
    const std::string mine = "ksm-shard-" + std::to_string(ordinal) + "-pod";
    const std::string other = "ksm-shard-" + std::to_string(1 - ordinal) + "-pod";
    EXPECT_NE(pages[ordinal].find(mine), std::string::npos) << pages[ordinal];
    EXPECT_EQ(pages[ordinal].find(other), std::string::npos) << pages[ordinal];
  }

  // The API server: one replica, the one shardOf(its URL) names.
  const int apiserver_shard = scrape::shardOf(api_.url() + "/metrics", 2);
  ASSERT_TRUE(waitFor([&] {
    pages[apiserver_shard] = metricsPage(agents_[apiserver_shard]->port());
    return pages[apiserver_shard].find("apiserver_request_total{") != std::string::npos;
  })) << pages[apiserver_shard];
  EXPECT_EQ(upInstances(pages[apiserver_shard], "kubernetes-apiservers").size(), 1u);
  const std::string other_page = metricsPage(agents_[1 - apiserver_shard]->port());
  EXPECT_EQ(other_page.find("apiserver_request_total{"), std::string::npos);
  EXPECT_TRUE(upInstances(other_page, "kubernetes-apiservers").empty());
  EXPECT_GT(api_.requests("metrics", "get"), 0);
  EXPECT_EQ(api_.unauthorized(), 0) << "the preset sends the agent's token";
}

}  // namespace
}  // namespace kubemetrics
