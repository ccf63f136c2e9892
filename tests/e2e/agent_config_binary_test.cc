// Issue 17's configuration features, each once through the built binary
// rather than through the library the unit tests call: an IPv6 ${NODE_IP}
// in the kubelet URL, the host's network counters from the node's network
// namespace, and a Prometheus job's scrape timeout defaulting to
// min(10s, interval). Every peer is a loopback fake.

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kubemetrics/mutex.h"
#include "support/agent_process.h"
#include "support/agent_yaml.h"
#include "support/backends.h"
#include "support/exposition.h"
#include "support/http_get.h"
#include "support/loopback.h"
#include "support/process.h"
#include "support/tls_certs.h"
#include "unit/scrapers/kubelet/fake_kubelet.h"
#include "unit/scrapers/kubelet/summary_support.h"

namespace kubemetrics::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Polls the agent's page until `done` holds for it (bounded by `timeout`),
// returning the last page.
std::string waitForPage(int port, const std::function<bool(const std::string&)>& done,
                        milliseconds timeout) {
  std::string page;
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    page = metricsPage(port);
    if (done(page)) break;
    std::this_thread::sleep_for(milliseconds(200));
  }
  return page;
}

// `agent --check-config --config path` with `env`: the exit code (-1 when
// it did not end within 20 s) and what it printed.
CommandResult checkConfig(const std::string& path, std::vector<std::string> env = {}) {
  Process check({KM_AGENT_BINARY, "--check-config", "--config", path}, std::move(env));
  return CommandResult{check.wait(seconds(20)).value_or(-1), check.output()};
}

// The lines of the effective configuration's list entry `- name: <name>`,
// up to the next entry or the end of the list's indentation.
std::string listEntry(const std::string& effective, const std::string& name) {
  const std::string head = "- name: " + name + "\n";
  const std::size_t at = effective.find(head);
  if (at == std::string::npos) return "";
  const std::size_t line_start = effective.rfind('\n', at) + 1;
  const std::string indent = effective.substr(line_start, at - line_start);
  std::size_t end = at + head.size();
  // The entry's own keys are indented deeper than its "- ".
  while (end < effective.size() && effective.compare(end, indent.size() + 2, indent + "  ") == 0) {
    end = effective.find('\n', end);
    end = end == std::string::npos ? effective.size() : end + 1;
  }
  return effective.substr(at, end - at);
}

// ------------------------------------------------------------ IPv6 NODE_IP

// What manifests/base/configmap-node.yaml ships: on an IPv6 node NODE_IP
// (status.hostIP) is a bare address, which a URL needs in brackets.
TEST(AgentConfigBinaryTest, Ipv6NodeIpIsBracketedInTheKubeletUrl) {
  TempDir dir;
  const std::string explicit_url = dir.write("explicit.yaml", R"(cluster: e2e
node: e2e-node
sources:
  host: {enabled: false}
  ec2: {enabled: false}
  kubelet:
    enabled: true
    url: https://${NODE_IP}:10250/stats/summary
)");
  // Only validates and prints: --check-config contacts nothing.
  const CommandResult checked = checkConfig(explicit_url, {"NODE_IP=fd00::1"});
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  EXPECT_NE(checked.output.find("    url: https://[fd00::1]:10250/stats/summary\n"),
            std::string::npos)
      << checked.output;

  // Without a url key the default is not part of the text that ${VAR}
  // expansion sees: it is printed as written, and the kubelet factory
  // expands it when the source starts (expandNodeIp, which brackets an IPv6
  // address too: KubeletConfigTest.ExpandsNodeIp).
  const std::string default_url = dir.write("default.yaml", R"(cluster: e2e
node: e2e-node
sources:
  host: {enabled: false}
  ec2: {enabled: false}
  kubelet: {enabled: true}
)");
  const CommandResult defaulted = checkConfig(default_url, {"NODE_IP=fd00::1"});
  EXPECT_EQ(defaulted.exit_code, 0) << defaulted.output;
  EXPECT_NE(defaulted.output.find("    url: https://${NODE_IP}:10250/stats/summary\n"),
            std::string::npos)
      << defaulted.output;
}

