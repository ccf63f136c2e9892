// KubernetesPodsSource with a FakeKubeMetadata (standing for the API
// client) and exposition servers on 127.0.0.1 standing for the pods: which
// pods are scraped, their labels, the targets following pod changes, the
// staleness markers of a pod that goes, and the time each target gets.
#include "scrapers/kubernetes_pods/kubernetes_pods_source.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "support/fake_kube_metadata.h"
#include "support/fake_pod.h"
#include "support/loopback.h"
#include "support/registry_value.h"
#include "unit/scrapers/kubernetes_pods/pod_test_util.h"

namespace kubemetrics::scrapers::kubernetes_pods {
namespace {

using kubemetrics::testing::FakeKubeMetadata;
using kubemetrics::testing::FakePod;
using kubemetrics::testing::registryValue;
using Annotations = std::map<std::string, std::string, std::less<>>;

constexpr const char* kNode = "node-1";

KubernetesPodsConfig testConfig() {
  KubernetesPodsConfig config;
  config.enabled = true;
  config.interval = std::chrono::seconds(10);
  config.target.interval = config.interval;
  config.target.timeout = std::chrono::seconds(5);
  return config;
}

// The samples (markers included or not) of `name` with every label of `labels`.
std::vector<const Sample*> select(const SampleBatch& batch, std::string_view name,
                                  const std::map<std::string, std::string>& labels,
                                  bool markers = false) {
  std::vector<const Sample*> out;
  for (const Sample& s : batch.samples) {
    if (isStaleMarker(s.value) != markers) continue;
    if (!name.empty() && s.name.view() != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) match &= s.labels.get(k) == v;
    if (match) out.push_back(&s);
  }
  return out;
}

std::size_t markerCount(const SampleBatch& batch) {
  std::size_t n = 0;
  for (const Sample& s : batch.samples) n += isStaleMarker(s.value);
  return n;
}

class KubernetesPodsSourceTest : public ::testing::Test {
 protected:
  KubernetesPodsSourceTest()
      : pod_a_("/custom", "# TYPE a_requests_total counter\na_requests_total{code=\"200\"} 5\n"),
        pod_b_("/metrics", "b_temperature 21.5\nb_humidity 40\n") {
    kube_.setSynced(true);
  }

  std::unique_ptr<KubernetesPodsSource> makeSource(KubernetesPodsConfig config = testConfig()) {
    return std::make_unique<KubernetesPodsSource>(std::move(config), kNode, &kube_, &registry_,
                                                  nullptr);
  }

  // pod-a: the port and path come from annotations (its container "main"
  // declares the port); pod-b: no port annotation, its container "app"
  // declares its port.
  void addAnnotatedPods() {
    kube_.setPod(makePod("default", "pod-a", kNode, "127.0.0.1",
                         {{"prometheus.io/scrape", "true"},
                          {"prometheus.io/port", pod_a_.portText()},
                          {"prometheus.io/path", "/custom"}},
                         {{"main", {pod_a_.port()}}, {"other", {1}}}));
    kube_.setPod(makePod("web", "pod-b", kNode, "127.0.0.1", {{"prometheus.io/scrape", "true"}},
                         {{"app", {pod_b_.port()}}}));
  }

  Result<ScrapeStats> scrape(KubernetesPodsSource& source, SampleBatch& out) {
    return source.scrape(out, deadlineIn(std::chrono::seconds(20)));
  }

  FakePod pod_a_;
  FakePod pod_b_;
  FakeKubeMetadata kube_;
  prometheus::Registry registry_;
};

TEST_F(KubernetesPodsSourceTest, ScrapesAnnotatedPodsOfThisNodeWithPodLabels) {
  addAnnotatedPods();
  // Not scraped: no annotation, another node, annotation "false".
  kube_.setPod(makePod("default", "plain", kNode, "127.0.0.1", {}, {{"app", {pod_b_.port()}}}));
  kube_.setPod(makePod("default", "remote", "node-2", "127.0.0.1",
                       {{"prometheus.io/scrape", "true"}}, {{"app", {pod_b_.port()}}}));
  kube_.setPod(makePod("default", "off", kNode, "127.0.0.1", {{"prometheus.io/scrape", "false"}},
                       {{"app", {pod_b_.port()}}}));
  auto source = makeSource();
  SampleBatch out;
  auto result = scrape(*source, out);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->samples, out.samples.size());

