// Configuration reload through the agent binary (issue 17): a ConfigMap
// update as the kubelet makes it (the mounted file is a symlink through
// `..data`, swapped to a new directory at once), an invalid new file on
// SIGHUP (refused with its YAML path, counted, the running configuration
// stays), and a reload while samples wait in the spool for a backend that
// was down (every sample reaches the backend of the new configuration,
// none twice).
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "support/agent_process.h"
#include "support/backends.h"
#include "support/counting_target.h"
#include "support/http_get.h"
#include "support/process.h"

namespace kubemetrics::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

/// A directory laid out as the kubelet mounts a ConfigMap:
/// agent.yaml -> ..data/agent.yaml, ..data -> ..<version>/.
class ConfigMapVolume {
 public:
  explicit ConfigMapVolume(const TempDir& dir) : root_(dir.path() + "/config") {
    fs::create_directories(root_);
    fs::create_symlink("..data/agent.yaml", root_ + "/agent.yaml");
  }
  std::string path() const { return root_ + "/agent.yaml"; }

  /// Publishes `yaml` the way the kubelet does: a new version directory,
  /// then a rename of a new `..data` link over the old one (atomic).
  void publish(const std::string& yaml) {
    const std::string version = "..v" + std::to_string(++versions_);
    fs::create_directories(root_ + "/" + version);
    writeFile(root_ + "/" + version + "/agent.yaml", yaml);
    fs::create_directory_symlink(version, root_ + "/..data_tmp");
    fs::rename(root_ + "/..data_tmp", root_ + "/..data");
  }

 private:
  static void writeFile(const std::string& path, const std::string& text) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr) << path;
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }

  std::string root_;
  int versions_ = 0;
};

/// Polls the agent's page (bounded) until it contains `text`.
bool waitOnPage(int port, const std::string& text, std::chrono::seconds timeout = 20s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  do {
    if (metricsPage(port).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(100ms);
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

/// The agent's configuration: `cluster`, one scrape target, the file
/// checked every 200 ms, /metrics without a page cache (read at once).
std::string probeConfig(const std::string& cluster, const std::string& target_url) {
  return "cluster: " + cluster +
         "\nnode: n1\n"
         "reload: {check_interval: 200ms}\n"
         "sources:\n"
         "  host: {enabled: false}\n"
         "  ec2: {enabled: false}\n"
         "  prometheus:\n"
         "    - {name: probe, url: \"" +
         target_url +
         "\", interval: 500ms, timeout: 400ms}\n"
         "exporters:\n"
         "  prometheus: {cache_for: 0s}\n";
}

std::string reloads(const std::string& result) {
  return "kubemetrics_config_reloads_total{result=\"" + result + "\"}";
}

class ConfigReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    target_.Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("reload_probe 1\n", "text/plain; version=0.0.4");
    });
    const int port = target_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port, 0);
    target_url_ = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
    serving_ = std::thread([this] { target_.listen_after_bind(); });
  }
  void TearDown() override {
    target_.stop();
    serving_.join();
  }

  /// Publishes the probe config with cluster "before" and starts the agent
  /// on the volume's file, its page on a fixed port (a reload binds the same
  /// address again); returns once the page shows the probe.
  void startBefore() {
    volume_.publish(probeConfig("before", target_url_));
    port_ = freeLoopbackPort();
    agent_ = AgentProcess::start(
        {"--config", volume_.path(), "--listen", "127.0.0.1:" + std::to_string(port_)});
    ASSERT_EQ(agent_.port, port_) << agent_.process->output();
    ASSERT_TRUE(waitOnPage(port_, "reload_probe{cluster=\"before\"")) << agent_.process->output();
  }

  httplib::Server target_;
  std::thread serving_;
  std::string target_url_;
  int port_ = -1;
  TempDir dir_;
  ConfigMapVolume volume_{dir_};
  AgentProcess agent_;
};

TEST_F(ConfigReloadTest, ConfigMapSymlinkSwapIsAppliedOnTheSameAddress) {
  ASSERT_NO_FATAL_FAILURE(startBefore());
  AgentProcess& agent = agent_;
  ConfigMapVolume& volume = volume_;
  EXPECT_EQ(agent.metric("kubemetrics_config_reloads_total", "result=\"applied\""), 0);

  volume.publish(probeConfig("after", target_url_));
  ASSERT_TRUE(waitOnPage(port_, "reload_probe{cluster=\"after\"")) << agent.process->output();
  const std::string page = metricsPage(port_);
  EXPECT_EQ(page.find("cluster=\"before\""), std::string::npos) << "the old agent's series stayed";
  EXPECT_NE(page.find(reloads("applied") + " 1\n"), std::string::npos) << page;
  EXPECT_NE(page.find("kubemetrics_config_last_reload_successful 1\n"), std::string::npos);
  EXPECT_TRUE(agent.process->waitForOutput("configuration reloaded from " + volume.path(), 5s));

  // The file unchanged at later checks: nothing more happens.
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(agent.metric("kubemetrics_config_reloads_total", "result=\"applied\""), 1);
  agent.process->signal(SIGTERM);
  EXPECT_EQ(agent.process->wait(15s), 0) << agent.process->output();
}

