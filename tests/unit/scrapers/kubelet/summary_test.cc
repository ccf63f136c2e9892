// Parser + emitter of the kubelet Summary API source, on the real captures
// in ../shared/fixtures/kubelet. Expected values come from simdjson's DOM
// API, a different code path from the on-demand parser under test.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <set>

#include "scrapers/kubelet/emitter.h"
#include "scrapers/kubelet/parser.h"
#include "summary_support.h"

namespace kubemetrics::scrapers::kubelet {
namespace {

using testing::find;
using testing::fixture;
using testing::replaceAll;
using testing::shiftTimes;
using testing::summaryFixtures;
using testing::value;

constexpr std::int64_t kNow = 1'800'000'000'000;

struct Scrape {
  SampleBatch batch;
  EmitStats stats;
};

class Collector {
 public:
  explicit Collector(EmitOptions options = {}) : emitter_(std::move(options)) {}
  Scrape run(const std::string& json) {
    Scrape scrape;
    Result<void> parsed = parser_.parse(json, summary_);
    EXPECT_TRUE(parsed.has_value()) << (parsed ? "" : parsed.error().message());
    if (parsed) scrape.stats = emitter_.emit(summary_, kNow, scrape.batch);
    return scrape;
  }
  SummaryEmitter& emitter() { return emitter_; }

