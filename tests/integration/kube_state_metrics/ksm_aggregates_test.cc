// The namespace and cluster aggregates through the kube-state-metrics
// source, against a fake kube-state-metrics on loopback serving real
// captures (../shared/fixtures/ksm/): first the source as its factory builds
// it (one scrape at a time: values, tags, staleness), then the whole agent
// in-process with role: cluster, read back from its Prometheus /metrics page
// as a Prometheus server would see them and from the lines its Wavefront
// exporter sends to a fake proxy port, as the collector's dashboards query
// them.
//
// Expected values are the hand-checked totals of
// tests/unit/scrapers/kube_state_metrics/aggregates_test.cc (v2.19.0: 18
// Running pods, 1355m CPU requested; v1.9.8: 15 pods, 950m), derived there
// from the capture text by a separate script.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "agent/agent.h"
#include "common/config/config_document.h"
#include "scrapers/kube_state_metrics/ksm_source.h"
#include "support/component_context.h"
#include "support/exposition.h"
#include "support/http_get.h"
#include "support/line_sink.h"

namespace kubemetrics {
namespace {

using std::chrono::milliseconds;
using testing::metricsPage;

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(KM_FIXTURES_DIR) + "/ksm/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The capture without the lines of one namespace: that namespace's pods
/// are gone.
std::string withoutNamespace(const std::string& text, const std::string& ns) {
  std::istringstream in(text);
  std::string out, line;
  while (std::getline(in, line)) {
    if (line.find("namespace=\"" + ns + "\"") == std::string::npos) out += line + "\n";
  }
  return out;
}

/// A kube-state-metrics stand-in: serves `body` on /metrics, or `status`
/// when it is not 200.
class FakeKsm {
 public:
  FakeKsm() {
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      res.status = status_;
      res.set_content(body_, "text/plain; version=0.0.4");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeKsm() {
    server_.stop();
    thread_.join();
  }
  void serve(std::string body, int status = 200) {
    std::lock_guard<std::mutex> lock(mu_);
    body_ = std::move(body);
    status_ = status;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/metrics"; }

 private:
  std::mutex mu_;
  std::string body_;
  int status_ = 200;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

// ------------------------------------------------------------ the source

class KsmSourceAggregatesTest : public ::testing::Test {
 protected:
  /// Builds the source through its factory from `extra` config keys.
  SourcePtr build(const std::string& extra = "") {
    ctx_.agent.role = "cluster";
    ctx_.agent.cluster = "itest";
    ctx_.runtime_tags.set({{"cluster", "itest"}});
    doc_ = ConfigDocument::parse(
        "sources:\n  kube_state_metrics:\n    enabled: true\n    url: " + ksm_.url() + "\n" + extra,
        "test.yaml");
    ConfigNode node = doc_->root().child("sources").child("kube_state_metrics");
    auto sources = scrapers::kube_state_metrics::buildSources(node, &ctx_.context);
    EXPECT_TRUE(doc_->errors().empty()) << doc_->errors().front().toString();
    if (!sources || sources->size() != 1) return nullptr;
    return std::move(sources->front());
  }

  /// kubernetes.* samples of the batch by "name{namespace_name}" (the
  /// cluster group's key has no namespace), with their labels checked.
  static std::map<std::string, double> aggregates(const SampleBatch& batch,
                                                  std::size_t* markers = nullptr) {
    std::map<std::string, double> out;
    for (const Sample& s : batch.samples) {
      const std::string_view name = s.name.view();
      if (!name.starts_with("kubernetes.")) continue;
      if (isStaleMarker(s.value)) {
        if (markers != nullptr) ++*markers;
        continue;
      }
      EXPECT_EQ(s.labels.get("cluster"), "itest") << name;
      EXPECT_FALSE(s.labels.contains("job")) << name;  // the collector's series have no job
      const bool ns = name.starts_with("kubernetes.ns.");
      EXPECT_EQ(s.labels.get("type"), ns ? "ns" : "cluster") << name;
      EXPECT_EQ(s.labels.contains("namespace_name"), ns) << name;
      out[std::string(name) + "{" + std::string(s.labels.get("namespace_name")) + "}"] = s.value;
    }
    return out;
  }

  FakeKsm ksm_;
  testing::TestComponentContext ctx_;
  std::shared_ptr<ConfigDocument> doc_;
};

TEST_F(KsmSourceAggregatesTest, AppendsTheAggregatesOfEachScrape) {
  ksm_.serve(fixture("ksm-v2.19.0_k8s-1.35_nri.prom"));
  SourcePtr source = build();
  ASSERT_NE(source, nullptr);
  SampleBatch batch;
  auto stats = source->scrape(batch, deadlineIn(std::chrono::seconds(10)));
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->samples, batch.samples.size());
  std::map<std::string, double> got = aggregates(batch);
  EXPECT_EQ(got.size(), 3u * 6u);  // kube-system, scraper, the cluster
  EXPECT_EQ(got["kubernetes.cluster.pod.count{}"], 18);
  EXPECT_EQ(got["kubernetes.cluster.pod_container.count{}"], 17);
  EXPECT_DOUBLE_EQ(got["kubernetes.cluster.cpu.request{}"], 1355);
  EXPECT_DOUBLE_EQ(got["kubernetes.cluster.cpu.limit{}"], 1005);
  EXPECT_DOUBLE_EQ(got["kubernetes.cluster.memory.request{}"], 524045120);
  EXPECT_DOUBLE_EQ(got["kubernetes.cluster.memory.limit{}"], 392973120);
  EXPECT_EQ(got["kubernetes.ns.pod.count{kube-system}"], 9);
  EXPECT_EQ(got["kubernetes.ns.pod.count{scraper}"], 9);
  // The scraped series are all still there.
  bool pod_info = false;
  for (const Sample& s : batch.samples) pod_info = pod_info || s.name.view() == "kube_pod_info";
  EXPECT_TRUE(pod_info);

  // Next scrape: KSM v1.9.8 (v1 and v2 names side by side), counted once.
  ksm_.serve(fixture("ksm-v1.9.8_k8s-1.18_nri.prom"));
  SampleBatch second;
  ASSERT_TRUE(source->scrape(second, deadlineIn(std::chrono::seconds(10))));
  got = aggregates(second);
  EXPECT_EQ(got["kubernetes.cluster.pod.count{}"], 15);
  EXPECT_DOUBLE_EQ(got["kubernetes.cluster.cpu.request{}"], 950);
  EXPECT_DOUBLE_EQ(got["kubernetes.ns.cpu.request{scraper}"], 200);
  EXPECT_DOUBLE_EQ(got["kubernetes.ns.cpu.request{kube-system}"], 750);
}

TEST_F(KsmSourceAggregatesTest, ANamespaceThatGoesAwayIsMarkedStale) {
  const std::string full = fixture("ksm-v2.19.0_k8s-1.35_nri.prom");
  ksm_.serve(full);
  SourcePtr source = build();
  ASSERT_NE(source, nullptr);
  SampleBatch first;
  ASSERT_TRUE(source->scrape(first, deadlineIn(std::chrono::seconds(10))));

  ksm_.serve(withoutNamespace(full, "scraper"));
  SampleBatch second;
  ASSERT_TRUE(source->scrape(second, deadlineIn(std::chrono::seconds(10))));
  std::size_t markers = 0;
  const auto got = aggregates(second, &markers);
  EXPECT_EQ(markers, 6u);  // the six kubernetes.ns.* series of "scraper"
  for (const Sample& s : second.samples) {
    if (s.name.view().starts_with("kubernetes.") && isStaleMarker(s.value)) {
      EXPECT_EQ(s.labels.get("namespace_name"), "scraper");
    }
  }
  EXPECT_EQ(got.count("kubernetes.ns.pod.count{scraper}"), 0u);
  EXPECT_EQ(got.at("kubernetes.cluster.pod.count{}"), 9);  // kube-system's only
  EXPECT_DOUBLE_EQ(got.at("kubernetes.cluster.cpu.request{}"),
                   got.at("kubernetes.ns.cpu.request{kube-system}"));
}

TEST_F(KsmSourceAggregatesTest, AFailedScrapeMarksEveryAggregateStale) {
  ksm_.serve(fixture("ksm-v2.19.0_k8s-1.35_nri.prom"));
  SourcePtr source = build();
  ASSERT_NE(source, nullptr);
  SampleBatch first;
  ASSERT_TRUE(source->scrape(first, deadlineIn(std::chrono::seconds(10))));

  ksm_.serve("oops", 500);
  SampleBatch failed;
  EXPECT_FALSE(source->scrape(failed, deadlineIn(std::chrono::seconds(10))));
  std::size_t markers = 0;
  EXPECT_TRUE(aggregates(failed, &markers).empty());
  EXPECT_EQ(markers, 18u);
  bool up_zero = false;
  for (const Sample& s : failed.samples)
    up_zero = up_zero || (s.name.view() == "up" && s.value == 0);
  EXPECT_TRUE(up_zero);

  // Back: every aggregate again, nothing left to mark.
  ksm_.serve(fixture("ksm-v2.19.0_k8s-1.35_nri.prom"));
  SampleBatch back;
  ASSERT_TRUE(source->scrape(back, deadlineIn(std::chrono::seconds(10))));
  markers = 0;
  EXPECT_EQ(aggregates(back, &markers).size(), 18u);
  EXPECT_EQ(markers, 0u);
}

TEST_F(KsmSourceAggregatesTest, SwitchedOffByConfig) {
  ksm_.serve(fixture("ksm-v2.19.0_k8s-1.35_nri.prom"));
  SourcePtr source = build("    aggregates: false\n");
  ASSERT_NE(source, nullptr);
  SampleBatch batch;
  ASSERT_TRUE(source->scrape(batch, deadlineIn(std::chrono::seconds(10))));
  EXPECT_GT(batch.samples.size(), 1000u);
  EXPECT_TRUE(aggregates(batch).empty());
}

TEST(KsmAggregatesConfigTest, RejectsANonBoolean) {
  auto doc = ConfigDocument::parse("sources:\n  kube_state_metrics:\n    aggregates: sometimes\n",
                                   "test.yaml");
  ConfigNode node = doc->root().child("sources").child("kube_state_metrics");
  ASSERT_TRUE(scrapers::kube_state_metrics::buildSources(node, nullptr));
  ASSERT_EQ(doc->errors().size(), 1u);
  EXPECT_NE(doc->errors().front().toString().find("sources.kube_state_metrics.aggregates"),
            std::string::npos)
      << doc->errors().front().toString();
}

// ------------------------------------------------------------ the agent

/// The value of the series `name` whose labels include `labels` on the
/// page, if any.
std::optional<double> seriesValue(const std::string& page, const std::string& name,
                                  const std::map<std::string, std::string>& labels) {
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line)) {
    auto series = testing::parseExpositionLine(line);
    if (!series || series->name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = series->labels.find(k);
      match = match && it != series->labels.end() && it->second == v;
    }
    if (match) return std::stod(series->value);
  }
  return std::nullopt;
}

TEST(KsmAgentAggregatesTest, ThePrometheusPageAndWavefrontGetThemWithTheAgentTags) {
  FakeKsm ksm;
  testing::LineSink proxy;
  ksm.serve(fixture("ksm-v2.19.0_k8s-1.35_nri.prom"));
  const std::string yaml =
      "cluster: itest-agent\nrole: cluster\nnode: cluster-replica\n"
      "server: {listen: \"127.0.0.1:0\"}\n"
      "pipeline: {tags: {team: infra}}\n"
      "sources:\n"
      "  host: {enabled: false}\n"
      "  ec2: {enabled: false}\n"
      "  kube_state_metrics:\n"
      "    enabled: true\n"
      "    url: " +
      ksm.url() +
      "\n"
      "    interval: 1s\n"
      "    timeout: 1s\n"
      "exporters:\n"
      "  prometheus: {enabled: true}\n"
      "  wavefront:\n"
      "    enabled: true\n"
      "    url: \"tcp://127.0.0.1:" +
      std::to_string(proxy.port()) +
      "\"\n"
      "    batch: {max_wait: 100ms}\n"
      "  spool: {enabled: false}\n";
  auto agent = Agent::create(yaml, "test");
  ASSERT_TRUE(agent) << agent.error().message();
  ASSERT_TRUE((*agent)->start());
  const int port = (*agent)->port();
  std::string page;
  std::optional<double> cpu;
  for (int i = 0; i < 100 && !cpu; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    page = metricsPage(port);
    cpu = seriesValue(page, "kubernetes_cluster_cpu_request", {{"type", "cluster"}});
  }
  ASSERT_TRUE(cpu) << page.substr(0, 2000);
  EXPECT_DOUBLE_EQ(*cpu, 1355);
  const std::map<std::string, std::string> tags = {
      {"cluster", "itest-agent"}, {"node", "cluster-replica"}, {"team", "infra"}};
  auto with = [&](std::map<std::string, std::string> extra) {
    extra.insert(tags.begin(), tags.end());
    return extra;
  };
  EXPECT_EQ(seriesValue(page, "kubernetes_cluster_cpu_request", with({{"type", "cluster"}})), 1355);
  EXPECT_EQ(seriesValue(page, "kubernetes_cluster_pod_count", with({{"type", "cluster"}})), 18);
  EXPECT_EQ(seriesValue(page, "kubernetes_ns_pod_count",
                        with({{"type", "ns"}, {"namespace_name", "scraper"}})),
            9);
  EXPECT_EQ(seriesValue(page, "kubernetes_ns_memory_request",
                        with({{"type", "ns"}, {"namespace_name", "kube-system"}})),
            440401920);
  // The scraped series go through too, tagged the same way.
  EXPECT_TRUE(seriesValue(page, "kube_pod_info", with({{"job", "kube-state-metrics"}})));

  // Wavefront: the collector's names (dots), the cluster replica's node as
  // the source, the tags as point tags. The lines of each scrape pile up:
  // each is looked at once.
  std::string ns_line, cluster_line;
  std::size_t seen = 0;
  for (int i = 0; i < 100 && (ns_line.empty() || cluster_line.empty()); ++i) {
    const std::vector<std::string> lines = proxy.lines();
    for (; seen < lines.size(); ++seen) {
      const std::string& line = lines[seen];
      if (line.starts_with("kubernetes.ns.cpu.request ") &&
          line.find("namespace_name=\"scraper\"") != std::string::npos) {
        ns_line = line;
      }
      if (line.starts_with("kubernetes.cluster.pod.count ")) cluster_line = line;
    }
    if (ns_line.empty() || cluster_line.empty()) std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_FALSE(ns_line.empty()) << seen << " lines";
  ASSERT_FALSE(cluster_line.empty()) << seen << " lines";
  const auto value = [](const std::string& line) {
    return std::stod(line.substr(line.find(' ') + 1));
  };
  EXPECT_EQ(value(ns_line), 405) << ns_line;  // v2.19.0 "scraper": 405m requested
  EXPECT_EQ(value(cluster_line), 18) << cluster_line;
  EXPECT_NE(ns_line.find(" source=cluster-replica "), std::string::npos) << ns_line;
  EXPECT_NE(cluster_line.find(" source=cluster-replica "), std::string::npos) << cluster_line;
  for (const char* tag : {"cluster=\"itest-agent\"", "team=\"infra\"", "type=\"ns\""}) {
    EXPECT_NE(ns_line.find(tag), std::string::npos) << ns_line;
  }
  EXPECT_NE(cluster_line.find("type=\"cluster\""), std::string::npos) << cluster_line;
  EXPECT_EQ(cluster_line.find("namespace_name"), std::string::npos) << cluster_line;
  (*agent)->stop();
}

}  // namespace
}  // namespace kubemetrics
