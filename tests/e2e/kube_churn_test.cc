// Pod churn against the agent binary: the agent watches a fake Kubernetes
// API server (tests/support/fake_kube_api.h, over TLS with a token; it
// follows the API concepts document for LIST+WATCH) holding the 24 pods of
// the 1.35 capture's node, with enrichment on. Two rounds of 10,000 watch
// events (5,000 pods each added and deleted, a few alive at once) must
// leave the pod cache at the live count, and the agent's resident memory
// must stop growing: what the second round adds is recorded and bounded.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "support/agent_process.h"
#include "support/fake_kube_api.h"
#include "support/sanitizers.h"
#include "support/wait_for.h"

namespace kubemetrics {
namespace {

using std::chrono::milliseconds;
using testing::AgentProcess;
using testing::FakeKubeApi;
using testing::procStatusKib;
using testing::readFile;
using testing::waitFor;

constexpr char kNode[] = "datagen-1-35";
constexpr int kPodsPerRound = 5000;  // 10,000 events

TEST(KubeChurnTest, PodCacheReturnsToTheLiveCountAndMemoryStopsGrowing) {
  FakeKubeApi api;
  for (const std::string& pod : testing::podItemsFromList(
           readFile(std::string(KM_FIXTURES_DIR) + "/kubelet/pods_k8s-1.35_nri.json"))) {
    api.upsertPod(pod);
  }
  api.upsertNode(testing::nodeJson(kNode, {}, "14", "8216887296", "14", "8216887296"));

  char dir_template[] = "/tmp/km-kube-churn-XXXXXX";
  const std::string dir = ::mkdtemp(dir_template);
  std::ofstream(dir + "/token") << "fake-token\n";
  std::ofstream(dir + "/config.yaml")
      << "cluster: churn\nnode: " << kNode << "\nkubernetes:\n  api_server: " << api.url()
      << "\n  ca_file: " << api.caFile() << "\n  bearer_token_file: " << dir
      << "/token\n"
         "pipeline:\n  enrich: {enabled: true}\n"
         "sources:\n  host: {enabled: true, interval: 1s}\n  ec2: {enabled: false}\n";
  AgentProcess agent = AgentProcess::start({"--config", dir + "/config.yaml"});
  ASSERT_GT(agent.port, 0) << agent.process->output();
  const pid_t pid = agent.process->pid();
  auto cachedPods = [&] {
    return agent.metric("kubemetrics_kubernetes_cached_objects", "kind=\"pod\"");
  };
  ASSERT_TRUE(waitFor([&] { return cachedPods() == 24; }, milliseconds(20000)))
      << agent.process->output();
  const double bytes_at_start = agent.metric("kubemetrics_kubernetes_cache_bytes", "");

  auto churn = [&](int round) {
    const double added_before =
        agent.metric("kubemetrics_kubernetes_watch_events_total", "kind=\"pod\",type=\"ADDED\"");
    for (int i = 0; i < kPodsPerRound; ++i) {
      const std::string name = "churn-" + std::to_string(round) + "-" + std::to_string(i);
      api.upsertPod(testing::podJson("churn", name, kNode, {{"app", "churn"}, {"i", name}}));
      if (i >= 8) {
        api.deletePod("churn", "churn-" + std::to_string(round) + "-" + std::to_string(i - 8));
      }
    }
    for (int i = kPodsPerRound - 8; i < kPodsPerRound; ++i) {
      api.deletePod("churn", "churn-" + std::to_string(round) + "-" + std::to_string(i));
    }
    EXPECT_TRUE(waitFor(
        [&] {
          return agent.metric("kubemetrics_kubernetes_watch_events_total",
                              "kind=\"pod\",type=\"ADDED\"") >= added_before + kPodsPerRound &&
                 cachedPods() == 24;
        },
        milliseconds(60000)))
        << "round " << round << ": " << cachedPods() << " pods cached";
  };

  const long rss_start = procStatusKib(pid, "VmRSS");
  churn(1);
  const long rss_round1 = procStatusKib(pid, "VmRSS");
  churn(2);
  const long rss_round2 = procStatusKib(pid, "VmRSS");

  EXPECT_EQ(cachedPods(), 24);
  // The same 24 objects as before: the same estimate, within rounding.
  EXPECT_NEAR(agent.metric("kubemetrics_kubernetes_cache_bytes", ""), bytes_at_start,
              bytes_at_start * 0.01);
  std::cout << "[ rss ] agent VmRSS: " << rss_start << " KiB at sync, " << rss_round1
            << " KiB after 10,000 events, " << rss_round2 << " KiB after 20,000 ("
            << (rss_round2 - rss_round1) << " KiB in the second round)\n";
  RecordProperty("rss_start_kib", static_cast<int>(rss_start));
  RecordProperty("rss_round1_kib", static_cast<int>(rss_round1));
  RecordProperty("rss_round2_kib", static_cast<int>(rss_round2));
  ASSERT_GT(rss_start, 0);
  // The first round may grow the allocator's pools once; a second round of
  // the same churn must not grow them again (a leak of one pod's objects per
  // event would add megabytes). Sanitizers keep freed memory in quarantine.
  if (!testing::kSanitizedBuild) {
    EXPECT_LT(rss_round2 - rss_round1, 4 * 1024) << "KiB";
  }

  agent.process->signal(SIGTERM);
  EXPECT_EQ(agent.process->wait(milliseconds(15000)), 0) << agent.process->output();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kubemetrics