// The same URL form scraped for real: NODE_IP=::1 and a fake kubelet on
// [::1], whose certificate names ::1, so the TLS name check covers the
// IPv6 address too.
TEST(AgentConfigBinaryTest, ScrapesAKubeletAtAnIpv6NodeIp) {
  std::string why;
  if (!canBindIpv6Loopback(&why)) {
    GTEST_SKIP() << "IPv6 loopback is unavailable here (" << why
                 << "), so no kubelet can listen on [::1]";
  }
  const TlsCerts& certs = TlsCerts::shared();
  scrapers::kubelet::testing::FakeKubelet kubelet(certs.server_cert, certs.server_key, "e2e-token",
                                                  "::1");
  ASSERT_TRUE(kubelet.valid());
  kubelet.setBody(scrapers::kubelet::testing::fixture("summary_k8s-1.35_containerd_psi_nri.json"));
  TempDir dir;
  const std::string token = dir.write("token", "e2e-token\n");
  const std::string url = "https://${NODE_IP}:" + std::to_string(kubelet.port()) + "/stats/summary";
  const std::string config =
      dir.write("agent.yaml", kubeletAgentYaml("e2e-ipv6", url, token, certs.ca_cert));

  auto agent = AgentProcess::start({"--config", config}, {"NODE_IP=::1"});
  ASSERT_GT(agent.port, 0) << agent.process->output();
  const std::string page =
      pollUntil(agent.port, "/metrics", "kubernetes_node_memory_working_set{", seconds(20));
  EXPECT_EQ(exposedValue(page, "kubernetes_node_memory_working_set", {{"type", "node"}}),
            917110784.0)
      << page;  // the fixture's node workingSetBytes
  EXPECT_EQ(exposedValue(page, "kubemetrics_source_up", {{"source", "kubelet"}}), 1.0) << page;
  EXPECT_GT(kubelet.requests(), 0);
  EXPECT_EQ(agent.process->output().find("scrape failed"), std::string::npos)
      << agent.process->output();
}

// ---------------------------------------------- host network namespace

// A pod without hostNetwork that mounts the host's /proc: /proc/net/dev is
// the pod's own namespace (net/dev of the tree, through "self"), pid 1's is
// the node's. The node's counters are the ones to report.
TEST(AgentConfigBinaryTest, HostNetworkCountersComeFromPidOnesNamespace) {
  TempDir proc;
  std::filesystem::copy(std::string(KM_TESTDATA_DIR) + "/host/proc", proc.path(),
                        std::filesystem::copy_options::recursive);
  std::filesystem::create_directories(proc.path() + "/1/net");
  const std::string header =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
      "drop fifo colls carrier compressed\n";
  proc.write("net/dev", header + "  eth0: 111 1 0 0 0 0 0 0 222 2 0 0 0 0 0 0\n");
  proc.write("1/net/dev", header +
                              "  ens5: 9000000 9000 0 0 0 0 0 0 8000000 8000 0 0 0 0 0 0\n"
                              "  eni3a1: 700 7 0 0 0 0 0 0 600 6 0 0 0 0 0 0\n");
  // The fake tree's mount points, so statvfs under rootfs_path finds them.
  TempDir rootfs;
  for (const char* dir : {"run", "data disk", "hidden", "proc", "sys"}) {
    std::filesystem::create_directories(rootfs.path() + "/" + dir);
  }
  TempDir dir;
  const std::string config = dir.write("agent.yaml", R"(cluster: e2e-host
node: e2e-node
sources:
  ec2: {enabled: false}
  host:
    interval: 1s
    proc_path: ")" + proc.path() + R"("
    rootfs_path: ")" + rootfs.path() + R"("
)");

  auto agent = AgentProcess::start({"--config", config});
  ASSERT_GT(agent.port, 0) << agent.process->output();
  const std::string page =
      pollUntil(agent.port, "/metrics", "node_network_receive_bytes_total{", seconds(20));
  EXPECT_EQ(exposedValue(page, "node_network_receive_bytes_total", {{"device", "ens5"}}), 9000000.0)
      << page;
  EXPECT_EQ(exposedValue(page, "node_network_transmit_bytes_total", {{"device", "ens5"}}),
            8000000.0);
  EXPECT_EQ(exposedValue(page, "node_network_receive_bytes_total", {{"device", "eni3a1"}}), 700.0);
  EXPECT_EQ(exposedValue(page, "node_network_transmit_bytes_total", {{"device", "eni3a1"}}), 600.0);
  // Nothing from the pod's own namespace, under any metric name.
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    const auto series = parseExpositionLine(line);
    if (!series) continue;
    const auto device = series->labels.find("device");
    EXPECT_FALSE(device != series->labels.end() && device->second == "eth0")
        << "the pod's own interface was reported: " << line;
  }
}

// --------------------------------------------------- scrape timeout default