 private:
  SummaryParser parser_;
  SummaryEmitter emitter_;
  Summary summary_;
};

double num(simdjson::dom::element e, std::string_view pointer) {
  double v = std::nan("");
  auto r = e.at_pointer(pointer);
  if (r.error() == simdjson::SUCCESS) {
    if (r.is_uint64()) {
      v = static_cast<double>(r.get_uint64().value());
    } else if (r.is_int64()) {
      v = static_cast<double>(r.get_int64().value());
    } else if (r.is_double()) {
      v = r.get_double().value();
    }
  }
  return v;
}

std::string str(simdjson::dom::element e, std::string_view pointer) {
  std::string_view s;
  if (e.at_pointer(pointer).get(s) != simdjson::SUCCESS) return {};
  return std::string(s);
}

// Equal when both present and equal, or the JSON has no value and nothing
// was emitted (NaN from value()).
void expectSame(double json, double emitted, const std::string& what) {
  if (std::isnan(json)) {
    EXPECT_TRUE(std::isnan(emitted)) << what << ": absent in JSON but emitted " << emitted;
  } else {
    EXPECT_DOUBLE_EQ(emitted, json) << what;
  }
}

TEST(KubeletSummaryTest, EveryFixtureMatchesItsJson) {
  const std::vector<std::string> names = summaryFixtures();
  ASSERT_GE(names.size(), 13u);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const std::string text = fixture(name);
    simdjson::dom::parser dom;
    simdjson::dom::element doc;
    ASSERT_EQ(dom.parse(text).get(doc), simdjson::SUCCESS);

    Collector collector(EmitOptions{false, "fallback-node"});
    const Scrape scrape = collector.run(text);
    const SampleBatch& b = scrape.batch;
    ASSERT_FALSE(b.samples.empty());

    // Pods and (distinct per pod) containers seen.
    simdjson::dom::array pods;
    std::size_t pod_count = 0, container_count = 0;
    if (doc["pods"].get(pods) == simdjson::SUCCESS) {
      for (simdjson::dom::element pod : pods) {
        ++pod_count;
        std::set<std::string> distinct;
        simdjson::dom::array containers;
        if (pod["containers"].get(containers) == simdjson::SUCCESS) {
          for (simdjson::dom::element c : containers) distinct.insert(str(c, "/name"));
        }
        container_count += distinct.size();
      }
    }
    EXPECT_EQ(scrape.stats.pods, pod_count);
    EXPECT_EQ(scrape.stats.containers, container_count);
    EXPECT_EQ(value(b, "kubernetes.node.pod.count"), static_cast<double>(pod_count));
    EXPECT_EQ(value(b, "kubernetes.node.pod_container.count"),
              static_cast<double>(container_count));

    // Node fields.
    std::string node_name = str(doc, "/node/nodeName");
    if (node_name.empty()) node_name = "fallback-node";
    const std::map<std::string, std::string> node{
        {"nodename", node_name}, {"type", "node"}, {"interface_name", ""}};
    expectSame(num(doc, "/node/memory/workingSetBytes"),
               value(b, "kubernetes.node.memory.working_set", node), "node working set");
    expectSame(num(doc, "/node/memory/usageBytes"), value(b, "kubernetes.node.memory.usage", node),
               "node memory usage");
    expectSame(num(doc, "/node/memory/availableBytes"),
               value(b, "kubernetes.node.memory.available", node), "node memory available");
    expectSame(num(doc, "/node/cpu/usageCoreNanoSeconds"),
               value(b, "kubernetes.node.cpu.usage", node), "node cpu usage");
    expectSame(num(doc, "/node/cpu/usageNanoCores") / 1e6,
               value(b, "kubernetes.node.cpu.usage_millicores", node), "node millicores");
    expectSame(num(doc, "/node/network/rxBytes"), value(b, "kubernetes.node.network.rx", node),
               "node rx");
    expectSame(num(doc, "/node/network/txErrors"),
               value(b, "kubernetes.node.network.tx_errors", node), "node tx errors");
    expectSame(num(doc, "/node/fs/capacityBytes"),
               value(b, "kubernetes.node.filesystem.limit", {{"resource_id", "/"}}),
               "node fs capacity");
    // A first scrape has no rate.
    EXPECT_TRUE(find(b, "kubernetes.node.cpu.usage_rate").empty());
    // The block's own time is the timestamp.
    const std::string mem_time = str(doc, "/node/memory/time");
    const auto ws = find(b, "kubernetes.node.memory.working_set", node);
    if (!mem_time.empty() && ws.size() == 1) {
      EXPECT_EQ(ws[0].timestamp_ms, parseRfc3339Ms(mem_time).value());
    }
    // Per-interface network: one series per interface.
    simdjson::dom::array interfaces;
    if (doc.at_pointer("/node/network/interfaces").get(interfaces) == simdjson::SUCCESS) {
      for (simdjson::dom::element i : interfaces) {
        expectSame(num(i, "/rxBytes"),
                   value(b, "kubernetes.node.network.rx",
                         {{"type", "node"}, {"interface_name", str(i, "/name")}}),
                   "node interface rx " + str(i, "/name"));
      }
    }

    // Every pod's and container's working set, volumes, ephemeral storage.
    if (pod_count > 0) {
      for (simdjson::dom::element pod : pods) {
        const std::string ns = str(pod, "/podRef/namespace");
        const std::string pod_name = str(pod, "/podRef/name");
        SCOPED_TRACE(ns + "/" + pod_name);
        const std::map<std::string, std::string> p{{"type", "pod"},
                                                   {"nodename", node_name},
                                                   {"namespace_name", ns},
                                                   {"pod_name", pod_name},
                                                   {"interface_name", ""}};
        expectSame(num(pod, "/memory/workingSetBytes"),
                   value(b, "kubernetes.pod.memory.working_set", p), "pod working set");
        expectSame(num(pod, "/memory/rssBytes"), value(b, "kubernetes.pod.memory.rss", p),
                   "pod rss");
        expectSame(num(pod, "/network/rxBytes"), value(b, "kubernetes.pod.network.rx", p),
                   "pod rx");
        expectSame(num(pod, "/ephemeral-storage/usedBytes"),
                   value(b, "kubernetes.pod.ephemeral_storage.usage", p), "pod ephemeral");
        simdjson::dom::array volumes;
        if (pod["volume"].get(volumes) == simdjson::SUCCESS) {
          for (simdjson::dom::element v : volumes) {
            auto with = p;
            with["resource_id"] = "Volume:" + str(v, "/name");
            expectSame(num(v, "/usedBytes"), value(b, "kubernetes.pod.filesystem.usage", with),
                       "volume used " + with["resource_id"]);
            expectSame(num(v, "/inodesFree"),
                       value(b, "kubernetes.pod.filesystem.inodes_free", with),
                       "volume inodes free " + with["resource_id"]);
          }
        }
        simdjson::dom::array containers;
        if (pod["containers"].get(containers) != simdjson::SUCCESS) continue;
        for (simdjson::dom::element c : containers) {
          auto with = p;
          with["type"] = "pod_container";
          with["container_name"] = str(c, "/name");
          const auto emitted = find(b, "kubernetes.pod_container.memory.working_set", with);
          if (containers.size() > 1) continue;  // duplicates by name: covered elsewhere
          expectSame(num(c, "/memory/workingSetBytes"),
                     value(b, "kubernetes.pod_container.memory.working_set", with),
                     "container working set " + with["container_name"]);
          expectSame(num(c, "/cpu/usageCoreNanoSeconds"),
                     value(b, "kubernetes.pod_container.cpu.usage", with), "container cpu");
          auto rootfs = with;
          rootfs["resource_id"] = "/";
          expectSame(num(c, "/rootfs/usedBytes"),
                     value(b, "kubernetes.pod_container.filesystem.usage", rootfs),
                     "container rootfs");
          auto logs = with;
          logs["resource_id"] = "logs";
          expectSame(num(c, "/logs/capacityBytes"),
                     value(b, "kubernetes.pod_container.filesystem.limit", logs), "container logs");
        }
      }
    }
    // System containers are off by default.
    EXPECT_TRUE(find(b, "kubernetes.sys_container.cpu.usage").empty());
  }
}

TEST(KubeletSummaryTest, EverySeriesOnceWithFiniteValueAndTimestamp) {
  for (const std::string& name : summaryFixtures()) {
    SCOPED_TRACE(name);
    Collector collector(EmitOptions{true, "n"});
    const Scrape scrape = collector.run(fixture(name));
    std::set<std::pair<const void*, const void*>> seen;
    for (const Sample& s : scrape.batch.samples) {
      EXPECT_TRUE(seen.insert({s.name.id(), s.labels.id()}).second)
          << "duplicate series " << s.name.view();
      EXPECT_TRUE(std::isfinite(s.value)) << s.name.view();
      EXPECT_GT(s.timestamp_ms, 0) << s.name.view();
      EXPECT_TRUE(s.name.view().starts_with("kubernetes.")) << s.name.view();
      EXPECT_FALSE(s.labels.get("nodename").empty()) << s.name.view();
    }
    // Every family used has metadata with help, once.
    std::set<const void*> families;
    for (const MetricMetadata& m : scrape.batch.metadata) {
      EXPECT_TRUE(families.insert(m.name.id()).second);
      EXPECT_FALSE(m.help.empty());
    }
    for (const Sample& s : scrape.batch.samples) EXPECT_TRUE(families.count(s.name.id()));
  }
}

TEST(KubeletSummaryTest, AbsentFieldsEmitNothing) {
  // Windows nodes have no rss, page faults or inodes: none may appear as 0.
  Collector collector;
  const Scrape scrape = collector.run(fixture("summary_windows_datadog.json"));
  EXPECT_TRUE(find(scrape.batch, "kubernetes.pod_container.memory.rss").empty());
  EXPECT_TRUE(find(scrape.batch, "kubernetes.pod_container.memory.page_faults").empty());
  EXPECT_FALSE(find(scrape.batch, "kubernetes.pod_container.memory.working_set").empty());

  const std::string only_ws = R"({"node": {"nodeName": "n1", "memory": {
      "time": "2026-01-02T03:04:05Z", "workingSetBytes": 42, "rssBytes": null}},
      "pods": []})";
  const Scrape small = collector.run(only_ws);
  std::set<std::string> names;
  for (const Sample& s : small.batch.samples) names.insert(s.name.str());
  EXPECT_EQ(names, (std::set<std::string>{"kubernetes.node.memory.working_set",
                                          "kubernetes.node.pod.count",
                                          "kubernetes.node.pod_container.count"}));
  EXPECT_EQ(value(small.batch, "kubernetes.node.memory.working_set"), 42);
  EXPECT_EQ(find(small.batch, "kubernetes.node.memory.working_set")[0].timestamp_ms,
            parseRfc3339Ms("2026-01-02T03:04:05Z").value());
  // Node-level counts carry the node's time.
  EXPECT_EQ(find(small.batch, "kubernetes.node.pod.count")[0].timestamp_ms,
            parseRfc3339Ms("2026-01-02T03:04:05Z").value());
  // No block time: the scrape time.
  const Scrape untimed = collector.run(R"({"node": {"memory": {"usageBytes": 7}}})");
  EXPECT_EQ(find(untimed.batch, "kubernetes.node.memory.usage")[0].timestamp_ms, kNow);
}

