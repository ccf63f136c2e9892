// The agent as a remote-write proxy between two real systems: a Prometheus
// scrapes a small exposition server in this test every second and
// remote-writes (spec 1.0) to the agent's remote_write listener, a few
// requests per scrape; the agent remote-writes on to a VictoriaMetrics.
// Every series Prometheus stored must arrive in VictoriaMetrics with the
// agent's cluster and node tags and with exactly the same samples.
//
// Why this comparison is exact: Prometheus remote-writes what it appends to
// its own TSDB, so its TSDB is the list of what it sent. Both sides are read
// back in full and cut at the same instant B, chosen when every scrape
// stamped at or before B has finished (the scrape timeout is the 1 s
// interval; B is 1.5 s in the past). Below B, both must hold the same
// series with the same timestamps and values, sample for sample: a lost
// sample, a duplicate (VictoriaMetrics keeps both without deduplication)
// or a changed value fails.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/agent_process.h"
#include "support/backends.h"
#include "support/process.h"

namespace kubemetrics::testing {
namespace {

using namespace std::chrono_literals;
using LabelSet = std::map<std::string, std::string>;

constexpr const char* kCluster = "e2e-proxy";
constexpr const char* kNode = "n1";
constexpr const char* kJob = "proxytest";
// Enough series that one scrape takes several remote-write requests
// (max_samples_per_send below).
constexpr int kGauges = 2000;

/// The scraped target: a few gauges and a counter of the scrapes it served
/// (the text format, version 0.0.4), so values change over time.
class ExpositionServer {
 public:
  ExpositionServer() {
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      const int n = ++scrapes_;
      std::string body = "# TYPE proxy_e2e_scrapes_total counter\nproxy_e2e_scrapes_total " +
                         std::to_string(n) + "\n# TYPE proxy_e2e_gauge gauge\n";
      for (int i = 0; i < kGauges; ++i) {
        body += "proxy_e2e_gauge{idx=\"" + std::to_string(i) + "\",text=\"a \\\"quoted\\\" b\"} " +
                std::to_string(i * 1.5 + n) + "\n";
      }
      res.set_content(body, "text/plain; version=0.0.4");
    });
    port = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~ExpositionServer() {
    server_.stop();
    thread_.join();
  }
  int port = 0;

