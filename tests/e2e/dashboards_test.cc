// Every Grafana dashboard in manifests/dashboards/ against real data: the
// agent binary reads an in-process fake kubelet (HTTPS, a real Summary API
// capture whose times move forward so rates are computed), the host's /proc
// and an in-process fake EC2 metadata service (identity, a spot interruption
// notice); a second agent binary with role: cluster scrapes an in-process
// fake kube-state-metrics (the capture of the same Kubernetes 1.35 cluster)
// and computes the namespace and cluster aggregates, and the usage
// aggregates from the resource metrics API of a fake API server
// (tests/support/fake_kube_api.h, PodMetrics v1beta1); a real Prometheus
// scrapes both agents' /metrics (as the job in
// manifests/prometheus/alerts.yaml does) and receives the node agent's
// remote write (so the push-exporter and spool self-metrics exist). Then each dashboard's
// template variables are resolved against Prometheus (each must list at
// least one value) and every panel's PromQL, with the variables set as a
// user opening the dashboard gets them ("All"), must return a non-empty
// result. A failure names the dashboard, the panel and the expression.

#include <gtest/gtest.h>
#include <httplib.h>
#include <simdjson.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/agent_process.h"
#include "support/fake_kube_api.h"
#include "support/process.h"
#include "support/tls_certs.h"
#include "unit/scrapers/ec2/fake_imds.h"
#include "unit/scrapers/kubelet/fake_kubelet.h"
#include "unit/scrapers/kubelet/summary_support.h"

namespace kubemetrics::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kDashboardsDir = std::string(KM_TESTDATA_DIR) + "/../../manifests/dashboards";
constexpr const char* kFixture = "summary_k8s-1.35_containerd_psi_nri.json";
// kube-state-metrics of the same cluster as kFixture (same namespaces).
constexpr const char* kKsmFixture = "ksm/ksm-v2.19.0_k8s-1.35_nri.prom";

/// kube-state-metrics on loopback: serves the capture on /metrics.
class FakeKsm {
 public:
  explicit FakeKsm(std::string body) : body_(std::move(body)) {
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(body_, "text/plain; version=0.0.4");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeKsm() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/metrics"; }

 private:
  const std::string body_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

std::string urlEncode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A Prometheus HTTP API answer: "success" with the `data.result` size, or
/// the error.
struct ApiAnswer {
  bool ok = false;
  std::size_t results = 0;
  std::string error;
  std::string body;
};

class PrometheusApi {
 public:
  explicit PrometheusApi(int port) : client_("127.0.0.1", port) {
    client_.set_read_timeout(10, 0);
    client_.set_connection_timeout(2, 0);
  }

  ApiAnswer query(const std::string& promql) {
    return get("/api/v1/query?query=" + urlEncode(promql), true);
  }

  /// label_values(SELECTOR, LABEL) or label_values(LABEL): the values.
  std::vector<std::string> labelValues(const std::string& label, const std::string& selector) {
    std::string path = "/api/v1/label/" + label + "/values";
    if (!selector.empty()) path += "?match[]=" + urlEncode(selector);
    std::vector<std::string> values;
    auto res = client_.Get(path.c_str());
    if (!res || res->status != 200) return values;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(res->body).get(doc)) return values;
    simdjson::dom::array data;
    if (doc["data"].get_array().get(data)) return values;
    for (simdjson::dom::element v : data) {
      std::string_view s;
      if (!v.get_string().get(s)) values.emplace_back(s);
    }
    return values;
  }

 private:
  ApiAnswer get(const std::string& path, bool vector_result) {
    ApiAnswer answer;
    auto res = client_.Get(path.c_str());
    if (!res) {
      answer.error = "no answer from Prometheus";
      return answer;
    }
    answer.body = res->body;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(res->body).get(doc)) {
      answer.error = "invalid JSON: " + res->body;
      return answer;
    }
    std::string_view status;
    if (doc["status"].get_string().get(status) || status != "success") {
      std::string_view error;
      if (!doc["error"].get_string().get(error)) answer.error = std::string(error);
      if (answer.error.empty()) answer.error = res->body;
      return answer;
    }
    answer.ok = true;
    if (vector_result) {
      simdjson::dom::array result;
      if (!doc["data"]["result"].get_array().get(result)) answer.results = result.size();
    }
    return answer;
  }

  httplib::Client client_;
};