TEST(KubeletSummaryTest, NodeNameFallsBackToTheAgentsNode) {
  Collector collector(EmitOptions{false, "agent-node"});
  const Scrape scrape = collector.run(fixture("summary_minimal_no_nodename_datadog_agent.json"));
  EXPECT_EQ(value(scrape.batch, "kubernetes.node.memory.working_set", {{"nodename", "agent-node"}}),
            6442450944.0);
}

TEST(KubeletSummaryTest, SysContainersWithLegacyNamesWhenEnabled) {
  Collector collector(EmitOptions{true, ""});
  const Scrape scrape = collector.run(fixture("summary_wavefront_collector.json"));
  const SampleBatch& b = scrape.batch;
  EXPECT_EQ(value(b, "kubernetes.sys_container.memory.working_set",
                  {{"container_name", "kubelet"}, {"type", "sys_container"}}),
            68816896.0);
  // "runtime" keeps the collector's legacy name.
  EXPECT_EQ(value(b, "kubernetes.sys_container.cpu.usage", {{"container_name", "docker-daemon"}}),
            14163123105065.0);
  EXPECT_EQ(value(b, "kubernetes.sys_container.memory.available", {{"container_name", "pods"}}),
            6291156992.0);
}

TEST(KubeletSummaryTest, PsiSwapAndIoBlocks) {
  Collector collector(EmitOptions{true, ""});
  const Scrape scrape = collector.run(fixture("summary_k8s-1.35_containerd_psi_nri.json"));
  const SampleBatch& b = scrape.batch;
  const std::map<std::string, std::string> node{{"type", "node"}};
  EXPECT_EQ(value(b, "kubernetes.node.cpu.psi.some.total", node), 34335662.0);
  EXPECT_EQ(value(b, "kubernetes.node.cpu.psi.full.avg10", node), 72.63);
  EXPECT_EQ(value(b, "kubernetes.node.memory.psi.some.total", node), 15.0);
  EXPECT_EQ(value(b, "kubernetes.node.io.psi.full.total", node), 156559.0);
  EXPECT_EQ(value(b, "kubernetes.node.swap.available", node), 1073737728.0);
  EXPECT_EQ(value(b, "kubernetes.node.swap.usage", node), 0.0);
  const std::map<std::string, std::string> kcm{{"pod_name", "kube-controller-manager-datagen-1-35"},
                                               {"type", "pod"},
                                               {"interface_name", ""}};
  EXPECT_EQ(value(b, "kubernetes.pod.cpu.psi.some.total", kcm), 171305.0);
  EXPECT_EQ(value(b, "kubernetes.sys_container.io.psi.some.total", {{"container_name", "pods"}}),
            236852.0);
  // No PSI in older captures: no PSI series.
  const Scrape old = collector.run(fixture("summary_k8s-1.22_containerd_nri.json"));
  EXPECT_TRUE(find(old.batch, "kubernetes.node.cpu.psi.some.total").empty());
}