// A job with `interval: 2s` and no timeout gets min(10s, 2s): the
// effective configuration says so, and a target answering after 4 s fails
// its scrapes as timed out while a fast one beside it is up.
// Two Prometheus targets on 127.0.0.1: /fast answers at once, /slow after
// 4 s; each keeps the X-Prometheus-Scrape-Timeout-Seconds its last request
// carried. Stops its server (and cuts a slow answer short) when destroyed,
// so a failed assertion never leaves the thread running.
class FastAndSlowTargets {
 public:
  FastAndSlowTargets() {
    server_.Get("/fast", [this](const httplib::Request& req, httplib::Response& res) {
      record("fast", req);
      res.set_content("fast_metric 1\n", "text/plain; version=0.0.4");
    });
    server_.Get("/slow", [this](const httplib::Request& req, httplib::Response& res) {
      record("slow", req);
      for (int i = 0; i < 80 && !stopping_; ++i) std::this_thread::sleep_for(milliseconds(50));
      res.set_content("slow_metric 1\n", "text/plain; version=0.0.4");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FastAndSlowTargets() {
    stopping_ = true;
    server_.stop();
    thread_.join();
  }
  FastAndSlowTargets(const FastAndSlowTargets&) = delete;
  FastAndSlowTargets& operator=(const FastAndSlowTargets&) = delete;

  int port() const { return port_; }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  /// The timeout header of the last request to /`target`; "" before one.
  std::string timeoutHeader(const std::string& target) {
    MutexLock lock(mu_);
    return timeout_headers_[target];
  }

 private:
  void record(const std::string& target, const httplib::Request& req) {
    MutexLock lock(mu_);
    timeout_headers_[target] = req.get_header_value("X-Prometheus-Scrape-Timeout-Seconds");
  }

  Mutex mu_;
  std::map<std::string, std::string> timeout_headers_ KM_GUARDED_BY(mu_);
  std::atomic<bool> stopping_{false};
  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
};

TEST(AgentConfigBinaryTest, ScrapeTimeoutDefaultsToTheInterval) {
  FastAndSlowTargets targets;
  ASSERT_GT(targets.port(), 0);
  const std::string base = targets.base();
  TempDir dir;
  const std::string config = dir.write("agent.yaml", R"(cluster: e2e-timeout
node: e2e-node
sources:
  host: {enabled: false}
  ec2: {enabled: false}
  prometheus:
    - {name: fast, url: ")" + base + R"(/fast", interval: 2s}
    - {name: slow, url: ")" + base + R"(/slow", interval: 2s}
)");

  const CommandResult checked = checkConfig(config);
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  for (const char* job : {"fast", "slow"}) {
    const std::string entry = listEntry(checked.output, job);
    EXPECT_NE(entry.find("  timeout: 2s\n"), std::string::npos) << job << " in:\n"
                                                                << checked.output;
  }

  auto agent = AgentProcess::start({"--config", config});
  ASSERT_GT(agent.port, 0) << agent.process->output();
  auto settled = [](const std::string& page) {
    return exposedValue(page, "up", {{"job", "fast"}}) == 1.0 &&
           exposedValue(page, "up", {{"job", "slow"}}) == 0.0 &&
           exposedValue(page, "kubemetrics_prometheus_scrape_errors_total",
                        {{"target", "prometheus/slow"}, {"reason", "timeout"}})
                   .value_or(0) >= 1;
  };
  // The first slow scrape ends 2 s after the agent starts.
  const std::string page = waitForPage(agent.port, settled, seconds(8));
  EXPECT_TRUE(settled(page)) << page;
  EXPECT_EQ(exposedValue(page, "fast_metric", {{"job", "fast"}}), 1.0);
  EXPECT_FALSE(exposedValue(page, "slow_metric", {{"job", "slow"}}).has_value());
  // The scheduler ends a scrape at the interval anyway, so the failure
  // alone would not tell a 2 s timeout from a 10 s one; the timeout each
  // target was told does.
  for (const char* job : {"fast", "slow"}) {
    const std::string told = targets.timeoutHeader(job);
    EXPECT_FALSE(told.empty()) << job;
    if (!told.empty()) {
      EXPECT_EQ(std::stod(told), 2.0) << job << ": " << told;
    }
  }
  // Cut at the 2 s timeout, not at the answer (4 s) nor at the 10 s default.
  const double duration =
      exposedValue(page, "scrape_duration_seconds", {{"job", "slow"}}).value_or(-1);
  EXPECT_GE(duration, 1.5) << page;
  EXPECT_LT(duration, 3.5) << page;
}

}  // namespace
}  // namespace kubemetrics::testing
