// Differential test against a real Prometheus: the kube-state-metrics and
// node_exporter captures are served on loopback; Prometheus scrapes them
// directly (jobs "ksm" and "node") and also scrapes the agent's /metrics
// (job "agent", honor_labels: true), while the agent scrapes the same two
// captures as sources.prometheus targets named "ksm" and "node". The two
// series sets, read back through the query API, must be identical apart
// from what the agent adds:
//  - `cluster` on every series, and `node` where the series has none of its
//    own (the tagger never overrides a label a sample already carries, so
//    kube-state-metrics' own node="minikube" survives);
//  - honor_labels: true is what makes the comparison possible: the agent
//    already set job and instance exactly as Prometheus does (job = target
//    name, instance = host:port), so Prometheus keeps them instead of
//    renaming them to exported_job/exported_instance;
//  - the per-target synthetic series come through the agent as ordinary
//    samples: up, scrape_samples_scraped and
//    scrape_samples_post_metric_relabeling must match in value too;
//    scrape_duration_seconds and scrape_series_added are timing-dependent,
//    so only their presence is compared.
#include <gtest/gtest.h>
#include <httplib.h>
#include <simdjson.h>

#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "support/agent_process.h"
#include "support/backends.h"
#include "support/process.h"

namespace kubemetrics::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// series key (name{sorted labels minus the agent's tags}) -> value text
using SeriesSet = std::map<std::string, std::string>;

bool querySeries(int port, const std::string& selector, bool from_agent, SeriesSet* out) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10, 0);
  auto res = client.Get("/api/v1/query?query=" + encodeQuery(selector));
  if (!res || res->status != 200) return false;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(res->body).get(doc)) return false;
  simdjson::dom::array result;
  if (doc["data"]["result"].get_array().get(result)) return false;
  out->clear();
  for (simdjson::dom::element series : result) {
    std::map<std::string, std::string> labels;
    simdjson::dom::object metric;
    if (series["metric"].get_object().get(metric)) return false;
    for (auto field : metric) {
      std::string_view v;
      if (field.value.get_string().get(v)) return false;
      labels.emplace(std::string(field.key), std::string(v));
    }
    if (from_agent) {
      if (labels["cluster"] != "diff") return false;
      labels.erase("cluster");
      if (labels["node"] == "diff-node") labels.erase("node");
    }
    std::string key = labels["__name__"] + "{";
    labels.erase("__name__");
    for (const auto& [k, v] : labels) key += k + "=\"" + v + "\",";
    key += "}";
    simdjson::dom::array value;
    std::string_view text;
    if (series["value"].get_array().get(value) || value.at(1).get_string().get(text)) return false;
    (*out)[key] = std::string(text);
  }
  return true;
}

TEST(PrometheusDifferentialTest, AgentReadsWhatPrometheusReads) {
  const std::string ksm =
      readFile(std::string(KM_FIXTURES_DIR) + "/ksm/ksm-v2.19.0_k8s-1.35_nri.prom");
  const std::string node =
      readFile(std::string(KM_FIXTURES_DIR) + "/exposition/node_exporter/e2e-output.prom");
  ASSERT_FALSE(ksm.empty());
  ASSERT_FALSE(node.empty());
  httplib::Server server;
  server.Get("/ksm", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(ksm, "text/plain; version=0.0.4");
  });
  server.Get("/node", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(node, "text/plain; version=0.0.4");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread thread([&] { server.listen_after_bind(); });
  const std::string target = "127.0.0.1:" + std::to_string(port);

  TempDir dir;
  const std::string agent_config =
      dir.write("agent.yaml",
                "cluster: diff\nnode: diff-node\nsources:\n  host: {enabled: false}\n"
                "  ec2: {enabled: false}\n  prometheus:\n"
                "    - {name: ksm, url: \"http://" +
                    target +
                    "/ksm\", interval: 1s, timeout: 1s}\n"
                    "    - {name: node, url: \"http://" +
                    target + "/node\", interval: 1s, timeout: 1s}\n");
  auto agent = AgentProcess::start({"--config", agent_config});
  ASSERT_GT(agent.port, 0) << agent.process->output();

  const Backend prometheus = startPrometheus(
      dir,
      "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
      "scrape_configs:\n"
      "  - {job_name: ksm, metrics_path: /ksm, static_configs: [{targets: [\"" +
          target +
          "\"]}]}\n"
          "  - {job_name: node, metrics_path: /node, static_configs: [{targets: [\"" +
          target +
          "\"]}]}\n"
          "  - {job_name: agent, honor_labels: true, static_configs: [{targets: [\"127.0.0.1:" +
          std::to_string(agent.port) + "\"]}]}\n");
  ASSERT_GT(prometheus.port, 0) << prometheus.process->output();

  SeriesSet direct, via_agent;
  const auto until = std::chrono::steady_clock::now() + seconds(40);
  bool equal_sizes = false;
  while (std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(seconds(1));
    if (!querySeries(prometheus.port, "{job=~\"ksm|node\",cluster=\"\"}", false, &direct)) continue;
    if (!querySeries(prometheus.port, "{job=~\"ksm|node\",cluster=\"diff\"}", true, &via_agent))
      continue;
    if (direct.size() > 1000 && direct.size() == via_agent.size()) {
      equal_sizes = true;
      break;
    }
  }
  std::cout << "compared " << direct.size() << " series read directly with " << via_agent.size()
            << " read through the agent\n";
  EXPECT_TRUE(equal_sizes) << direct.size() << " direct vs " << via_agent.size()
                           << " via the agent";
  std::size_t missing = 0, extra = 0, differing = 0;
  for (const auto& [key, value] : direct) {
    auto it = via_agent.find(key);
    if (it == via_agent.end()) {
      if (++missing <= 10) ADD_FAILURE() << "missing via the agent: " << key;
      continue;
    }
    const bool timing =
        key.rfind("scrape_duration_seconds{", 0) == 0 || key.rfind("scrape_series_added{", 0) == 0;
    if (!timing && it->second != value && ++differing <= 10) {
      ADD_FAILURE() << key << ": Prometheus " << value << ", agent " << it->second;
    }
  }
  for (const auto& [key, value] : via_agent) {
    if (!direct.count(key) && ++extra <= 10) ADD_FAILURE() << "only via the agent: " << key;
  }
  EXPECT_EQ(missing, 0u);
  EXPECT_EQ(extra, 0u);
  EXPECT_EQ(differing, 0u);
  EXPECT_EQ(direct["up{instance=\"" + target + "\",job=\"ksm\",}"], "1");
  server.stop();
  thread.join();
}

}  // namespace
}  // namespace kubemetrics::testing
