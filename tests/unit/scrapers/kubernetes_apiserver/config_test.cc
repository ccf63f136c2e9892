// sources.kubernetes_apiserver: its errors with their YAML key path, and
// the sharding of its one target.
#include <gtest/gtest.h>

#include <string>

#include "common/config/config_document.h"
#include "kubemetrics/component.h"
#include "support/component_context.h"
#include "support/config_errors.h"

namespace kubemetrics::scrapers::kubernetes_apiserver {
SourceFactory buildSources;
}  // namespace kubemetrics::scrapers::kubernetes_apiserver

namespace kubemetrics {
namespace {

using testing::errorTexts;

TEST(KubernetesApiserverConfigTest, ErrorsCarryTheYamlPath) {
  const auto errors = testing::sourceFactoryErrors(
      &scrapers::kubernetes_apiserver::buildSources, "kubernetes_apiserver",
      "sources:\n  kubernetes_apiserver: {enabled: yes please, interval: 10s, "
      "timeout: 20s, url: x}\n");
  ASSERT_EQ(errors.size(), 3u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0].rfind("sources.kubernetes_apiserver.enabled: ", 0), 0u) << errors[0];
  EXPECT_EQ(errors[1],
            "sources.kubernetes_apiserver.timeout: must not exceed interval (20s > 10s)");
  EXPECT_EQ(errors[2].rfind("sources.kubernetes_apiserver.url: unknown key", 0), 0u) << errors[2];
}

TEST(KubernetesApiserverFactoryTest, OneReplicaOfTheShardsScrapesIt) {
  int built = 0;
  for (int shard = 0; shard < 3; ++shard) {
    testing::TestComponentContext test;
    test.agent.role = "cluster";
    test.agent.shard = shard;
    test.agent.total_shards = 3;
    test.kube.access = KubeApiAccess{"https://10.96.0.1:443", "/token", "/ca.crt", false};
    auto doc = ConfigDocument::parse("{enabled: true}", "t");
    ConfigNode node = doc->root();
    auto sources = scrapers::kubernetes_apiserver::buildSources(node, &test.context);
    ASSERT_TRUE(sources) << sources.error().message();
    built += static_cast<int>(sources->size());
  }
  EXPECT_EQ(built, 1);
}

}  // namespace
}  // namespace kubemetrics