 private:
  std::atomic<int> scrapes_{0};
  httplib::Server server_;
  std::thread thread_;
};

std::string agentYaml(int listener_port, int vm_port, const std::string& spool_dir) {
  return std::string("cluster: ") + kCluster + "\nnode: " + kNode +
         "\n"
         "sources:\n"
         "  host: {enabled: false}\n"
         "  ec2: {enabled: false}\n"
         "  listeners:\n"
         "    remote_write: {enabled: true, listen: \"127.0.0.1:" +
         std::to_string(listener_port) +
         "\"}\n"
         "exporters:\n"
         "  remote_write:\n"
         "    enabled: true\n"
         "    url: \"http://127.0.0.1:" +
         std::to_string(vm_port) +
         "/api/v1/write\"\n"
         "    batch: {max_wait: 200ms}\n"
         "  spool: {dir: \"" +
         spool_dir + "\"}\n";
}

std::string prometheusYaml(int target_port, int agent_listener_port) {
  return std::string("global:\n  scrape_interval: 1s\n") +
         "scrape_configs:\n"
         "  - job_name: " +
         kJob +
         "\n"
         "    static_configs:\n"
         "      - targets: [\"127.0.0.1:" +
         std::to_string(target_port) +
         "\"]\n"
         "remote_write:\n"
         "  - url: \"http://127.0.0.1:" +
         std::to_string(agent_listener_port) +
         "/api/v1/write\"\n"
         "    queue_config: {batch_send_deadline: 1s, max_samples_per_send: 500}\n";
}

/// Each series' samples stamped at or before `cutoff_ms`, by label set.
std::map<LabelSet, std::vector<std::pair<std::int64_t, double>>> upTo(
    const std::vector<ReadSeries>& series, std::int64_t cutoff_ms,
    const std::vector<std::string>& drop_labels = {}) {
  std::map<LabelSet, std::vector<std::pair<std::int64_t, double>>> out;
  for (const ReadSeries& s : series) {
    LabelSet labels = s.labels;
    for (const std::string& name : drop_labels) labels.erase(name);
    auto& samples = out[labels];
    for (std::size_t i = 0; i < s.timestamps.size(); ++i) {
      if (s.timestamps[i] <= cutoff_ms) samples.emplace_back(s.timestamps[i], s.values[i]);
    }
  }
  return out;
}

/// The value of `name` on a Prometheus /metrics page summed over its series
/// (-1 when the page or the metric is missing).
double prometheusSelfMetric(int port, const std::string& name) {
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) return -1;
  double sum = -1;
  std::istringstream lines(res->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with(name) || line.size() <= name.size()) continue;
    if (line[name.size()] != '{' && line[name.size()] != ' ') continue;
    sum = std::max(sum, 0.0) + std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

TEST(ListenerRemoteWriteProxyTest, EverySeriesPrometheusSentArrivesInVictoriaMetricsUnchanged) {
  TempDir vm_dir;
  Backend vm = startVictoriaMetrics(vm_dir.path());
  ASSERT_GT(vm.port, 0) << vm.process->output();

  TempDir agent_dir;
  const int listener_port = freeLoopbackPort();
  const std::string config =
      agent_dir.write("agent.yaml", agentYaml(listener_port, vm.port, agent_dir.path() + "/spool"));
  auto agent = AgentProcess::start({"--config", config});
  ASSERT_GT(agent.port, 0) << agent.process->output();

  ExpositionServer target;
  TempDir prom_dir;
  Backend prom = startPrometheus(prom_dir, prometheusYaml(target.port, listener_port));
  ASSERT_GT(prom.port, 0) << prom.process->output();

  // Seven scrapes stored in Prometheus (bounded).
  const std::string selector = std::string("{job=\"") + kJob + "\"}";
  std::vector<ReadSeries> stored;
  const auto scraped_until = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    stored = queryPrometheus(prom.port, "up" + selector + "[10m]");
    if (totalSamples(stored) >= 7 || std::chrono::steady_clock::now() > scraped_until) break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_GE(totalSamples(stored), 7u) << prom.process->output();

  // Every scrape stamped at or before the cutoff has finished by now.
  const std::int64_t cutoff = nowMs() - 1500;
  const auto sent = upTo(queryPrometheus(prom.port, selector + "[10m]"), cutoff);
  // up, the four scrape_* series and the target's.
  constexpr std::size_t kSeries = 5 + 1 + kGauges;
  ASSERT_EQ(sent.size(), kSeries);
  std::size_t sent_samples = 0;
  for (const auto& [labels, samples] : sent) sent_samples += samples.size();
  ASSERT_GE(sent_samples, kSeries * 4);  // at least four scrapes before the cutoff

  // Wait (bounded) until VictoriaMetrics holds as many samples up to the
  // cutoff, then compare sample for sample.
  std::vector<ReadSeries> arrived;
  auto arrivedSamples = [&] {
    std::size_t n = 0;
    for (const auto& [labels, samples] : upTo(arrived, cutoff)) n += samples.size();
    return n;
  };
  const auto delivered_until = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    arrived = exportFromVictoriaMetrics(vm.port, selector);
    if (arrivedSamples() >= sent_samples || std::chrono::steady_clock::now() > delivered_until) {
      break;
    }
    std::this_thread::sleep_for(250ms);
  }
  EXPECT_EQ(arrivedSamples(), sent_samples) << agent.process->output();

  for (const ReadSeries& s : arrived) {
    EXPECT_EQ(s.labels.count("cluster") ? s.labels.at("cluster") : "", kCluster);
    EXPECT_EQ(s.labels.count("node") ? s.labels.at("node") : "", kNode);
  }
  const auto got = upTo(arrived, cutoff, {"cluster", "node"});
  EXPECT_EQ(got.size(), sent.size());
  for (const auto& [labels, samples] : sent) {
    std::string name;
    for (const auto& [k, v] : labels) name += k + "=" + v + " ";
    SCOPED_TRACE(name);
    const auto it = got.find(labels);
    ASSERT_NE(it, got.end()) << "series missing in VictoriaMetrics";
    EXPECT_EQ(it->second, samples);
  }

  // Nothing refused on either side.
  EXPECT_EQ(prometheusSelfMetric(prom.port, "prometheus_remote_storage_samples_failed_total"), 0);
  EXPECT_EQ(prometheusSelfMetric(prom.port, "prometheus_remote_storage_samples_dropped_total"), 0);
  const double received =
      agent.metric("kubemetrics_listener_received_samples_total", "listener=\"remote_write\"");
  EXPECT_GE(received, static_cast<double>(sent_samples));
  EXPECT_LE(agent.metric("kubemetrics_exporter_dropped_samples_total",
                         "exporter=\"remote_write\",reason=\"rejected\""),
            0);
}

}  // namespace
}  // namespace kubemetrics::testing