// ------------------------------------------------------------ dashboards

struct Variable {
  std::string name;
  std::string type;
  std::string query;  // the PromQL of a query variable
  bool include_all = false;
  std::string all_value;
};

struct PanelQuery {
  std::string panel;
  std::string ref_id;
  std::string expr;
};

struct Dashboard {
  std::string file;
  std::string title;
  std::vector<Variable> variables;
  std::vector<PanelQuery> queries;
  std::vector<std::string> problems;  // structural, found while parsing
};

std::string stringAt(simdjson::simdjson_result<simdjson::dom::element> e, std::string_view key) {
  std::string_view s;
  if (e[key].get_string().get(s)) return {};
  return std::string(s);
}
std::string stringAt(simdjson::dom::element e, std::string_view key) {
  return stringAt(simdjson::simdjson_result<simdjson::dom::element>(std::move(e)), key);
}

void collectPanels(simdjson::dom::array panels, Dashboard& d) {
  for (simdjson::dom::element panel : panels) {
    const std::string title = stringAt(panel, "title");
    const std::string type = stringAt(panel, "type");
    simdjson::dom::array nested;
    if (!panel["panels"].get_array().get(nested)) collectPanels(nested, d);  // rows
    if (type == "row") continue;
    simdjson::dom::array targets;
    if (panel["targets"].get_array().get(targets) || targets.size() == 0) {
      d.problems.push_back("panel \"" + title + "\" has no targets");
      continue;
    }
    if (stringAt(panel["datasource"], "uid") != "${datasource}") {
      d.problems.push_back("panel \"" + title + "\" does not use the ${datasource} variable");
    }
    for (simdjson::dom::element target : targets) {
      const std::string expr = stringAt(target, "expr");
      if (expr.empty()) {
        d.problems.push_back("panel \"" + title + "\" has a target without expr");
        continue;
      }
      d.queries.push_back({title, stringAt(target, "refId"), expr});
    }
  }
}

Dashboard loadDashboard(const std::filesystem::path& path) {
  Dashboard d;
  d.file = path.filename().string();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto error = parser.load(path.string()).get(doc)) {
    d.problems.push_back(std::string("not valid JSON: ") + simdjson::error_message(error));
    return d;
  }
  d.title = stringAt(doc, "title");
  if (d.title.empty()) d.problems.push_back("no title");
  if (stringAt(doc, "uid").empty()) d.problems.push_back("no uid");
  simdjson::dom::array list;
  if (!doc["templating"]["list"].get_array().get(list)) {
    for (simdjson::dom::element v : list) {
      Variable var;
      var.name = stringAt(v, "name");
      var.type = stringAt(v, "type");
      var.query = stringAt(v["query"], "query");
      if (var.query.empty()) var.query = stringAt(v, "query");
      bool include_all = false;
      if (!v["includeAll"].get_bool().get(include_all)) var.include_all = include_all;
      var.all_value = stringAt(v, "allValue");
      d.variables.push_back(var);
    }
  }
  bool has_datasource = false;
  for (const Variable& v : d.variables) {
    has_datasource = has_datasource || (v.type == "datasource" && v.query == "prometheus");
  }
  if (!has_datasource) d.problems.push_back("no Prometheus data source variable");
  simdjson::dom::array panels;
  if (doc["panels"].get_array().get(panels)) {
    d.problems.push_back("no panels");
  } else {
    collectPanels(panels, d);
  }
  return d;
}

/// Replaces Grafana's variables: $name, ${name} and ${name:format}, and the
/// built-in intervals.
std::string substitute(std::string text, const std::map<std::string, std::string>& values) {
  std::map<std::string, std::string> all = values;
  all["__rate_interval"] = "1m";
  all["__interval"] = "15s";
  all["__range"] = "5m";
  static const std::regex kVar(R"(\$\{([A-Za-z0-9_]+)(:[^}]*)?\}|\$([A-Za-z0-9_]+))");
  std::string out;
  std::size_t last = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kVar); it != std::sregex_iterator();
       ++it) {
    const std::smatch& m = *it;
    const std::string name = m[1].matched ? m[1].str() : m[3].str();
    out.append(text, last, static_cast<std::size_t>(m.position(0)) - last);
    auto found = all.find(name);
    out += found != all.end() ? found->second : m.str(0);  // unknown: left, so the query fails
    last = static_cast<std::size_t>(m.position(0) + m.length(0));
  }
  out.append(text, last);
  return out;
}