TEST(KubeletSummaryTest, UptimeIsBlockTimeMinusStartTime) {
  Collector collector;
  const Scrape scrape = collector.run(fixture("summary_wavefront_collector.json"));
  // node startTime 2023-03-03T19:25:38Z, cpu time 2023-03-09T21:46:23Z.
  const double expected = static_cast<double>(*parseRfc3339Ms("2023-03-09T21:46:23Z") -
                                              *parseRfc3339Ms("2023-03-03T19:25:38Z"));
  EXPECT_EQ(value(scrape.batch, "kubernetes.node.uptime", {{"type", "node"}}), expected);
}

// Two scrapes 30 s apart with known counter increments.
TEST(KubeletSummaryTest, RatesFromAdvancedCounters) {
  const std::string first = fixture("summary_wavefront_collector.json");
  std::string second = shiftTimes(first, 30);
  // Node: +15 core-seconds in 30 s = 500 millicores; +3,000,000 bytes = 100 kB/s.
  second = replaceAll(second, "\"usageCoreNanoSeconds\": 61164665840393",
                      "\"usageCoreNanoSeconds\": 61179665840393");
  second = replaceAll(second, "\"rxBytes\": 2913612496", "\"rxBytes\": 2916612496");
  // Container gke-metrics-agent: +3 core-seconds = 100 millicores.
  second = replaceAll(second, "\"usageCoreNanoSeconds\": 1521370651200",
                      "\"usageCoreNanoSeconds\": 1524370651200");

  Collector collector;
  const Scrape one = collector.run(first);
  EXPECT_TRUE(find(one.batch, "kubernetes.node.cpu.usage_rate").empty());
  EXPECT_TRUE(find(one.batch, "kubernetes.node.network.rx_rate").empty());
  const Scrape two = collector.run(second);
  const SampleBatch& b = two.batch;
  const std::map<std::string, std::string> node{{"type", "node"}, {"interface_name", ""}};
  EXPECT_DOUBLE_EQ(value(b, "kubernetes.node.cpu.usage_rate", node), 500.0);
  EXPECT_DOUBLE_EQ(value(b, "kubernetes.node.network.rx_rate", node), 100000.0);
  EXPECT_DOUBLE_EQ(value(b, "kubernetes.node.network.rx_rate", {{"interface_name", "eth0"}}),
                   100000.0);
  EXPECT_DOUBLE_EQ(value(b, "kubernetes.node.network.tx_rate", node), 0.0);
  EXPECT_DOUBLE_EQ(value(b, "kubernetes.pod_container.cpu.usage_rate",
                         {{"container_name", "gke-metrics-agent"}}),
                   100.0);
  EXPECT_DOUBLE_EQ(
      value(b, "kubernetes.pod_container.cpu.usage_rate", {{"container_name", "fluentbit"}}), 0.0);
  // The rate carries the block's time.
  const auto rate = find(b, "kubernetes.node.cpu.usage_rate", node);
  ASSERT_EQ(rate.size(), 1u);
  EXPECT_EQ(rate[0].timestamp_ms, *parseRfc3339Ms("2023-03-09T21:46:53Z"));

  // Same document again: time does not advance, so no rate.
  const Scrape again = collector.run(second);
  EXPECT_TRUE(find(again.batch, "kubernetes.node.cpu.usage_rate").empty());
}