  // pod-a: the annotated port and path, the declaring container.
  const auto a = select(out, "a_requests_total", {});
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]->value, 5);
  EXPECT_EQ(a[0]->labels.get("job"), "kubernetes-pods");
  EXPECT_EQ(a[0]->labels.get("instance"), pod_a_.instance());
  EXPECT_EQ(a[0]->labels.get("namespace"), "default");
  EXPECT_EQ(a[0]->labels.get("pod"), "pod-a");
  EXPECT_EQ(a[0]->labels.get("container"), "main");
  EXPECT_EQ(a[0]->labels.get("code"), "200");
  EXPECT_EQ(pod_a_.requests("/custom"), 1);
  EXPECT_EQ(pod_a_.requests("/metrics"), 0);

  // pod-b: the default path, its container port.
  const auto b = select(out, "b_temperature", {});
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0]->labels.get("job"), "kubernetes-pods");
  EXPECT_EQ(b[0]->labels.get("instance"), pod_b_.instance());
  EXPECT_EQ(b[0]->labels.get("namespace"), "web");
  EXPECT_EQ(b[0]->labels.get("pod"), "pod-b");
  EXPECT_EQ(b[0]->labels.get("container"), "app");
  // Only pod-b's target asked pod_b_'s server: not plain, remote or off.
  EXPECT_EQ(pod_b_.allRequests(), 1);

  // up and scrape_* per target, with the target's labels.
  const auto up = select(out, "up", {});
  ASSERT_EQ(up.size(), 2u);
  for (const Sample* s : up) EXPECT_EQ(s->value, 1) << s->labels.get("pod");
  ASSERT_EQ(select(out, "scrape_samples_scraped", {{"pod", "pod-b"}, {"container", "app"}}).size(),
            1u);
  EXPECT_EQ(select(out, "scrape_samples_scraped", {{"pod", "pod-b"}})[0]->value, 2);
  for (const char* pod : {"plain", "remote", "off"}) {
    EXPECT_TRUE(select(out, "", {{"pod", pod}}).empty()) << pod;
  }
  EXPECT_EQ(markerCount(out), 0u);
  EXPECT_EQ(registryValue(registry_, "kubemetrics_kubernetes_pods_targets"), 2);
  EXPECT_EQ(registryValue(registry_, "kubemetrics_kubernetes_pods_skipped_pods"), 0);
}

TEST_F(KubernetesPodsSourceTest, EveryContainerPortWithoutPortAnnotation) {
  kube_.setPod(makePod("default", "multi", kNode, "127.0.0.1", {{"prometheus.io/scrape", "true"}},
                       {{"app", {pod_b_.port()}}, {"sidecar", {pod_a_.port()}}}));
  auto source = makeSource();
  SampleBatch out;
  ASSERT_TRUE(scrape(*source, out));
  // pod_a_ serves /custom only: its target is up = 0 with a 404, as in
  // Prometheus, and pod_b_'s is scraped.
  const auto up_app = select(out, "up", {{"container", "app"}, {"instance", pod_b_.instance()}});
  const auto up_sidecar =
      select(out, "up", {{"container", "sidecar"}, {"instance", pod_a_.instance()}});
  ASSERT_EQ(up_app.size(), 1u);
  ASSERT_EQ(up_sidecar.size(), 1u);
  EXPECT_EQ(up_app[0]->value, 1);
  EXPECT_EQ(up_sidecar[0]->value, 0);
  EXPECT_EQ(pod_a_.requests("/metrics"), 1);
  EXPECT_EQ(select(out, "b_temperature", {{"pod", "multi"}, {"container", "app"}}).size(), 1u);
  EXPECT_EQ(registryValue(registry_, "kubemetrics_kubernetes_pods_targets"), 2);
  EXPECT_EQ(registryValue(registry_, "kubemetrics_kubernetes_pods_scrape_errors_total"), 1);
}