TEST_F(ConfigReloadTest, AnInvalidFileOnSighupIsRefusedAndCountedAndTheRunningOneStays) {
  ASSERT_NO_FATAL_FAILURE(startBefore());
  AgentProcess& agent = agent_;
  ConfigMapVolume& volume = volume_;

  // SIGHUP only: the file is not checked on its own.
  std::string sighup_only = probeConfig("before", target_url_);
  sighup_only.replace(sighup_only.find("check_interval: 200ms"), 21, "check_interval: 0s");
  volume.publish(sighup_only);
  agent.process->signal(SIGHUP);
  ASSERT_TRUE(agent.process->waitForOutput("configuration reloaded", 10s))
      << agent.process->output();

  std::string invalid = probeConfig("after", target_url_) + "pipeline: {ring_capacity: -1}\n";
  volume.publish(invalid);
  agent.process->signal(SIGHUP);
  ASSERT_TRUE(agent.process->waitForOutput("pipeline.ring_capacity: must be between 2", 10s))
      << agent.process->output();
  EXPECT_NE(agent.process->output().find("refused, the running configuration stays"),
            std::string::npos);
  const std::string page = metricsPage(port_);
  EXPECT_NE(page.find(reloads("invalid") + " 1\n"), std::string::npos) << page;
  EXPECT_NE(page.find("kubemetrics_config_last_reload_successful 0\n"), std::string::npos);
  EXPECT_TRUE(waitOnPage(port_, "reload_probe{cluster=\"before\"")) << "the running agent stopped";
  EXPECT_EQ(page.find("cluster=\"after\""), std::string::npos);

  // Fixed, and signalled again: applied.
  volume.publish(probeConfig("after", target_url_));
  agent.process->signal(SIGHUP);
  ASSERT_TRUE(waitOnPage(port_, "reload_probe{cluster=\"after\"")) << agent.process->output();
  EXPECT_EQ(agent.metric("kubemetrics_config_reloads_total", "result=\"applied\""), 2);
  EXPECT_EQ(agent.metric("kubemetrics_config_last_reload_successful", ""), 1);
  agent.process->signal(SIGTERM);
  EXPECT_EQ(agent.process->wait(15s), 0) << agent.process->output();
}

TEST(ConfigReloadSpoolTest, SamplesSpooledForADownBackendReachTheNewConfigurationsBackend) {
  constexpr int kServedScrapes = 6;
  CountingTarget target("kmtest_reload", 20, kServedScrapes);
  TempDir dir;
  const auto config = [&](const std::string& write_url) {
    return "cluster: e2e\nnode: n1\n"
           "reload: {check_interval: 200ms}\n"
           "sources:\n"
           "  host: {enabled: false}\n"
           "  ec2: {enabled: false}\n"
           "  prometheus:\n"
           "    - {name: counted, url: \"" +
           target.url() +
           "\", interval: 300ms, timeout: 250ms}\n"
           "exporters:\n"
           "  remote_write:\n"
           "    enabled: true\n"
           "    url: \"" +
           write_url +
           "\"\n"
           "    timeout: 2s\n"
           "    batch: {max_samples: 1000, max_wait: 200ms}\n"
           "    retry: {initial_backoff: 100ms, max_backoff: 500ms, max_attempts: 2}\n"
           "  spool: {dir: \"" +
           dir.path() + "/spool\", max_bytes: 64MiB}\n";
  };
  ConfigMapVolume volume(dir);
  // Nothing listens at the first backend: every request fails and spools.
  volume.publish(
      config("http://127.0.0.1:" + std::to_string(freeLoopbackPort()) + "/api/v1/write"));
  auto agent = AgentProcess::start({"--config", volume.path()});
  ASSERT_GT(agent.port, 0) << agent.process->output();
  ASSERT_TRUE(target.waitServed(kServedScrapes));
  // The first 503 scrape ends each series with a staleness marker; they are
  // in the old agent's pipeline (and so spooled) before the reload.
  const auto markers = [&] {
    return agent.metric("kubemetrics_prometheus_stale_markers_total",
                        "target=\"prometheus/counted\"");
  };
  for (int i = 0; i < 300 && markers() < 20; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_EQ(markers(), 20) << agent.process->output();

  const int vm_port = freeLoopbackPort();
  Backend vm = startVictoriaMetrics(dir.path() + "/vm", vm_port);
  ASSERT_GT(vm.port, 0) << vm.process->output();
  volume.publish(config(vm.writeUrl()));
  ASSERT_TRUE(agent.process->waitForOutput("configuration reloaded", 20s))
      << agent.process->output();

  const std::size_t want = target.samplesWithStalenessMarkers();
  EXPECT_EQ(waitForVictoriaMetricsCount(vm.port, want, 40s, "kmtest_reload"), want)
      << agent.process->output();
  EXPECT_FALSE(countAtVictoriaMetrics(vm.port, "kmtest_reload").second)
      << "duplicates at the backend";
  agent.process->signal(SIGTERM);
  EXPECT_EQ(agent.process->wait(15s), 0) << agent.process->output();
}

}  // namespace
}  // namespace kubemetrics::testing