TEST(KubeletSummaryTest, ContainerRestartGivesNoRate) {
  const std::string first = fixture("summary_wavefront_collector.json");
  Collector collector;
  collector.run(first);
  // gke-metrics-agent restarted: new start time, counter back near zero.
  std::string second = shiftTimes(first, 30);
  second = replaceAll(second, "\"startTime\": \"2023-03-03T19:29:43Z\"",
                      "\"startTime\": \"2023-03-09T21:46:40Z\"");
  second = replaceAll(second, "\"usageCoreNanoSeconds\": 1521370651200",
                      "\"usageCoreNanoSeconds\": 2000000000");
  const Scrape two = collector.run(second);
  EXPECT_TRUE(find(two.batch, "kubernetes.pod_container.cpu.usage_rate",
                   {{"container_name", "gke-metrics-agent"}})
                  .empty());
  // Other containers and the node still have theirs.
  EXPECT_EQ(
      find(two.batch, "kubernetes.pod_container.cpu.usage_rate", {{"container_name", "fluentbit"}})
          .size(),
      1u);
  EXPECT_EQ(find(two.batch, "kubernetes.node.cpu.usage_rate").size(), 1u);
  // The next scrape after the restart has a rate again (+1.5 s CPU in 30 s).
  std::string third = shiftTimes(second, 30);
  third = replaceAll(third, "\"usageCoreNanoSeconds\": 2000000000",
                     "\"usageCoreNanoSeconds\": 3500000000");
  const Scrape three = collector.run(third);
  EXPECT_DOUBLE_EQ(value(three.batch, "kubernetes.pod_container.cpu.usage_rate",
                         {{"container_name", "gke-metrics-agent"}}),
                   50.0);
}