TEST_F(KubernetesPodsSourceTest, DeletedPodStopsBeingScrapedAndItsSeriesGoStale) {
  addAnnotatedPods();
  auto source = makeSource();
  SampleBatch first;
  ASSERT_TRUE(scrape(*source, first));
  ASSERT_EQ(pod_b_.allRequests(), 1);

  kube_.deletePod("web", "pod-b");
  SampleBatch second;
  ASSERT_TRUE(scrape(*source, second));
  EXPECT_EQ(pod_b_.allRequests(), 1) << "a deleted pod is not scraped";
  EXPECT_EQ(pod_a_.requests("/custom"), 2);
  EXPECT_EQ(source->targetKeysForTest().size(), 1u);
  EXPECT_EQ(registryValue(registry_, "kubemetrics_kubernetes_pods_targets"), 1);

  // One marker per series pod-b had: its two metrics, up and the four scrape_*.
  const auto markers = select(second, "", {{"pod", "pod-b"}}, /*markers=*/true);
  std::set<std::string> names;
  for (const Sample* s : markers) {
    names.emplace(s->name.view());
    EXPECT_EQ(s->labels.get("instance"), pod_b_.instance());
    EXPECT_EQ(s->labels.get("container"), "app");
    // The very label set of the samples before, so the backend ends those series.
    const auto before = select(first, s->name.view(), {{"pod", "pod-b"}});
    ASSERT_EQ(before.size(), 1u) << s->name.view();
    EXPECT_EQ(before[0]->labels, s->labels);
    EXPECT_GE(s->timestamp_ms, before[0]->timestamp_ms);
  }
  EXPECT_EQ(names, (std::set<std::string>{"b_temperature", "b_humidity", "up",
                                          "scrape_duration_seconds", "scrape_samples_scraped",
                                          "scrape_samples_post_metric_relabeling",
                                          "scrape_series_added"}));
  EXPECT_EQ(markers.size(), 7u);
  EXPECT_EQ(markerCount(second), 7u) << "pod-a's series are not marked";
  EXPECT_TRUE(select(second, "", {{"pod", "pod-b"}}).empty());

  // Marked once.
  SampleBatch third;
  ASSERT_TRUE(scrape(*source, third));
  EXPECT_EQ(markerCount(third), 0u);
  EXPECT_EQ(select(third, "up", {{"pod", "pod-a"}}).size(), 1u);
}

TEST_F(KubernetesPodsSourceTest, FollowsPodChangesAtTheNextScrape) {
  auto source = makeSource();
  SampleBatch empty;
  auto nothing = scrape(*source, empty);
  ASSERT_TRUE(nothing) << nothing.error().message();
  EXPECT_TRUE(empty.samples.empty());

  // Appears: one watch event, scraped at the next interval.
  addAnnotatedPods();
  SampleBatch added;
  ASSERT_TRUE(scrape(*source, added));
  EXPECT_EQ(select(added, "up", {}).size(), 2u);

  // pod-a's annotation now names pod_b_'s port: the old target goes (its
  // series marked), the new one is scraped.
  KubePod moved = *kube_.snapshot()->pod("default", "pod-a");
  moved.annotations["prometheus.io/port"] = pod_b_.portText();
  moved.annotations["prometheus.io/path"] = "/metrics";
  kube_.setPod(moved);
  SampleBatch changed;
  ASSERT_TRUE(scrape(*source, changed));
  EXPECT_EQ(select(changed, "a_requests_total", {{"pod", "pod-a"}}, true).size(), 1u);
  EXPECT_EQ(select(changed, "up", {{"pod", "pod-a"}, {"instance", pod_a_.instance()}}, true).size(),
            1u);
  const auto now_b = select(changed, "b_temperature", {{"pod", "pod-a"}});
  ASSERT_EQ(now_b.size(), 1u);
  EXPECT_EQ(now_b[0]->labels.get("instance"), pod_b_.instance());
  EXPECT_FALSE(now_b[0]->labels.contains("container"))
      << "no container of pod-a declares that port";

  // No longer annotated: it goes too.
  moved.annotations.erase("prometheus.io/scrape");
  kube_.setPod(moved);
  SampleBatch unannotated;
  ASSERT_TRUE(scrape(*source, unannotated));
  EXPECT_TRUE(select(unannotated, "", {{"pod", "pod-a"}}).empty());
  EXPECT_EQ(select(unannotated, "up", {{"pod", "pod-a"}}, true).size(), 1u);
  EXPECT_EQ(select(unannotated, "up", {{"pod", "pod-b"}}).size(), 1u);
}

TEST_F(KubernetesPodsSourceTest, NamespaceAllowAndDenyLists) {
  addAnnotatedPods();  // pod-a in default, pod-b in web
  kube_.setPod(makePod("kube-system", "dns", kNode, "127.0.0.1", {{"prometheus.io/scrape", "true"}},
                       {{"coredns", {pod_b_.port()}}}));
  KubernetesPodsConfig config = testConfig();
  config.namespaces.allow = {"web", "kube-system"};
  config.namespaces.deny = {"kube-system"};
  auto source = makeSource(config);
  SampleBatch out;
  ASSERT_TRUE(scrape(*source, out));
  const auto up = select(out, "up", {});
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0]->labels.get("namespace"), "web");
  EXPECT_EQ(pod_a_.allRequests(), 0);
  EXPECT_EQ(pod_b_.allRequests(), 1);
}

