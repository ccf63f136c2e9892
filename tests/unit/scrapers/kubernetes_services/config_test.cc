// sources.kubernetes_services: defaults,
// the errors a user can make (each with its YAML key path), and the
// factory's use of the Kubernetes API (asked for only when the source
// runs, with role: cluster).
#include <gtest/gtest.h>

#include <string>

#include "common/config/config_document.h"
#include "common/scrape/discovery_config.h"
#include "kubemetrics/component.h"
#include "support/component_context.h"
#include "support/config_errors.h"

namespace kubemetrics::scrapers::kubernetes_services {
SourceFactory buildSources;
}  // namespace kubemetrics::scrapers::kubernetes_services

namespace kubemetrics {
namespace {

using testing::errorTexts;

TEST(KubernetesServicesConfigTest, ErrorsCarryTheYamlPath) {
  const auto errors = testing::sourceFactoryErrors(
      &scrapers::kubernetes_services::buildSources, "kubernetes_services",
      "sources:\n  kubernetes_services:\n    enabled: true\n"
      "    interval: 5s\n    timeout: 10s\n"
      "    namespaces: {allow: [Shop_1]}\n    portt: 1\n");
  EXPECT_EQ(errors,
            (std::vector<std::string>{
                "sources.kubernetes_services.timeout: must not exceed interval (10s > 5s)",
                "sources.kubernetes_services.namespaces.allow: \"Shop_1\" is not a namespace name "
                "(lowercase letters, digits and '-', at most 63, exact names, no patterns)",
                "sources.kubernetes_services.portt: unknown key"}))
      << ::testing::PrintToString(errors);
}

TEST(KubernetesServicesConfigTest, DefaultsValidate) {
  EXPECT_TRUE(testing::sourceFactoryErrors(&scrapers::kubernetes_services::buildSources,
                                           "kubernetes_services", "cluster: c\n")
                  .empty());
  auto doc = ConfigDocument::parse("{}", "t");
  ConfigNode node = doc->root();
  const scrape::DiscoveryConfig config = scrape::parseDiscoveryConfig(node);
  EXPECT_FALSE(config.enabled);
  EXPECT_EQ(config.interval, std::chrono::seconds(30));
}

TEST(KubernetesServicesFactoryTest, AsksForTheApiOnlyWhenItRunsInTheClusterRole) {
  testing::TestComponentContext test;
  testing::FakeServiceCatalog catalog;
  test.kube.services = &catalog;
  auto run = [&](const std::string& role, const std::string& yaml) {
    test.agent.role = role;
    auto doc = ConfigDocument::parse(yaml, "t");
    ConfigNode node = doc->root();
    return scrapers::kubernetes_services::buildSources(node, &test.context);
  };
  auto off = run("cluster", "{enabled: false}");
  ASSERT_TRUE(off);
  EXPECT_TRUE(off->empty());
  auto node_role = run("node", "{enabled: true}");
  ASSERT_TRUE(node_role);
  EXPECT_TRUE(node_role->empty());
  EXPECT_TRUE(test.kube.acquired_by.empty());
  auto cluster = run("cluster", "{enabled: true}");
  ASSERT_TRUE(cluster);
  EXPECT_EQ(cluster->size(), 1u);
  EXPECT_EQ(test.kube.acquired_by, std::vector<std::string>{"sources.kubernetes_services"});
  // Without an API: a start-up error naming the key.
  test.kube.services = nullptr;
  auto missing = run("cluster", "{enabled: true}");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message().rfind("enabled: needs the Kubernetes API", 0), 0u)
      << missing.error().message();
}

}  // namespace
}  // namespace kubemetrics
