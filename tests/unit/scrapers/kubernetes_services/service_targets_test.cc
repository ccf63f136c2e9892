// discoverTargets: which endpoints of which Services become targets, with
// which URL and labels (pure function over a KubeServiceSnapshot).
#include "scrapers/kubernetes_services/service_targets.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kubemetrics::scrapers::kubernetes_services {
namespace {

using Annotations = std::map<std::string, std::string, std::less<>>;

void addService(KubeServiceSnapshot& s, const std::string& ns, const std::string& name,
                Annotations annotations) {
  s.services[ns + "/" + name] =
      std::make_shared<const KubeService>(KubeService{ns, name, std::move(annotations)});
}

KubeEndpoint endpoint(const std::string& address, const std::string& pod, bool ready = true) {
  return KubeEndpoint{{address}, ready, "node-a", pod.empty() ? "" : "Pod", "shop", pod};
}

void addSlice(KubeServiceSnapshot& s, const std::string& ns, const std::string& name,
              const std::string& service, std::vector<KubeEndpointPort> ports,
              std::vector<KubeEndpoint> endpoints) {
  KubeEndpointSlice slice{ns, name, service, "IPv4", std::move(ports), std::move(endpoints)};
  s.slices[ns + "/" + name] = std::make_shared<const KubeEndpointSlice>(std::move(slice));
}

std::vector<std::string> urls(const Discovery& found) {
  std::vector<std::string> out;
  for (const EndpointTarget& t : found.targets) out.push_back(t.url);
  return out;
}

TEST(ServiceTargetsTest, EveryReadyEndpointOfAnAnnotatedServiceIsATarget) {
  KubeServiceSnapshot s;
  addService(s, "shop", "web", {{"prometheus.io/scrape", "true"}});
  addSlice(s, "shop", "web-abc", "web", {{"http", 8080, "TCP"}},
           {endpoint("10.0.0.1", "web-0"), endpoint("10.0.0.2", "web-1"),
            endpoint("10.0.0.3", "web-2"), endpoint("10.0.0.4", "web-3", /*ready=*/false)});
  const Discovery found = discoverTargets(s, {});
  EXPECT_EQ(urls(found), (std::vector<std::string>{"http://10.0.0.1:8080/metrics",
                                                   "http://10.0.0.2:8080/metrics",
                                                   "http://10.0.0.3:8080/metrics"}));
  ASSERT_EQ(found.targets.size(), 3u);
  EXPECT_EQ(found.targets[1].namespace_name, "shop");
  EXPECT_EQ(found.targets[1].service, "web");
  EXPECT_EQ(found.targets[1].pod, "web-1");
  EXPECT_TRUE(found.skipped.empty());
}

TEST(ServiceTargetsTest, AnnotationsGiveSchemePathAndPortAndSlicesOfOtherServicesDoNotCount) {
  KubeServiceSnapshot s;
  addService(s, "shop", "api",
             {{"prometheus.io/scrape", "true"},
              {"prometheus.io/scheme", "https"},
              {"prometheus.io/path", "stats"},
              {"prometheus.io/port", "9090"}});
  addService(s, "shop", "plain", {});                                 // not annotated
  addService(s, "shop", "off", {{"prometheus.io/scrape", "false"}});  // not "true"
  addService(s, "other", "api", {{"prometheus.io/scrape", "true"}});  // same name, no slices
  // Two ports: with prometheus.io/port the endpoint is one target.
  addSlice(s, "shop", "api-1", "api", {{"http", 8080, "TCP"}, {"grpc", 9000, "TCP"}},
           {endpoint("fd00::1", "api-0")});
  addSlice(s, "shop", "plain-1", "plain", {{"http", 80, "TCP"}}, {endpoint("10.0.1.1", "p")});
  addSlice(s, "shop", "off-1", "off", {{"http", 80, "TCP"}}, {endpoint("10.0.1.2", "o")});
  // An endpoint without a Pod behind it (a manual slice) has no pod label.
  addSlice(s, "shop", "api-2", "api", {{"http", 8080, "TCP"}}, {endpoint("10.0.2.1", "")});
  const Discovery found = discoverTargets(s, {});
  EXPECT_EQ(urls(found), (std::vector<std::string>{"https://10.0.2.1:9090/stats",
                                                   "https://[fd00::1]:9090/stats"}));
  ASSERT_EQ(found.targets.size(), 2u);
  EXPECT_EQ(found.targets[0].pod, "");
}

TEST(ServiceTargetsTest, WithoutPortAnnotationEachTcpPortOfTheSliceIsATarget) {
  KubeServiceSnapshot s;
  addService(s, "shop", "web", {{"prometheus.io/scrape", "true"}});
  addSlice(s, "shop", "web-1", "web",
           {{"http", 8080, "TCP"}, {"dns", 53, "UDP"}, {"all", 0, "TCP"}, {"admin", 9000, ""}},
           {endpoint("10.0.0.1", "web-0")});
  EXPECT_EQ(
      urls(discoverTargets(s, {})),
      (std::vector<std::string>{"http://10.0.0.1:8080/metrics", "http://10.0.0.1:9000/metrics"}));
}

TEST(ServiceTargetsTest, InvalidAnnotationsAndFilteredNamespacesAreSkipped) {
  KubeServiceSnapshot s;
  addService(s, "shop", "bad-port",
             {{"prometheus.io/scrape", "true"}, {"prometheus.io/port", "x"}});
  addService(s, "kube-system", "dns", {{"prometheus.io/scrape", "true"}});
  addSlice(s, "shop", "bad-port-1", "bad-port", {{"http", 80, "TCP"}}, {endpoint("10.0.0.1", "a")});
  addSlice(s, "kube-system", "dns-1", "dns", {{"m", 9153, "TCP"}}, {endpoint("10.0.0.2", "b")});
  scrape::NamespaceFilter filter;
  filter.deny = {"kube-system"};
  const Discovery found = discoverTargets(s, filter);
  EXPECT_TRUE(found.targets.empty());
  ASSERT_EQ(found.skipped.size(), 1u);
  EXPECT_EQ(found.skipped[0].service, "shop/bad-port");
  EXPECT_NE(found.skipped[0].reason.find("prometheus.io/port"), std::string::npos);
  EXPECT_EQ(discoverTargets(s, {}).targets.size(), 1u) << "kube-system allowed by default";
}

}  // namespace
}  // namespace kubemetrics::scrapers::kubernetes_services