// ------------------------------------------------------------------- test

class DashboardsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const TlsCerts& certs = TlsCerts::shared();
    kubelet_ = std::make_unique<scrapers::kubelet::testing::FakeKubelet>(
        certs.server_cert, certs.server_key, "dash-token");
    ASSERT_TRUE(kubelet_->valid());
    base_summary_ = scrapers::kubelet::testing::fixture(kFixture);
    // The capture's times, moved to now: rates need them to advance, and
    // remote write needs samples Prometheus still accepts.
    std::smatch m;
    ASSERT_TRUE(std::regex_search(base_summary_, m, std::regex("\"time\": *\"([^\"]+)\"")));
    const auto captured = scrapers::kubelet::parseRfc3339Ms(m[1].str());
    ASSERT_TRUE(captured.has_value());
    shift_base_ = unixNow() - *captured / 1000;
    advanceKubelet();
    feeder_ = std::thread([this] {
      while (!stop_) {
        std::this_thread::sleep_for(250ms);
        advanceKubelet();
      }
    });

    imds_ = std::make_unique<scrapers::ec2::testing::FakeImds>();
    imds_->setSpotAction(R"({"action": "terminate", "time": ")" +
                         scrapers::kubelet::testing::formatRfc3339(unixNow() + 600) + "\"}");
  }

  void TearDown() override {
    stop_ = true;
    if (feeder_.joinable()) feeder_.join();
  }

  void advanceKubelet() {
    kubelet_->setBody(scrapers::kubelet::testing::shiftTimes(
        base_summary_,
        shift_base_ +
            std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count()));
  }

  TempDir dir_;
  std::unique_ptr<scrapers::kubelet::testing::FakeKubelet> kubelet_;
  std::unique_ptr<scrapers::ec2::testing::FakeImds> imds_;
  std::string base_summary_;
  std::int64_t shift_base_ = 0;
  Clock::time_point started_ = Clock::now();
  std::atomic<bool> stop_{false};
  std::thread feeder_;
};