TEST_F(KubernetesPodsSourceTest, NothingBeforeTheFirstPodList) {
  FakeKubeMetadata unsynced;
  unsynced.setPod(makePod("default", "early", kNode, "127.0.0.1",
                          {{"prometheus.io/scrape", "true"}}, {{"app", {pod_b_.port()}}}));
  KubernetesPodsSource source(testConfig(), kNode, &unsynced, nullptr, nullptr);
  SampleBatch before;
  ASSERT_TRUE(source.scrape(before, deadlineIn(std::chrono::seconds(20))));
  EXPECT_TRUE(before.samples.empty());
  unsynced.setSynced(true);
  SampleBatch after;
  ASSERT_TRUE(source.scrape(after, deadlineIn(std::chrono::seconds(20))));
  EXPECT_EQ(select(after, "b_temperature", {{"pod", "early"}}).size(), 1u);
}

TEST_F(KubernetesPodsSourceTest, SkippedPodsAreCounted) {
  kube_.setPod(makePod("default", "portless", kNode, "127.0.0.1",
                       {{"prometheus.io/scrape", "true"}}, {{"app", {}}}));
  auto source = makeSource();
  SampleBatch out;
  ASSERT_TRUE(scrape(*source, out));
  EXPECT_TRUE(out.samples.empty());
  EXPECT_EQ(registryValue(registry_, "kubemetrics_kubernetes_pods_skipped_pods"), 1);
  EXPECT_EQ(registryValue(registry_, "kubemetrics_kubernetes_pods_targets"), 0);
}

TEST_F(KubernetesPodsSourceTest, OneHangingPodCannotStarveTheOthers) {
  kubemetrics::testing::BlackHole hanging;  // accepts, never answers
  // "aaa" sorts first: it is scraped first and may take only its share.
  kube_.setPod(makePod(
      "aaa", "hangs", kNode, "127.0.0.1",
      {{"prometheus.io/scrape", "true"}, {"prometheus.io/port", std::to_string(hanging.port())}}));
  kube_.setPod(makePod("web", "pod-b", kNode, "127.0.0.1", {{"prometheus.io/scrape", "true"}},
                       {{"app", {pod_b_.port()}}}));
  KubernetesPodsConfig config = testConfig();
  config.target.timeout = std::chrono::seconds(10);  // a timeout alone would eat the deadline
  auto source = makeSource(config);
  SampleBatch out;
  const auto began = SteadyClock::now();
  auto result = source->scrape(out, began + std::chrono::seconds(6));
  EXPECT_TRUE(result) << "one target of two failed: the source did not";
  EXPECT_LT(SteadyClock::now() - began, std::chrono::seconds(8));
  const auto up_hanging = select(out, "up", {{"pod", "hangs"}});
  const auto up_b = select(out, "up", {{"pod", "pod-b"}});
  ASSERT_EQ(up_hanging.size(), 1u);
  ASSERT_EQ(up_b.size(), 1u);
  EXPECT_EQ(up_hanging[0]->value, 0);
  EXPECT_EQ(up_b[0]->value, 1);
  // The hanging target had about half of the 6s, not its 10s timeout.
  const auto duration = select(out, "scrape_duration_seconds", {{"pod", "hangs"}});
  ASSERT_EQ(duration.size(), 1u);
  EXPECT_LT(duration[0]->value, 4.5);
}

TEST_F(KubernetesPodsSourceTest, FailsOnlyWhenEveryTargetFailed) {
  // Port 1 on 127.0.0.1 refuses every connection.
  kube_.setPod(makePod("default", "down", kNode, "127.0.0.1",
                       {{"prometheus.io/scrape", "true"}, {"prometheus.io/port", "1"}}));
  auto source = makeSource();
  SampleBatch out;
  auto result = scrape(*source, out);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message().find("all 1 pod targets failed"), std::string::npos)
      << result.error().message();
  const auto up = select(out, "up", {{"pod", "down"}});
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0]->value, 0);
}

}  // namespace
}  // namespace kubemetrics::scrapers::kubernetes_pods
