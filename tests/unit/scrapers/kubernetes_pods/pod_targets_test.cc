// discoverTargets(): which pods of a snapshot become which targets, as
// Prometheus' kubernetes_sd pod role with the `kubernetes-pods` relabelling
// (prometheus.io/scrape, scheme, path, port).
#include "scrapers/kubernetes_pods/pod_targets.h"

#include <gtest/gtest.h>

#include "unit/scrapers/kubernetes_pods/pod_test_util.h"

namespace kubemetrics::scrapers::kubernetes_pods {
namespace {

const std::map<std::string, std::string, std::less<>> kScrape = {{"prometheus.io/scrape", "true"}};

std::vector<std::string> urls(const Discovery& d) {
  std::vector<std::string> out;
  for (const PodTarget& t : d.targets) out.push_back(t.url);
  return out;
}

TEST(PodTargetsTest, OnlyAnnotatedRunningPodsOfThisNodeWithAnIp) {
  KubePod done = makePod("default", "done", "node-1", "10.0.0.5", kScrape, {{"c", {80}}});
  done.phase = "Succeeded";
  KubePod failed = makePod("default", "failed", "node-1", "10.0.0.6", kScrape, {{"c", {80}}});
  failed.phase = "Failed";
  KubePod pending = makePod("default", "pending", "node-1", "10.0.0.7", kScrape, {{"c", {80}}});
  pending.phase = "Pending";
  const KubeSnapshot snapshot = snapshotOf({
      makePod("default", "web", "node-1", "10.0.0.1", kScrape, {{"app", {8080}}}),
      makePod("default", "plain", "node-1", "10.0.0.2", {}, {{"app", {8080}}}),
      makePod("default", "off", "node-1", "10.0.0.3", {{"prometheus.io/scrape", "false"}},
              {{"app", {8080}}}),
      makePod("default", "True", "node-1", "10.0.0.4", {{"prometheus.io/scrape", "True"}},
              {{"app", {8080}}}),
      makePod("default", "elsewhere", "node-2", "10.0.1.1", kScrape, {{"app", {8080}}}),
      makePod("default", "no-ip", "node-1", "", kScrape, {{"app", {8080}}}),
      done,
      failed,
      pending,
  });
  const Discovery d = discoverTargets(snapshot, "node-1", {});
  EXPECT_EQ(urls(d), (std::vector<std::string>{"http://10.0.0.7:80/metrics",
                                               "http://10.0.0.1:8080/metrics"}));
  EXPECT_TRUE(d.skipped.empty());
  ASSERT_EQ(d.targets.size(), 2u);
  const PodTarget& web = d.targets[1];
  EXPECT_EQ(web.namespace_name, "default");
  EXPECT_EQ(web.pod, "web");
  EXPECT_EQ(web.container, "app");
}

TEST(PodTargetsTest, SchemePathAndPortAnnotations) {
  const KubeSnapshot snapshot = snapshotOf({
      makePod("default", "a", "n", "10.0.0.1",
              {{"prometheus.io/scrape", "true"},
               {"prometheus.io/scheme", "https"},
               {"prometheus.io/path", "/stats/prometheus"},
               {"prometheus.io/port", "9090"}},
              {{"app", {8080}}, {"exporter", {9090}}}),
      // A path without its slash still is one; an undeclared port has no container.
      makePod("default", "b", "n", "10.0.0.2",
              {{"prometheus.io/scrape", "true"},
               {"prometheus.io/path", "metrics"},
               {"prometheus.io/port", "7000"}},
              {{"app", {8080}}}),
  });
  const Discovery d = discoverTargets(snapshot, "n", {});
  ASSERT_EQ(d.targets.size(), 2u);
  EXPECT_EQ(d.targets[0].url, "https://10.0.0.1:9090/stats/prometheus");
  EXPECT_EQ(d.targets[0].container, "exporter");
  EXPECT_EQ(d.targets[1].url, "http://10.0.0.2:7000/metrics");
  EXPECT_EQ(d.targets[1].container, "");
}

TEST(PodTargetsTest, WithoutPortAnnotationEveryDeclaredTcpPort) {
  KubePod pod = makePod("default", "multi", "n", "10.0.0.1", kScrape,
                        {{"app", {8080, 8081}}, {"sidecar", {9100, 8080}}});
  pod.containers[1].ports.push_back(KubeContainerPort{"dns", 53, "UDP"});
  const Discovery d = discoverTargets(snapshotOf({pod}), "n", {});
  std::vector<std::pair<std::string, std::string>> got;
  for (const PodTarget& t : d.targets) got.emplace_back(t.url, t.container);
  // Sorted by key (namespace/pod, container, URL); 8080 once, UDP left out.
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{
                     {"http://10.0.0.1:8080/metrics", "app"},
                     {"http://10.0.0.1:8081/metrics", "app"},
                     {"http://10.0.0.1:9100/metrics", "sidecar"}}));
}