TEST_F(DashboardsE2eTest, EveryPanelQueryReturnsData) {
  // The dashboards first: a broken file fails fast, before any process.
  std::vector<Dashboard> dashboards;
  for (const auto& entry : std::filesystem::directory_iterator(kDashboardsDir)) {
    if (entry.path().extension() == ".json") dashboards.push_back(loadDashboard(entry.path()));
  }
  std::sort(dashboards.begin(), dashboards.end(),
            [](const Dashboard& a, const Dashboard& b) { return a.file < b.file; });
  ASSERT_GE(dashboards.size(), 4u)
      << "cluster, node, pod and agent dashboards expected in " << kDashboardsDir;
  std::size_t total_queries = 0;
  for (const Dashboard& d : dashboards) {
    for (const std::string& p : d.problems) ADD_FAILURE() << d.file << ": " << p;
    EXPECT_FALSE(d.queries.empty()) << d.file;
    total_queries += d.queries.size();
  }
  ASSERT_FALSE(HasFailure());

  // ctest sets AWS_EC2_METADATA_DISABLED=true for every test; this one runs
  // the EC2 source against the loopback fake, named explicitly below.
  ::unsetenv("AWS_EC2_METADATA_DISABLED");
  ::unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");

  const TlsCerts& certs = TlsCerts::shared();
  const std::string token = dir_.write("token", "dash-token\n");
  const int prometheus_port = freeLoopbackPort();
  const std::string config = dir_.write("agent.yaml", R"(cluster: e2e-dash
node: e2e-node
sources:
  host:
    enabled: true
    interval: 1s
  kubelet:
    enabled: true
    url: )" + kubelet_->url() + R"(
    interval: 1s
    timeout: 800ms
    bearer_token_file: )" + token + R"(
    ca_file: )" + certs.ca_cert + R"(
  ec2:
    enabled: true
    endpoint: )" + imds_->endpoint() + R"(
    spot_interval: 1s
    metadata_interval: 2s
    timeout: 500ms
exporters:
  prometheus:
    enabled: true
  remote_write:
    enabled: true
    url: http://127.0.0.1:)" + std::to_string(prometheus_port) +
                                                          R"(/api/v1/write
    timeout: 5s
    batch:
      max_wait: 1s
    retry:
      initial_backoff: 200ms
      max_backoff: 1s
  spool:
    enabled: true
    dir: )" + dir_.path() + R"(/spool
)");
  auto agent = AgentProcess::start({"--config", config});
  ASSERT_GT(agent.port, 0) << agent.process->output();

  // The cluster agent, as manifests/overlays/sharded's config runs it (one
  // shard): kube-state-metrics and its aggregates, the usage aggregates,
  // nothing node-local.
  std::ifstream ksm_in(std::string(KM_FIXTURES_DIR) + "/" + kKsmFixture);
  std::stringstream ksm_text;
  ksm_text << ksm_in.rdbuf();
  ASSERT_FALSE(ksm_text.str().empty()) << kKsmFixture;
  FakeKsm ksm(ksm_text.str());
  // metrics-server's view of the capture's busiest namespaces, behind the
  // API server (manifests/overlays/sharded enables the usage aggregates).
  FakeKubeApi kube_api;
  kube_api.setPodMetrics({
      podMetricsJson("scraper", "scraper-0", {{"scraper", "180m", "96Mi"}}),
      podMetricsJson("kube-system", "coredns-0", {{"coredns", "1532417n", "24180Ki"}}),
  });
  const std::string kube_token = dir_.write("kube-token", "fake-token\n");
  const std::string cluster_config = dir_.write("cluster-agent.yaml", R"(cluster: e2e-dash
role: cluster
node: e2e-cluster-replica
kubernetes:
  api_server: )" + kube_api.url() + R"(
  bearer_token_file: )" + kube_token + R"(
  ca_file: )" + kube_api.caFile() + R"(
sources:
  host:
    enabled: false
  ec2:
    enabled: false
  kube_state_metrics:
    enabled: true
    url: )" + ksm.url() + R"(
    interval: 1s
    timeout: 800ms
  kubernetes_resource_metrics:
    enabled: true
    interval: 1s
    timeout: 800ms
exporters:
  prometheus:
    enabled: true
  spool:
    enabled: false
)");
  auto cluster_agent = AgentProcess::start({"--config", cluster_config});
  ASSERT_GT(cluster_agent.port, 0) << cluster_agent.process->output();

  // As the scrape job of manifests/prometheus/alerts.yaml: honor_labels, and
  // the pod's node as a target label for the agent's own metrics.
  const std::string prom_config = dir_.write("prometheus.yml", R"(global:
  scrape_interval: 2s
  scrape_timeout: 2s
scrape_configs:
  - job_name: kubemetrics-agent
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:)" + std::to_string(agent.port) + R"("]
        labels:
          node: e2e-node
          pod: kubemetrics-agent-e2e
  - job_name: kubemetrics-cluster-agent
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:)" + std::to_string(cluster_agent.port) +
                                                                   R"("]
        labels:
          node: e2e-cluster-replica
          pod: kubemetrics-cluster-agent-e2e
)");
  Process prometheus({"prometheus", "--config.file=" + prom_config,
                      "--storage.tsdb.path=" + dir_.path() + "/prometheus",
                      "--web.enable-remote-write-receiver",
                      "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)});
  ASSERT_TRUE(prometheus.started());
  ASSERT_TRUE(prometheus.waitForOutput("Server is ready to receive web requests", 60s))
      << prometheus.output();
  PrometheusApi api(prometheus_port);

  // Data in: kubelet rates (two scrapes with advancing times), host counter
  // rates (two Prometheus scrapes), EC2 identity, and remote write delivered.
  const std::vector<std::string> ready = {
      "kubernetes_pod_container_cpu_usage_rate",
      "rate(node_cpu_seconds_total[1m])",
      "ec2_instance_info{instance_id!=\"\"}",
      "ec2_spot_interruption_seconds_left",
      "kubemetrics_exporter_push_sent_samples_total{exporter=\"remote_write\"} > 0",
      "kubernetes_node_memory_working_set{job=\"\"}",              // remote-written (no job label)
      "kubernetes_ns_cpu_request{namespace_name=\"scraper\"}",     // the cluster agent
      "kubernetes_ns_cpu_usage_rate{namespace_name=\"scraper\"}",  // resource metrics API
  };
  const auto data_deadline = Clock::now() + 45s;
  for (const std::string& q : ready) {
    ApiAnswer a;
    while (Clock::now() < data_deadline) {
      a = api.query(q);
      if (a.ok && a.results > 0) break;
      std::this_thread::sleep_for(300ms);
    }
    ASSERT_TRUE(a.ok && a.results > 0)
        << "no data for " << q << " within 45 s: " << a.error << a.body << "\nagent:\n"
        << agent.process->output() << "\ncluster agent:\n"
        << cluster_agent.process->output();
  }
  // A few more scrapes so every rate window holds several points.
  std::this_thread::sleep_for(5s);

  // Every variable lists values; every panel query returns data (each one
  // retried while it returns nothing, below).
  std::size_t passed = 0;
  Clock::duration retry_budget = 120s;
  for (const Dashboard& d : dashboards) {
    std::map<std::string, std::string> values;
    for (const Variable& v : d.variables) {
      if (v.type != "query") continue;
      static const std::regex kLabelValues(
          R"(^\s*label_values\(\s*(?:(.*\S)\s*,\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$)");
      std::smatch m;
      if (!std::regex_match(v.query, m, kLabelValues)) {
        ADD_FAILURE() << d.file << ": variable $" << v.name
                      << ": only label_values(...) queries are checked, got " << v.query;
        continue;
      }
      const std::string selector = substitute(m[1].str(), values);
      const std::vector<std::string> found = api.labelValues(m[2].str(), selector);
      EXPECT_FALSE(found.empty()) << d.file << " (" << d.title << "): variable $" << v.name
                                  << " lists no values: " << v.query << " -> " << selector;
      if (v.include_all && !v.all_value.empty()) {
        values[v.name] = v.all_value;  // the default: All
      } else if (!found.empty()) {
        values[v.name] = found.front();
      }
    }
    for (const PanelQuery& q : d.queries) {
      const std::string promql = substitute(q.expr, values);
      // A panel shows a real metric: no constant stand-in that returns data
      // whatever the agent emits, and every metric it names exists.
      if (q.expr.find("vector(") != std::string::npos) {
        ADD_FAILURE() << "dashboard " << d.file << ", panel \"" << q.panel << "\": vector() in "
                      << q.expr;
      }
      static const std::regex kMetric(R"(([A-Za-z_:][A-Za-z0-9_:]*)\{)");
      for (auto it = std::sregex_iterator(q.expr.begin(), q.expr.end(), kMetric);
           it != std::sregex_iterator(); ++it) {
        const std::string metric = (*it)[1].str();
        // Over the last minute, not the instant: one scrape of the agent
        // that timed out (a sanitizer build on a loaded machine) marks every
        // series stale until the next, which says nothing of the dashboard.
        const ApiAnswer exists =
            api.query("count(last_over_time({__name__=\"" + metric + "\"}[1m]))");
        EXPECT_TRUE(exists.ok && exists.results > 0)
            << "dashboard " << d.file << ", panel \"" << q.panel << "\": metric " << metric
            << " is not in Prometheus";
      }
      // Retried while it returns nothing (an invalid query does not heal):
      // past a rate window just started, or past scrapes of an agent that
      // failed, each of which leaves all of that agent's series stale until
      // the next good scrape (a sanitizer build on a loaded machine can miss
      // several 2 s scrapes in a row). Bounded per query and in all, so a
      // broken dashboard still fails in bounded time.
      const auto retry_started = Clock::now();
      const auto give_up = retry_started + std::min<Clock::duration>(30s, retry_budget);
      ApiAnswer a = api.query(promql);
      while (a.ok && a.results == 0 && Clock::now() < give_up) {
        std::this_thread::sleep_for(500ms);
        a = api.query(promql);
      }
      retry_budget -= std::min<Clock::duration>(retry_budget, Clock::now() - retry_started);
      if (a.ok && a.results > 0) {
        ++passed;
      } else {
        ADD_FAILURE() << "dashboard " << d.file << " (" << d.title << "), panel \"" << q.panel
                      << "\" " << q.ref_id << ": "
                      << (a.ok ? "no data" : "query failed: " + a.error) << "\n  expr:   " << q.expr
                      << "\n  ran as: " << promql
                      << "\n  up of the scrape jobs: " << api.query("up").body;
      }
    }
  }
  EXPECT_EQ(passed, total_queries);
  std::cout << "[ dashboards ] " << passed << "/" << total_queries << " panel queries of "
            << dashboards.size() << " dashboards returned data\n";
}

}  // namespace
}  // namespace kubemetrics::testing
