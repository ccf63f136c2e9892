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
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
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

/// Scrapes the target every second and remote-writes to the agent and,
/// when `direct_port` is set, also straight to that VictoriaMetrics.
std::string prometheusYaml(int target_port, int agent_listener_port, int direct_port = 0) {
  const std::string queue =
      "    queue_config: {batch_send_deadline: 1s, max_samples_per_send: 500}\n";
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
         std::to_string(agent_listener_port) + "/api/v1/write\"\n" + queue +
         (direct_port == 0 ? std::string()
                           : "  - url: \"http://127.0.0.1:" + std::to_string(direct_port) +
                                 "/api/v1/write\"\n" + queue);
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

/// How many series `selector` selects on Prometheus at `at_ms` (an instant
/// query: the newest sample within 5 minutes, none when that is a
/// staleness marker); -1 when the query fails.
int seriesAt(int port, const std::string& selector, std::int64_t at_ms) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10, 0);
  char time[32];
  std::snprintf(time, sizeof time, "%.3f", static_cast<double>(at_ms) / 1000);
  auto res =
      client.Get("/api/v1/query?query=" + encodeQuery("count(" + selector + ")") + "&time=" + time);
  if (!res || res->status != 200) return -1;
  if (res->body.find("\"result\":[]") != std::string::npos) return 0;
  // "value":[<time>,"<count>"]
  const std::size_t value = res->body.find("\"value\":[");
  const std::size_t at = value == std::string::npos ? value : res->body.find(",\"", value);
  if (at == std::string::npos) return -1;
  return std::stoi(res->body.substr(at + 2));
}

TEST(ListenerRemoteWriteProxyTest, StalenessMarkersPassThrough) {
  // When the target goes away, Prometheus writes a staleness marker (a
  // special NaN) for each of its series, and remote-writes it: a backend
  // behind the agent must get it too, so that the series ends there at the
  // same instant as in the sender (instead of lingering for the 5-minute
  // lookback). The backend is a second Prometheus, which, unlike
  // VictoriaMetrics 1.79, keeps the markers and honours them in queries.
  TempDir sink_dir;
  Backend sink = startPrometheus(sink_dir);
  ASSERT_GT(sink.port, 0) << sink.process->output();
  TempDir agent_dir;
  const int listener_port = freeLoopbackPort();
  const std::string config =
      agent_dir.write("agent.yaml", "cluster: " + std::string(kCluster) + "\nnode: " + kNode +
                                        "\nsources:\n  host: {enabled: false}\n"
                                        "  ec2: {enabled: false}\n  listeners:\n"
                                        "    remote_write: {enabled: true, listen: \"127.0.0.1:" +
                                        std::to_string(listener_port) +
                                        "\"}\nexporters:\n  remote_write:\n    enabled: true\n"
                                        "    url: \"" +
                                        sink.writeUrl() +
                                        "\"\n    batch: {max_wait: 200ms}\n"
                                        "  spool: {dir: \"" +
                                        agent_dir.path() + "/spool\"}\n");
  auto agent = AgentProcess::start({"--config", config});
  ASSERT_GT(agent.port, 0) << agent.process->output();

  auto target = std::make_unique<ExpositionServer>();
  TempDir prom_dir;
  Backend prom = startPrometheus(prom_dir, prometheusYaml(target->port, listener_port));
  ASSERT_GT(prom.port, 0) << prom.process->output();

  const std::string up = std::string("up{job=\"") + kJob + "\"}[10m]";
  auto upSamples = [&] {
    const auto series = queryPrometheus(prom.port, up);
    return series.empty() ? ReadSeries{} : series.front();
  };
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (upSamples().timestamps.size() < 3 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(200ms);
  }
  target.reset();
  // The first failed scrape (up = 0): its timestamp is the markers'.
  std::int64_t failed_at = -1;
  while (failed_at < 0 && std::chrono::steady_clock::now() < until) {
    const ReadSeries s = upSamples();
    for (std::size_t i = 0; i < s.values.size() && failed_at < 0; ++i) {
      if (s.values[i] == 0) failed_at = s.timestamps[i];
    }
    if (failed_at < 0) std::this_thread::sleep_for(200ms);
  }
  ASSERT_GT(failed_at, 0) << prom.process->output();

  const std::string gauges = std::string("proxy_e2e_gauge{job=\"") + kJob + "\"}";
  // In the sender: there just before the failed scrape, gone at it.
  EXPECT_EQ(seriesAt(prom.port, gauges, failed_at - 1), kGauges);
  EXPECT_EQ(seriesAt(prom.port, gauges, failed_at), 0);
  // Behind the agent: the same, once up = 0 has arrived there too.
  const std::string failed_up = std::string("up{job=\"") + kJob + "\"} == 0";
  while (seriesAt(sink.port, failed_up, failed_at) != 1 &&
         std::chrono::steady_clock::now() < until + 30s) {
    std::this_thread::sleep_for(250ms);
  }
  ASSERT_EQ(seriesAt(sink.port, failed_up, failed_at), 1) << agent.process->output();
  EXPECT_EQ(seriesAt(sink.port, gauges, failed_at - 1), kGauges);
  EXPECT_EQ(seriesAt(sink.port, gauges, failed_at), 0)
      << "the staleness markers did not pass through the agent";
}

}  // namespace
}  // namespace kubemetrics::testing
