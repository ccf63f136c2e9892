// How long a cluster-role replica takes from its start to the end of its
// first scrape of its shard: the part of the gap window (docs/sharding.md)
// the agent controls, after the StatefulSet has restarted a replica that
// went away. One iteration: Agent::create + start of shard 0 of 2 against
// the fake API server (TLS, LIST + WATCH of Services and EndpointSlices),
// until kubemetrics_scrapes_total{source="kubernetes_services"} is 1.
// Arguments: Services, endpoints per Service (every endpoint a distinct
// URL on one loopback server: its port from a pool, its Service's path).
#include <benchmark/benchmark.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent.h"
#include "support/fake_kube_api.h"
#include "support/registry_value.h"

namespace kubemetrics {
namespace {

// Serves a small exposition on every path, on `count` ports of 127.0.0.1.
class LoopbackTargets {
 public:
  explicit LoopbackTargets(int count) {
    for (int i = 0; i < count; ++i) {
      auto server = std::make_unique<httplib::Server>();
      // One request per connection: httplib holds a pool thread for each
      // open connection, and every target of the shard keeps one open, so
      // with keep-alive the pool, not the agent, would set the pace.
      server->set_keep_alive_max_count(1);
      server->Get(".*", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("# TYPE app_requests_total counter\napp_requests_total{code=\"200\"} 7\n",
                        "text/plain; version=0.0.4");
      });
      ports_.push_back(server->bind_to_any_port("127.0.0.1"));
      httplib::Server* raw = server.get();
      threads_.emplace_back([raw] { raw->listen_after_bind(); });
      servers_.push_back(std::move(server));
    }
    for (auto& server : servers_) {
      for (int i = 0; i < 5000 && !server->is_running(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  }
  ~LoopbackTargets() {
    for (auto& server : servers_) server->stop();
    for (auto& thread : threads_) thread.join();
  }
  const std::vector<int>& ports() const { return ports_; }

 private:
  std::vector<std::unique_ptr<httplib::Server>> servers_;
  std::vector<std::thread> threads_;
  std::vector<int> ports_;
};

void BM_ShardStartToFirstScrape(benchmark::State& state) {
  const int services = static_cast<int>(state.range(0));
  const int per_service = static_cast<int>(state.range(1));
  testing::FakeKubeApi api;
  LoopbackTargets targets(per_service);
  for (int s = 0; s < services; ++s) {
    const std::string service = "svc-" + std::to_string(s);
    api.upsertService(testing::serviceJson(
        "bench", service,
        {{"prometheus.io/scrape", "true"}, {"prometheus.io/path", "/m/" + std::to_string(s)}}));
    for (int e = 0; e < per_service; ++e) {
      const std::string pod = service + "-" + std::to_string(e);
      api.upsertEndpointSlice(testing::endpointSliceJson(
          "bench", pod, service, targets.ports()[static_cast<std::size_t>(e)],
          {{"127.0.0.1", pod, true}}));
    }
  }
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("km-shard-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "token") << "fake-token\n";
  const std::string yaml =
      "cluster: bench\nrole: cluster\nnode: node-a\nlog_level: warn\n"
      "server: {listen: 127.0.0.1:0}\n"
      "sharding: {total_shards: 2, shard: kubemetrics-cluster-agent-0}\n"
      "kubernetes:\n  api_server: " +
      api.url() + "\n  ca_file: " + api.caFile() +
      "\n  bearer_token_file: " + (dir / "token").string() +
      "\nsources:\n  host: {enabled: false}\n  ec2: {enabled: false}\n"
      "  kubernetes_services: {enabled: true, interval: 60s, timeout: 5s}\n"
      "exporters:\n  prometheus: {enabled: true, path: /metrics}\n";
  double targets_in_shard = 0;
  for (auto _ : state) {
    auto agent = Agent::create(yaml, "bench");
    if (!agent || !(*agent)->start()) {
      state.SkipWithError("the agent did not start");
      break;
    }
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (testing::registryValue((*agent)->metrics(), "kubemetrics_scrapes_total",
                                  {{"source", "kubernetes_services"}}) < 1 &&
           std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    state.PauseTiming();
    targets_in_shard =
        testing::registryValue((*agent)->metrics(), "kubemetrics_kubernetes_services_targets");
    agent->reset();
    state.ResumeTiming();
  }
  state.counters["endpoints"] = services * per_service;
  state.counters["shard_targets"] = targets_in_shard;
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_ShardStartToFirstScrape)
    ->Args({5, 20})
    ->Args({50, 20})
    ->Args({100, 40})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace
}  // namespace kubemetrics