TEST(KubeletSummaryTest, DuplicateContainerNameKeepsTheNewest) {
  const std::string json = R"({"node": {"nodeName": "n"}, "pods": [{
      "podRef": {"name": "p", "namespace": "ns"},
      "containers": [
        {"name": "app", "startTime": "2026-01-01T00:00:00Z", "memory": {"workingSetBytes": 1}},
        {"name": "app", "startTime": "2026-01-02T00:00:00Z", "memory": {"workingSetBytes": 2}},
        {"name": "app", "startTime": "2025-12-31T00:00:00Z", "memory": {"workingSetBytes": 3}}]}]})";
  Collector collector;
  const Scrape scrape = collector.run(json);
  EXPECT_EQ(scrape.stats.containers, 1u);
  EXPECT_EQ(value(scrape.batch, "kubernetes.pod_container.memory.working_set"), 2.0);
}

// Generates a summary with `count` pods named pod-<first>... each with one
// container and a network block, counters growing with `step`.
std::string generatedSummary(int first, int count, int step) {
  std::string json = R"({"node": {"nodeName": "churn", "cpu": {"time": ")" +
                     testing::formatRfc3339(1'700'000'000 + step * 10) +
                     R"(", "usageCoreNanoSeconds": )" + std::to_string(1000 + step) +
                     R"(}}, "pods": [)";
  for (int i = first; i < first + count; ++i) {
    if (i != first) json += ',';
    const std::string t = testing::formatRfc3339(1'700'000'000 + step * 10);
    const std::string n = std::to_string(i);
    json += R"({"podRef": {"name": "pod-)" + n + R"(", "namespace": "churn"},
      "startTime": "2023-01-01T00:00:00Z",
      "cpu": {"time": ")" +
            t + R"(", "usageCoreNanoSeconds": )" + std::to_string(step * 1000) + R"(},
      "network": {"time": ")" +
            t + R"(", "rxBytes": )" + std::to_string(step) + R"(, "txBytes": 1,
        "interfaces": [{"name": "eth0", "rxBytes": )" +
            std::to_string(step) + R"(}]},
      "containers": [{"name": "c", "startTime": "2023-01-01T00:00:00Z",
        "cpu": {"time": ")" +
            t + R"(", "usageCoreNanoSeconds": )" + std::to_string(step) + R"(},
        "memory": {"time": ")" +
            t + R"(", "pageFaults": 1, "majorPageFaults": 0}}]})";
  }
  return json + "]}";
}

TEST(KubeletSummaryTest, ChurnKeepsTheRateCacheBounded) {
  Collector collector;
  std::size_t max_size = 0;
  constexpr int kScrapes = 1000;
  // 1,000 scrapes; 20 pods live at a time, one new pod per scrape and one
  // gone, so 1,019 distinct pods pass through: fifty times the live set,
  // which an unbounded cache could not hide (10,000 scrapes said no more
  // and took 100 s under ASan and load).
  for (int step = 0; step < kScrapes; ++step) {
    collector.run(generatedSummary(step, 20, step));
    max_size = std::max(max_size, collector.emitter().rateCacheSize());
  }
  // Per pod: cpu, 4 network totals (rx, tx + their errors absent -> 2), 1
  // interface rx; per container: cpu, 2 page-fault rates; plus the node cpu.
  const std::size_t per_pod = 1 + 2 + 1 + 3;
  EXPECT_LE(max_size, 20 * per_pod + 1);
  EXPECT_EQ(collector.emitter().rateCacheSize(), 20 * per_pod + 1);
  // Pods all gone: only the node's series stays.
  collector.run(generatedSummary(0, 0, kScrapes + 1));
  EXPECT_EQ(collector.emitter().rateCacheSize(), 1u);
}

