// ResourceEmitter on hand-built snapshots of the 1.35 capture's node
// (kube_objects_1_35.h): exact requests, limits, sums, ratios and the
// Wavefront collector's phase and container-state encodings.
#include "scrapers/kubelet/resource_emitter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "kube_objects_1_35.h"
#include "summary_support.h"

namespace kubemetrics::scrapers::kubelet {
namespace {

using namespace testing;  // NOLINT: the fixture builders
using M = std::map<std::string, std::string>;

constexpr std::int64_t kTs = 1782468875000;  // 2026-06-26T10:14:35Z, the summary's time

KubeSnapshot snapshotOf(std::vector<KubePod> pods, bool with_node = true, bool synced = true) {
  KubeSnapshot s;
  s.version = 1;
  s.synced = synced;
  if (with_node) s.node = std::make_shared<const KubeNode>(node135());
  for (KubePod& p : pods) {
    const std::string key = p.namespace_name + "/" + p.name;
    s.pods[key] = std::make_shared<const KubePod>(std::move(p));
  }
  return s;
}

SampleBatch emit(const KubeSnapshot& s, NodeUsage usage = {kNode135, kAbsent, kAbsent}) {
  ResourceEmitter emitter;
  SampleBatch out;
  const std::size_t n = emitter.emit(s, usage, kTs, out);
  EXPECT_EQ(n, out.samples.size());
  return out;
}

M containerTags(const KubePod& p, const std::string& container) {
  return {{"nodename", kNode135},
          {"type", "pod_container"},
          {"namespace_name", p.namespace_name},
          {"pod_name", p.name},
          {"container_name", container}};
}
M podTags(const KubePod& p) {
  return {{"nodename", kNode135},
          {"type", "pod"},
          {"namespace_name", p.namespace_name},
          {"pod_name", p.name},
          {"container_name", ""}};
}

TEST(ResourceEmitterTest, ContainerRequestsAndLimitsEqualTheSpecOnlyWhenSet) {
  const SampleBatch out = emit(snapshotOf({coredns(), scraperWithoutResources()}));
  const M c = containerTags(coredns(), "coredns");
  EXPECT_EQ(value(out, "kubernetes.pod_container.cpu.request", c), 100.0);
  EXPECT_EQ(value(out, "kubernetes.pod_container.memory.request", c), 70 * kMi);
  EXPECT_EQ(value(out, "kubernetes.pod_container.memory.limit", c), 170 * kMi);
  EXPECT_TRUE(find(out, "kubernetes.pod_container.cpu.limit", c).empty());  // no CPU limit

  // resources: {} -> no request or limit series at all, for the container or the pod.
  const KubePod bare = scraperWithoutResources();
  for (const char* name :
       {"kubernetes.pod_container.cpu.request", "kubernetes.pod_container.cpu.limit",
        "kubernetes.pod_container.memory.request", "kubernetes.pod_container.memory.limit",
        "kubernetes.pod.cpu.request", "kubernetes.pod.cpu.limit", "kubernetes.pod.memory.request",
        "kubernetes.pod.memory.limit"}) {
    EXPECT_TRUE(find(out, name, {{"pod_name", bare.name}}).empty()) << name;
  }
  EXPECT_EQ(
      value(out, "kubernetes.pod_container.restart_count", containerTags(bare, "e2e-scraper")),
      0.0);
  for (const Sample& s : out.samples) EXPECT_EQ(s.timestamp_ms, kTs) << s.name.view();
}

TEST(ResourceEmitterTest, PodSumsCountAnUnsetValueAsZero) {
  const KubePod p = multiContainerPod();
  const SampleBatch out = emit(snapshotOf({p}));
  const M pod = podTags(p);
  EXPECT_EQ(value(out, "kubernetes.pod.cpu.request", pod), 300.0);        // 250m + 50m
  EXPECT_EQ(value(out, "kubernetes.pod.memory.request", pod), 64 * kMi);  // sidecar: unset
  EXPECT_EQ(value(out, "kubernetes.pod.cpu.limit", pod), 500.0);          // sidecar: unset = 0
  EXPECT_EQ(value(out, "kubernetes.pod.memory.limit", pod), 128 * kMi);
  EXPECT_EQ(value(out, "kubernetes.pod.restart_count", pod), 4.0);  // 1 + 3
  const M app = containerTags(p, "app"), sidecar = containerTags(p, "sidecar");
  EXPECT_EQ(value(out, "kubernetes.pod_container.cpu.limit", app), 500.0);
  EXPECT_EQ(value(out, "kubernetes.pod_container.cpu.request", sidecar), 50.0);
  EXPECT_TRUE(find(out, "kubernetes.pod_container.cpu.limit", sidecar).empty());
  EXPECT_EQ(value(out, "kubernetes.pod_container.restart_count", app), 1.0);
  EXPECT_EQ(value(out, "kubernetes.pod_container.restart_count", sidecar), 3.0);

  // A pod where one container sets a CPU limit and one does not: coredns
  // has none at all, so no pod CPU limit; its memory limit is its one container's.
  const SampleBatch dns = emit(snapshotOf({coredns()}));
  EXPECT_TRUE(find(dns, "kubernetes.pod.cpu.limit").empty());
  EXPECT_EQ(value(dns, "kubernetes.pod.memory.limit", podTags(coredns())), 170 * kMi);
}

TEST(ResourceEmitterTest, PhaseUsesTheCollectorsEncodingAndTag) {
  KubePod pending = coredns(), unknown = coredns(), empty = coredns();
  pending.name = "pending";
  pending.phase = "Pending";
  unknown.name = "unknown";
  unknown.phase = "Unknown";
  empty.name = "no-phase";
  empty.phase = "";
  const SampleBatch out =
      emit(snapshotOf({coredns(), finishedCronJob(), failedJob(), pending, unknown, empty}));
  const std::map<std::string, std::pair<std::string, double>> expected = {
      {"coredns-7d764666f9-qdcxt", {"Running", 2}},
      {"e2e-cronjob-29707813-dhlr2", {"Succeeded", 3}},
      {"e2e-failjob-64h4g", {"Failed", 4}},
      {"pending", {"Pending", 1}},
      {"unknown", {"Unknown", 5}},
      {"no-phase", {"", 5}},  // the collector's default
  };
  EXPECT_EQ(find(out, "kubernetes.pod.status.phase").size(), expected.size());
  for (const auto& [name, phase] : expected) {
    const std::vector<Sample> found =
        find(out, "kubernetes.pod.status.phase", {{"pod_name", name}, {"type", "pod"}});
    ASSERT_EQ(found.size(), 1u) << name;
    EXPECT_EQ(found[0].labels.get("phase"), phase.first) << name;
    EXPECT_EQ(found[0].value, phase.second) << name;
  }
}

TEST(ResourceEmitterTest, ContainerStatusUsesTheCollectorsEncodingAndTags) {
  KubePod no_status = coredns();
  no_status.name = "no-status";
  no_status.containers[0].state.clear();  // no containerStatuses entry yet
  const KubePod multi = multiContainerPod();
  const SampleBatch out = emit(snapshotOf({multi, restartingAlpine(), failedJob(), no_status}));
  auto status = [&](const KubePod& p, const std::string& container) {
    const std::vector<Sample> found =
        find(out, "kubernetes.pod_container.status", containerTags(p, container));
    EXPECT_EQ(found.size(), 1u) << p.name << "/" << container;
    return found.empty() ? Sample{} : found[0];
  };
  const Sample running = status(multi, "app");
  EXPECT_EQ(running.value, 1.0);
  EXPECT_EQ(running.labels.get("status"), "running");
  EXPECT_EQ(running.labels.get("reason"), "");
  const Sample waiting = status(multi, "sidecar");
  EXPECT_EQ(waiting.value, 2.0);
  EXPECT_EQ(waiting.labels.get("status"), "waiting");
  EXPECT_EQ(waiting.labels.get("reason"), "CrashLoopBackOff");
  const Sample completed = status(restartingAlpine(), "alpine");
  EXPECT_EQ(completed.value, 3.0);
  EXPECT_EQ(completed.labels.get("status"), "terminated");
  EXPECT_EQ(completed.labels.get("reason"), "Completed");
  EXPECT_EQ(status(failedJob(), "main").labels.get("reason"), "Error");
  EXPECT_EQ(value(out, "kubernetes.pod_container.restart_count",
                  containerTags(restartingAlpine(), "alpine")),
            2.0);
  EXPECT_EQ(value(out, "kubernetes.pod.restart_count", podTags(restartingAlpine())), 2.0);

  // No status entry: neither status nor restart counts, as in the collector;
  // the phase and the requests still come from the spec.
  EXPECT_TRUE(find(out, "kubernetes.pod_container.status", {{"pod_name", "no-status"}}).empty());
  EXPECT_TRUE(
      find(out, "kubernetes.pod_container.restart_count", {{"pod_name", "no-status"}}).empty());
  EXPECT_TRUE(find(out, "kubernetes.pod.restart_count", {{"pod_name", "no-status"}}).empty());
  EXPECT_EQ(value(out, "kubernetes.pod_container.cpu.request", {{"pod_name", "no-status"}}), 100.0);
}

TEST(ResourceEmitterTest, NodeCapacityAllocatableReservationAndUtilization) {
  const SampleBatch out =
      emit(snapshotOf({coredns(), scraperWithoutResources(), apiserver(), restartingAlpine(),
                       finishedCronJob(), failedJob(), multiContainerPod(), otherNodePod()}),
           {kNode135, 700.0, 917110784.0});
  const M node{{"nodename", kNode135}, {"type", "node"}, {"pod_name", ""}};
  EXPECT_EQ(value(out, "kubernetes.node.cpu.node_capacity", node), 14000.0);
  EXPECT_EQ(value(out, "kubernetes.node.cpu.node_allocatable", node), 14000.0);
  EXPECT_EQ(value(out, "kubernetes.node.memory.node_capacity", node), 8216887296.0);
  EXPECT_EQ(value(out, "kubernetes.node.memory.node_allocatable", node), 8216887296.0);
  // The Succeeded cron job and the other node's pod reserve nothing here.
  EXPECT_DOUBLE_EQ(value(out, "kubernetes.node.cpu.node_reservation", node),
                   kRequestedCpu / 14000.0);
  EXPECT_DOUBLE_EQ(value(out, "kubernetes.node.memory.node_reservation", node),
                   kRequestedMemory / 8216887296.0);
  EXPECT_DOUBLE_EQ(value(out, "kubernetes.node.cpu.node_utilization", node), 0.05);
  EXPECT_DOUBLE_EQ(value(out, "kubernetes.node.memory.node_utilization", node),
                   917110784.0 / 8216887296.0);
  EXPECT_TRUE(
      find(out, "kubernetes.pod.status.phase", {{"pod_name", "e2e-daemonset-other"}}).empty());
  EXPECT_TRUE(
      find(out, "kubernetes.pod_container.cpu.request", {{"nodename", "other-node"}}).empty());

  // Each family used once in the metadata, as gauges with help.
  std::set<std::string_view> families;
  for (const MetricMetadata& m : out.metadata) {
    EXPECT_TRUE(families.insert(m.name.view()).second) << m.name.view();
    EXPECT_EQ(m.type, MetricType::kGauge);
    EXPECT_FALSE(m.help.empty());
  }
  std::set<std::string_view> emitted;
  for (const Sample& s : out.samples) emitted.insert(s.name.view());
  EXPECT_EQ(families, emitted);
  EXPECT_EQ(emitted.size(), 20u);
}

TEST(ResourceEmitterTest, UtilizationOnlyWithUsageAndRatiosOnlyWithAllocatable) {
  const SampleBatch first = emit(snapshotOf({coredns()}), {kNode135, kAbsent, 917110784.0});
  EXPECT_TRUE(find(first, "kubernetes.node.cpu.node_utilization").empty());
  EXPECT_EQ(find(first, "kubernetes.node.memory.node_utilization").size(), 1u);
  EXPECT_EQ(find(first, "kubernetes.node.cpu.node_reservation").size(), 1u);

  KubeSnapshot s = snapshotOf({coredns()});
  KubeNode zero = node135();
  zero.allocatable = {0.0, std::nullopt};
  zero.capacity.memory_bytes.reset();
  s.node = std::make_shared<const KubeNode>(zero);
  const SampleBatch out = emit(s, {kNode135, 700.0, 917110784.0});
  EXPECT_EQ(value(out, "kubernetes.node.cpu.node_allocatable"), 0.0);
  EXPECT_EQ(value(out, "kubernetes.node.cpu.node_capacity"), 14000.0);
  for (const char* name :
       {"kubernetes.node.cpu.node_reservation", "kubernetes.node.cpu.node_utilization",
        "kubernetes.node.memory.node_capacity", "kubernetes.node.memory.node_allocatable",
        "kubernetes.node.memory.node_reservation", "kubernetes.node.memory.node_utilization"}) {
    EXPECT_TRUE(find(out, name).empty()) << name;
  }
}

TEST(ResourceEmitterTest, NothingUntilSyncedWithTheNode) {
  EXPECT_TRUE(emit(snapshotOf({coredns()}, true, false)).samples.empty());
  EXPECT_TRUE(emit(snapshotOf({coredns()}, false, true)).samples.empty());
  const SampleBatch empty = emit(snapshotOf({coredns()}, false, true));
  EXPECT_TRUE(empty.metadata.empty());
  // A synced node without pods still reports the node.
  EXPECT_EQ(value(emit(snapshotOf({})), "kubernetes.node.cpu.node_reservation"), 0.0);
}

TEST(ResourceEmitterTest, NodenameIsTheSummarysAndFallsBackToTheNodeObject) {
  const SampleBatch summary_name = emit(snapshotOf({coredns()}), {"as-the-summary-says"});
  EXPECT_EQ(find(summary_name, "kubernetes.pod.status.phase", {{"nodename", "as-the-summary-says"}})
                .size(),
            1u);
  const SampleBatch fallback = emit(snapshotOf({coredns()}), {""});
  EXPECT_EQ(find(fallback, "kubernetes.node.cpu.node_capacity", {{"nodename", kNode135}}).size(),
            1u);
}

}  // namespace
}  // namespace kubemetrics::scrapers::kubelet