TEST(PodTargetsTest, IPv6PodIpIsBracketed) {
  const Discovery d = discoverTargets(
      snapshotOf({makePod("default", "v6", "n", "fd00::17", kScrape, {{"app", {8080}}})}), "n", {});
  EXPECT_EQ(urls(d), std::vector<std::string>{"http://[fd00::17]:8080/metrics"});
}

TEST(PodTargetsTest, MisconfiguredPodsAreSkippedWithAReason) {
  auto annotated = [](std::string key, std::string value) {
    return std::map<std::string, std::string, std::less<>>{{"prometheus.io/scrape", "true"},
                                                           {std::move(key), std::move(value)}};
  };
  const KubeSnapshot snapshot = snapshotOf({
      makePod("default", "no-port", "n", "10.0.0.1", kScrape, {{"app", {}}}),
      makePod("default", "bad-port", "n", "10.0.0.2", annotated("prometheus.io/port", "http"),
              {{"app", {8080}}}),
      makePod("default", "big-port", "n", "10.0.0.3", annotated("prometheus.io/port", "70000"),
              {{"app", {8080}}}),
      makePod("default", "bad-scheme", "n", "10.0.0.4", annotated("prometheus.io/scheme", "ftp"),
              {{"app", {8080}}}),
      makePod("default", "bad-path", "n", "10.0.0.5",
              annotated("prometheus.io/path", "/metrics?x=1"), {{"app", {8080}}}),
  });
  const Discovery d = discoverTargets(snapshot, "n", {});
  EXPECT_TRUE(d.targets.empty());
  std::map<std::string, std::string> reasons;
  for (const SkippedPod& s : d.skipped) reasons[s.pod] = s.reason;
  ASSERT_EQ(reasons.size(), 5u);
  EXPECT_NE(reasons["default/no-port"].find("no TCP container port"), std::string::npos);
  EXPECT_NE(reasons["default/bad-port"].find("\"http\""), std::string::npos);
  EXPECT_NE(reasons["default/big-port"].find("\"70000\""), std::string::npos);
  EXPECT_NE(reasons["default/bad-scheme"].find("\"ftp\""), std::string::npos);
  EXPECT_NE(reasons["default/bad-path"].find("prometheus.io/path"), std::string::npos);
}

TEST(PodTargetsTest, NamespaceAllowAndDeny) {
  const KubeSnapshot snapshot = snapshotOf({
      makePod("team-a", "p", "n", "10.0.0.1", kScrape, {{"app", {80}}}),
      makePod("team-b", "p", "n", "10.0.0.2", kScrape, {{"app", {80}}}),
      makePod("kube-system", "p", "n", "10.0.0.3", kScrape, {{"app", {80}}}),
  });
  auto namespaces = [&](const NamespaceFilter& filter) {
    std::vector<std::string> out;
    for (const PodTarget& t : discoverTargets(snapshot, "n", filter).targets) {
      out.push_back(t.namespace_name);
    }
    return out;
  };
  EXPECT_EQ(namespaces({}), (std::vector<std::string>{"kube-system", "team-a", "team-b"}));
  EXPECT_EQ(namespaces({{"team-a", "kube-system"}, {"kube-system"}}),
            std::vector<std::string>{"team-a"});
  EXPECT_EQ(namespaces({{}, {"kube-system"}}), (std::vector<std::string>{"team-a", "team-b"}));
}

}  // namespace
}  // namespace kubemetrics::scrapers::kubernetes_pods