TEST(KubeletSummaryTest, InvalidOrTruncatedJsonFailsWithoutCrashing) {
  const std::string text = fixture("summary_k8s-1.35_containerd_psi_nri.json");
  SummaryParser parser;
  Summary summary;
  ASSERT_TRUE(parser.parse(text, summary).has_value());
  // Truncated anywhere: an error, never a partial success.
  std::size_t failures = 0, cuts = 0;
  for (std::size_t cut = 1; cut < text.size() - 2; cut += 97) {
    ++cuts;
    const Result<void> r = parser.parse(std::string_view(text).substr(0, cut), summary);
    if (!r) {
      ++failures;
      EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss);
      EXPECT_NE(r.error().message().find("invalid summary JSON"), std::string::npos);
    }
  }
  EXPECT_EQ(failures, cuts);
  for (const char* bad : {"", "   ", "[]", "42", "{\"node\": ", "{\"pods\": [1, 2}", "{} {}",
                          "{\"node\": {}} trailing", "null", "{\"node\": {\"cpu\": }}"}) {
    EXPECT_FALSE(parser.parse(bad, summary).has_value()) << bad;
  }
  // Wrong types where numbers or objects belong are skipped, not fatal.
  EXPECT_TRUE(
      parser.parse(R"({"node": {"cpu": 5, "memory": {"usageBytes": "x"}}, "pods": {}})", summary)
          .has_value());
  EXPECT_TRUE(std::isnan(summary.node.memory.usage_bytes));
}

// Found by the fuzzer: a document without "node" after one with system
// containers kept the old containers, whose names pointed into freed memory.
TEST(KubeletSummaryTest, NothingOfThePreviousDocumentSurvives) {
  Collector collector(EmitOptions{true, "n"});
  collector.run(fixture("summary_k8s-1.35_containerd_psi_nri.json"));
  const Scrape next = collector.run(R"({"pods": []})");
  EXPECT_TRUE(find(next.batch, "kubernetes.sys_container.cpu.usage").empty());
  EXPECT_TRUE(find(next.batch, "kubernetes.node.network.rx").empty());
  SummaryParser parser;
  Summary summary;
  ASSERT_TRUE(parser.parse(fixture("summary_wavefront_collector.json"), summary).has_value());
  EXPECT_FALSE(parser.parse("{\"pods\": [{\"podRef\": ", summary).has_value());
  EXPECT_TRUE(summary.pods.empty());
  EXPECT_TRUE(summary.node.system_containers.empty());
}

TEST(KubeletSummaryTest, ParsesRfc3339) {
  EXPECT_EQ(parseRfc3339Ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parseRfc3339Ms("2026-06-26T10:14:35Z"), 1782468875000);
  EXPECT_EQ(parseRfc3339Ms("2026-06-26T10:14:35.123456789Z"), 1782468875123);
  EXPECT_EQ(parseRfc3339Ms("2026-06-26T12:14:35+02:00"), 1782468875000);
  EXPECT_EQ(parseRfc3339Ms("2026-06-26T09:14:35.5-01:00"), 1782468875500);
  EXPECT_EQ(parseRfc3339Ms("2000-02-29T00:00:00Z"), 951782400000);
  for (const char* bad :
       {"", "2026-06-26", "2026-06-26T10:14:35", "2026-13-01T00:00:00Z", "2026-06-26T10:14:35.Z",
        "2026-06-26T10:14:35Zx", "0001-01-01T00:00:0Z", "2026-06-26T10:14:35+0200"}) {
    EXPECT_FALSE(parseRfc3339Ms(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace kubemetrics::scrapers::kubelet
