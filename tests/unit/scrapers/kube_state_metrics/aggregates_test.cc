// The namespace and cluster aggregates computed from kube-state-metrics
// (scrapers/kube_state_metrics/aggregates.h): small hand-made cases for each
// rule, then real captures of KSM v1.x and v2.x (../shared/fixtures/ksm/),
// each against totals this test computes with its own line reader over the
// capture's text and against constants checked by hand.
//
// Names and tags: the Wavefront collector's, as documented in
// wavefrontHQ/observability-for-kubernetes docs/collector/metrics.md
// ("Kubernetes Source": Cluster and Namespace rows "CPU, Memory, Pod/Container
// counts"; `cpu.request`, `cpu.limit` in millicores, `memory.request`,
// `memory.limit` in bytes, `<cluster, ns, node>.pod.count` and
// `.pod_container.count`), with the prefix `kubernetes.<type>.` and the
// tags `type` ("ns", "cluster") and `namespace_name` that its summary
// wavefront_converter.go and namespace_aggregator.go /
// cluster_aggregator.go give the namespace and cluster metric sets.
#include "scrapers/kube_state_metrics/aggregates.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "common/scrape/target_parser.h"
#include "scrapers/kube_state_metrics/pod_inventory.h"

namespace kubemetrics::scrapers::kube_state_metrics {
namespace {

Labels labels(std::initializer_list<std::pair<std::string_view, std::string_view>> items) {
  LabelsBuilder b;
  for (const auto& [k, v] : items) b.set(k, v);
  return b.build();
}

Sample sample(std::string_view name,
              std::initializer_list<std::pair<std::string_view, std::string_view>> items,
              double value) {
  return Sample{Symbol::intern(name), labels(items), value, 1000};
}

void addPhase(PodInventory& inv, std::string_view ns, std::string_view pod,
              std::string_view phase) {
  for (std::string_view p : {"Pending", "Running", "Succeeded", "Failed", "Unknown"}) {
    inv.add(sample("kube_pod_status_phase", {{"namespace", ns}, {"pod", pod}, {"phase", p}},
                   p == phase ? 1 : 0));
  }
}

void addContainer(PodInventory& inv, std::string_view ns, std::string_view pod,
                  std::string_view container, bool terminated = false) {
  inv.add(sample("kube_pod_container_info",
                 {{"namespace", ns}, {"pod", pod}, {"container", container}, {"image", "x"}}, 1));
  inv.add(sample("kube_pod_container_status_terminated",
                 {{"namespace", ns}, {"pod", pod}, {"container", container}}, terminated ? 1 : 0));
}

void addV2(PodInventory& inv, std::string_view family, std::string_view ns, std::string_view pod,
           std::string_view container, std::string_view resource, std::string_view unit,
           double value) {
  inv.add(sample(family,
                 {{"namespace", ns},
                  {"pod", pod},
                  {"container", container},
                  {"resource", resource},
                  {"unit", unit}},
                 value));
}

TEST(KsmAggregatesTest, SumsRunningPodsPerNamespaceAndCluster) {
  PodInventory inv;
  addPhase(inv, "a", "p1", "Running");
  addContainer(inv, "a", "p1", "c1");
  addContainer(inv, "a", "p1", "c2");
  addV2(inv, "kube_pod_container_resource_requests", "a", "p1", "c1", "cpu", "core", 0.25);
  addV2(inv, "kube_pod_container_resource_requests", "a", "p1", "c2", "cpu", "core", 0.1);
  addV2(inv, "kube_pod_container_resource_limits", "a", "p1", "c1", "memory", "byte", 1e9);
  addPhase(inv, "b", "p2", "Running");
  addContainer(inv, "b", "p2", "c");
  addV2(inv, "kube_pod_container_resource_requests", "b", "p2", "c", "memory", "byte", 5e6);
  const Aggregates agg = computeAggregates(inv);
  ASSERT_EQ(agg.namespaces.size(), 2u);
  const GroupTotals& a = agg.namespaces.at("a");
  EXPECT_EQ(a.pod_count, 1);
  EXPECT_EQ(a.container_count, 2);
  EXPECT_DOUBLE_EQ(a.resources[kCpuRequest], 350);  // millicores
  EXPECT_DOUBLE_EQ(a.resources[kCpuLimit], 0);      // unset counts 0
  EXPECT_DOUBLE_EQ(a.resources[kMemoryLimit], 1e9);
  EXPECT_DOUBLE_EQ(agg.namespaces.at("b").resources[kMemoryRequest], 5e6);
  EXPECT_EQ(agg.cluster.pod_count, 2);
  EXPECT_EQ(agg.cluster.container_count, 3);
  EXPECT_DOUBLE_EQ(agg.cluster.resources[kCpuRequest], 350);
  EXPECT_DOUBLE_EQ(agg.cluster.resources[kMemoryRequest], 5e6);
}

TEST(KsmAggregatesTest, OnlyRunningPodsCountAndTerminatedContainersDoNot) {
  PodInventory inv;
  addPhase(inv, "a", "pending", "Pending");
  addContainer(inv, "a", "pending", "c");
  addV2(inv, "kube_pod_container_resource_requests", "a", "pending", "c", "cpu", "core", 1);
  addPhase(inv, "a", "done", "Succeeded");
  addContainer(inv, "a", "done", "c", /*terminated=*/true);
  addPhase(inv, "a", "run", "Running");
  addContainer(inv, "a", "run", "main");
  addContainer(inv, "a", "run", "sidecar", /*terminated=*/true);
  addV2(inv, "kube_pod_container_resource_requests", "a", "run", "sidecar", "cpu", "core", 0.5);
  const Aggregates agg = computeAggregates(inv);
  const GroupTotals& a = agg.namespaces.at("a");
  EXPECT_EQ(a.pod_count, 1);
  EXPECT_EQ(a.container_count, 1);
  // The collector sums a Running pod's spec requests, terminated or not.
  EXPECT_DOUBLE_EQ(a.resources[kCpuRequest], 500);
}

TEST(KsmAggregatesTest, NamespaceWithoutRunningPodsIsAbsent) {
  PodInventory inv;
  addPhase(inv, "idle", "p", "Pending");
  addContainer(inv, "idle", "p", "c");
  const Aggregates agg = computeAggregates(inv);
  EXPECT_TRUE(agg.namespaces.empty());
  EXPECT_EQ(agg.cluster.pod_count, 0);
}

TEST(KsmAggregatesTest, V1AndV2SeriesOfOneContainerCountOnce) {
  // KSM v1.5-v1.9 write both forms for every container.
  PodInventory inv;
  addPhase(inv, "a", "p", "Running");
  addContainer(inv, "a", "p", "c");
  inv.add(sample("kube_pod_container_resource_requests_cpu_cores",
                 {{"namespace", "a"}, {"pod", "p"}, {"container", "c"}}, 0.2));
  addV2(inv, "kube_pod_container_resource_requests", "a", "p", "c", "cpu", "core", 0.2);
  inv.add(sample("kube_pod_container_resource_limits_memory_bytes",
                 {{"namespace", "a"}, {"pod", "p"}, {"container", "c"}}, 64));
  addV2(inv, "kube_pod_container_resource_limits", "a", "p", "c", "memory", "byte", 64);
  // A copy: the result of computeAggregates is a temporary.
  const GroupTotals a = computeAggregates(inv).namespaces.at("a");
  EXPECT_DOUBLE_EQ(a.resources[kCpuRequest], 200);
  EXPECT_DOUBLE_EQ(a.resources[kMemoryLimit], 64);
  EXPECT_EQ(a.container_count, 1);
}

TEST(KsmAggregatesTest, V1OnlySeriesAreRead) {
  PodInventory inv;
  addPhase(inv, "a", "p", "Running");
  for (auto [family, value] : {std::pair{"kube_pod_container_resource_requests_cpu_cores", 0.1},
                               std::pair{"kube_pod_container_resource_limits_cpu_cores", 0.3},
                               std::pair{"kube_pod_container_resource_requests_memory_bytes", 7.},
                               std::pair{"kube_pod_container_resource_limits_memory_bytes", 9.}}) {
    inv.add(sample(family, {{"namespace", "a"}, {"pod", "p"}, {"container", "c"}}, value));
  }
  // A copy: the result of computeAggregates is a temporary.
  const GroupTotals a = computeAggregates(inv).namespaces.at("a");
  EXPECT_DOUBLE_EQ(a.resources[kCpuRequest], 100);
  EXPECT_DOUBLE_EQ(a.resources[kCpuLimit], 300);
  EXPECT_DOUBLE_EQ(a.resources[kMemoryRequest], 7);
  EXPECT_DOUBLE_EQ(a.resources[kMemoryLimit], 9);
}

TEST(KsmAggregatesTest, IgnoresOtherResourcesInitContainersNaNAndStaleMarkers) {
  PodInventory inv;
  addPhase(inv, "a", "p", "Running");
  addContainer(inv, "a", "p", "c");
  addV2(inv, "kube_pod_container_resource_requests", "a", "p", "c", "ephemeral_storage", "byte",
        1e9);
  addV2(inv, "kube_pod_container_resource_requests", "a", "p", "c", "nvidia_com_gpu", "integer", 1);
  addV2(inv, "kube_pod_init_container_resource_requests", "a", "p", "init", "cpu", "core", 4);
  EXPECT_FALSE(inv.add(sample("kube_pod_init_container_info",
                              {{"namespace", "a"}, {"pod", "p"}, {"container", "init"}}, 1)));
  addV2(inv, "kube_pod_container_resource_limits", "a", "p", "c", "cpu", "core", std::nan(""));
  addV2(inv, "kube_pod_container_resource_requests", "a", "p", "c", "memory", "byte", kStaleNaN);
  // A marker for a vanished pod's phase does not make it a pod.
  inv.add(sample("kube_pod_status_phase",
                 {{"namespace", "a"}, {"pod", "gone"}, {"phase", "Running"}}, kStaleNaN));
  // A copy: the result of computeAggregates is a temporary.
  const GroupTotals a = computeAggregates(inv).namespaces.at("a");
  EXPECT_EQ(a.pod_count, 1);
  EXPECT_EQ(a.container_count, 1);
  for (std::size_t r = 0; r < kResources; ++r) EXPECT_DOUBLE_EQ(a.resources[r], 0) << r;
}

// ------------------------------------------------------------ the emitter

std::map<std::string, double> byNameAndLabels(const SampleBatch& batch) {
  std::map<std::string, double> out;
  for (const Sample& s : batch.samples) {
    std::string key(s.name.view());
    for (const Label& l : s.labels) key += "," + l.name.str() + "=" + l.value.str();
    out[key] = s.value;
  }
  return out;
}

TEST(KsmAggregateEmitterTest, NamesTagsAndUnitsAreTheCollectors) {
  Aggregates agg;
  GroupTotals& ns = agg.namespaces["kube-system"];
  ns.pod_count = 3;
  ns.container_count = 4;
  ns.resources = {250, 500, 1024, 2048};
  agg.cluster = ns;
  AggregateEmitter emitter(nullptr);
  SampleBatch batch;
  EXPECT_EQ(emitter.emit(agg, 42, batch), 12u);
  const auto got = byNameAndLabels(batch);
  const std::map<std::string, double> want = {
      {"kubernetes.ns.pod.count,namespace_name=kube-system,type=ns", 3},
      {"kubernetes.ns.pod_container.count,namespace_name=kube-system,type=ns", 4},
      {"kubernetes.ns.cpu.request,namespace_name=kube-system,type=ns", 250},
      {"kubernetes.ns.cpu.limit,namespace_name=kube-system,type=ns", 500},
      {"kubernetes.ns.memory.request,namespace_name=kube-system,type=ns", 1024},
      {"kubernetes.ns.memory.limit,namespace_name=kube-system,type=ns", 2048},
      {"kubernetes.cluster.pod.count,type=cluster", 3},
      {"kubernetes.cluster.pod_container.count,type=cluster", 4},
      {"kubernetes.cluster.cpu.request,type=cluster", 250},
      {"kubernetes.cluster.cpu.limit,type=cluster", 500},
      {"kubernetes.cluster.memory.request,type=cluster", 1024},
      {"kubernetes.cluster.memory.limit,type=cluster", 2048},
  };
  EXPECT_EQ(got, want);
  for (const Sample& s : batch.samples) EXPECT_EQ(s.timestamp_ms, 42);
  ASSERT_EQ(batch.metadata.size(), 12u);
  for (const MetricMetadata& m : batch.metadata) EXPECT_EQ(m.type, MetricType::kGauge);
}

TEST(KsmAggregateEmitterTest, AddsTheAgentTags) {
  AgentTags tags({{"cluster", "prod"}, {"node", "n1"}});
  AggregateEmitter emitter(&tags);
  SampleBatch batch;
  emitter.emit(Aggregates{}, 1, batch);
  ASSERT_EQ(batch.samples.size(), 6u);  // the cluster group only
  for (const Sample& s : batch.samples) {
    EXPECT_EQ(s.labels.get("cluster"), "prod");
    EXPECT_EQ(s.labels.get("node"), "n1");
    EXPECT_EQ(s.labels.get("type"), "cluster");
  }
}

TEST(KsmAggregateEmitterTest, MarksSeriesThatWentAwayAndRetireMarksAll) {
  AggregateEmitter emitter(nullptr);
  Aggregates first;
  first.namespaces["a"].pod_count = 1;
  first.namespaces["b"].pod_count = 2;
  SampleBatch one;
  emitter.emit(first, 1, one);
  EXPECT_EQ(one.samples.size(), 18u);

  Aggregates second;
  second.namespaces["a"].pod_count = 1;
  SampleBatch two;
  emitter.emit(second, 2, two);
  std::set<std::string> stale;
  for (const Sample& s : two.samples) {
    if (isStaleMarker(s.value)) stale.insert(std::string(s.labels.get("namespace_name")));
  }
  EXPECT_EQ(two.samples.size(), 12u + 6u);
  EXPECT_EQ(stale, std::set<std::string>{"b"});

  SampleBatch three;
  EXPECT_EQ(emitter.retire(3, three), 12u);
  for (const Sample& s : three.samples) EXPECT_TRUE(isStaleMarker(s.value));
  SampleBatch four;
  EXPECT_EQ(emitter.retire(4, four), 0u);
}

// ------------------------------------------------------------ the captures

std::string readFixture(const std::string& name) {
  std::ifstream in(std::string(KM_FIXTURES_DIR) + "/ksm/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The reference: the capture's text read line by line with regular
/// expressions, sharing nothing with the code under test. `v1` picks which
/// names the requests and limits are read from: the v1 `_cpu_cores` /
/// `_memory_bytes` series, or the v2 `{resource, unit}` ones.
struct Reference {
  std::map<std::string, std::map<std::string, double>> groups;  // "" is the cluster
};

Reference reference(const std::string& text, bool v1) {
  static const std::regex kLine(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)\s*$)");
  static const std::regex kLabel(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)")re");
  std::set<std::pair<std::string, std::string>> running;
  std::map<std::pair<std::string, std::string>, std::set<std::string>> containers;
  std::set<std::tuple<std::string, std::string, std::string>> terminated;
  std::vector<std::tuple<std::string, std::string, std::string, double>> resources;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (line.empty() || line[0] == '#' || !std::regex_match(line, m, kLine)) continue;
    const std::string name = m[1].str();
    const double value = std::stod(m[4].str());
    std::map<std::string, std::string> l;
    const std::string label_text = m[3].str();
    for (auto it = std::sregex_iterator(label_text.begin(), label_text.end(), kLabel);
         it != std::sregex_iterator(); ++it) {
      l[(*it)[1].str()] = (*it)[2].str();
    }
    const std::pair<std::string, std::string> pod{l["namespace"], l["pod"]};
    if (name == "kube_pod_status_phase" && l["phase"] == "Running" && value == 1) {
      running.insert(pod);
    } else if (name == "kube_pod_container_info") {
      containers[pod].insert(l["container"]);
    } else if (name == "kube_pod_container_status_terminated" && value == 1) {
      terminated.insert({pod.first, pod.second, l["container"]});
    }
    std::string key;
    double scale = 1;
    if (v1) {
      if (name == "kube_pod_container_resource_requests_cpu_cores") key = "cpu.request";
      if (name == "kube_pod_container_resource_limits_cpu_cores") key = "cpu.limit";
      if (name == "kube_pod_container_resource_requests_memory_bytes") key = "memory.request";
      if (name == "kube_pod_container_resource_limits_memory_bytes") key = "memory.limit";
    } else if ((name == "kube_pod_container_resource_requests" ||
                name == "kube_pod_container_resource_limits") &&
               (l["resource"] == "cpu" || l["resource"] == "memory")) {
      key = l["resource"] + (name.ends_with("requests") ? ".request" : ".limit");
    }
    if (key.starts_with("cpu")) scale = 1000;
    if (!key.empty()) resources.emplace_back(pod.first, pod.second, key, value * scale);
  }
  Reference ref;
  for (const auto& [ns, pod] : running) {
    for (const std::string& group : {ns, std::string()}) {
      auto& g = ref.groups[group];
      g["pod.count"] += 1;
      for (const std::string& c : containers[{ns, pod}]) {
        if (!terminated.contains({ns, pod, c})) g["pod_container.count"] += 1;
      }
    }
  }
  for (const auto& [ns, pod, key, value] : resources) {
    if (!running.contains({ns, pod})) continue;
    ref.groups[ns][key] += value;
    ref.groups[""][key] += value;
  }
  return ref;
}

/// The aggregates of the code under test for one capture, as the reference
/// lays them out (absent families are 0 in the code and missing there).
Reference computed(const std::string& text) {
  SampleBatch batch;
  auto parsed = scrape::parseText(text, scrape::ExpositionFormat::kText, batch);
  EXPECT_TRUE(parsed) << parsed.error().message();
  PodInventory inventory;
  for (const Sample& s : batch.samples) inventory.add(s);
  const Aggregates agg = computeAggregates(inventory);
  Reference out;
  const auto put = [&](const std::string& group, const GroupTotals& t) {
    auto& g = out.groups[group];
    const std::pair<const char*, double> values[] = {
        {"pod.count", t.pod_count},
        {"pod_container.count", t.container_count},
        {"cpu.request", t.resources[kCpuRequest]},
        {"cpu.limit", t.resources[kCpuLimit]},
        {"memory.request", t.resources[kMemoryRequest]},
        {"memory.limit", t.resources[kMemoryLimit]}};
    for (const auto& [k, v] : values) {
      if (v != 0) g[k] = v;
    }
  };
  for (const auto& [ns, totals] : agg.namespaces) put(ns, totals);
  put("", agg.cluster);
  return out;
}

void expectNear(const Reference& want, const Reference& got, const std::string& fixture) {
  ASSERT_EQ(want.groups.size(), got.groups.size()) << fixture;
  for (const auto& [group, values] : want.groups) {
    ASSERT_TRUE(got.groups.contains(group)) << fixture << " namespace " << group;
    const auto& g = got.groups.at(group);
    std::map<std::string, double> nonzero;
    for (const auto& [k, v] : values) {
      if (v != 0) nonzero[k] = v;
    }
    ASSERT_EQ(nonzero.size(), g.size()) << fixture << " namespace '" << group << "'";
    for (const auto& [k, v] : nonzero) {
      ASSERT_TRUE(g.contains(k)) << fixture << " " << group << " " << k;
      EXPECT_NEAR(g.at(k), v, 1e-6 * std::abs(v)) << fixture << " '" << group << "' " << k;
    }
  }
}

struct Capture {
  const char* file;
  bool v1;  // requests and limits in the v1 names (v1.5-v1.9 also write the v2 ones)
};

class KsmCaptureTest : public ::testing::TestWithParam<Capture> {};

TEST_P(KsmCaptureTest, AggregatesEqualTheReferenceSums) {
  const std::string text = readFixture(GetParam().file);
  ASSERT_FALSE(text.empty()) << GetParam().file;
  const Reference want = reference(text, GetParam().v1);
  ASSERT_GT(want.groups.at("").at("pod.count"), 0);
  expectNear(want, computed(text), GetParam().file);
}

INSTANTIATE_TEST_SUITE_P(Captures, KsmCaptureTest,
                         ::testing::Values(Capture{"ksm-v1-early_nri_metrics_plain.prom", true},
                                           Capture{"ksm-v1.7.2_k8s-1.15_nri.prom", true},
                                           Capture{"ksm-v1.9.8_k8s-1.18_nri.prom", true},
                                           Capture{"ksm-v2.3.0_k8s-1.20_nri.prom", false},
                                           Capture{"ksm-v2.6.0_k8s-1.22_nri.prom", false},
                                           Capture{"ksm-v2.10.0_k8s-1.26_nri.prom", false},
                                           Capture{"ksm-v2.13.0_k8s-1.31_nri.prom", false},
                                           Capture{"ksm-v2.16.0_k8s-1.33_nri.prom", false},
                                           Capture{"ksm-v2.19.0_k8s-1.35_nri.prom", false}),
                         [](const ::testing::TestParamInfo<Capture>& info) {
                           std::string name = info.param.file;
                           name = name.substr(0, name.find(".prom"));
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// KSM v1.9.8 writes both forms: reading only the v2 names must give what
// reading only the v1 names gives, so the choice above hides nothing, and
// the code (which reads both) counts each container once.
TEST(KsmCaptureFormsTest, V1AndV2FormsOfV198Agree) {
  const std::string text = readFixture("ksm-v1.9.8_k8s-1.18_nri.prom");
  expectNear(reference(text, false), reference(text, true), "v1.9.8 v2 vs v1 forms");
}

// Constants checked by hand: summed with a separate script (grep of the
// Running kube_pod_status_phase lines, then the requests and limits of
// those pods' containers, cores x 1000) and spot-checked line by line in
// the capture.
TEST(KsmCaptureConstantsTest, V198Totals) {
  const Reference got = computed(readFixture("ksm-v1.9.8_k8s-1.18_nri.prom"));
  const auto& c = got.groups.at("");
  EXPECT_EQ(c.at("pod.count"), 15);  // 17 pods, 2 Pending (e2e-pending, e2e-container-creating)
  EXPECT_EQ(c.at("pod_container.count"), 15);
  // kube-scheduler 100 + metrics-server 100 + php-apache 200 +
  // kube-controller-manager 200 + kube-apiserver 250 + coredns 100; the
  // Pending e2e-container-creating's 5m is not counted.
  EXPECT_DOUBLE_EQ(c.at("cpu.request"), 950);
  EXPECT_DOUBLE_EQ(c.at("cpu.limit"), 500);  // php-apache
  // metrics-server 314572800 + coredns 73400320
  EXPECT_DOUBLE_EQ(c.at("memory.request"), 387973120);
  EXPECT_DOUBLE_EQ(c.at("memory.limit"), 178257920);  // coredns
  EXPECT_DOUBLE_EQ(got.groups.at("scraper").at("cpu.request"), 200);
  EXPECT_DOUBLE_EQ(got.groups.at("kube-system").at("cpu.request"), 750);
}

TEST(KsmCaptureConstantsTest, V2190Totals) {
  const Reference got = computed(readFixture("ksm-v2.19.0_k8s-1.35_nri.prom"));
  const auto& c = got.groups.at("");
  // 25 pods: 1 Pending, 2 Succeeded, 4 Failed; 18 Running.
  EXPECT_EQ(c.at("pod.count"), 18);
  // One container each, but e2e-container-creating is Running with its
  // only container terminated (Completed).
  EXPECT_EQ(c.at("pod_container.count"), 17);
  EXPECT_DOUBLE_EQ(c.at("cpu.request"), 1355);
  EXPECT_DOUBLE_EQ(c.at("cpu.limit"), 1005);
  EXPECT_DOUBLE_EQ(c.at("memory.request"), 524045120);
  EXPECT_DOUBLE_EQ(c.at("memory.limit"), 392973120);
  EXPECT_EQ(got.groups.at("kube-system").at("pod.count"), 9);
  EXPECT_EQ(got.groups.at("scraper").at("pod.count"), 9);
}

}  // namespace
}  // namespace kubemetrics::scrapers::kube_state_metrics
