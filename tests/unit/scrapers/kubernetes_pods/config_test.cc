// sources.kubernetes_pods: defaults, every key, the errors a user can make,
// and the factory's use of the Kubernetes API (asked for only when the
// source runs).
#include "scrapers/kubernetes_pods/config.h"

#include <gtest/gtest.h>

#include <string>

#include "common/config/config_document.h"
#include "kubemetrics/component.h"
#include "support/component_context.h"
#include "support/config_errors.h"

namespace kubemetrics::scrapers::kubernetes_pods {

SourceFactory buildSources;

namespace {

struct Parsed {
  std::shared_ptr<ConfigDocument> doc;
  KubernetesPodsConfig config;
};

Parsed parse(std::string_view yaml) {
  Parsed p{ConfigDocument::parse(yaml, "test.yaml"), {}};
  ConfigNode node = p.doc->root().child("sources").child("kubernetes_pods");
  p.config = parseKubernetesPodsConfig(node);
  return p;
}

using testing::errorTexts;

// Whether some error names `path` and contains `text`.
bool hasError(const ConfigDocument& doc, const std::string& path, const std::string& text) {
  for (const std::string& e : errorTexts(doc)) {
    if (e.find(path) != std::string::npos && e.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(KubernetesPodsConfigTest, DefaultsWhenAbsent) {
  const Parsed p = parse("cluster: c\n");
  EXPECT_TRUE(p.doc->errors().empty()) << ::testing::PrintToString(errorTexts(*p.doc));
  EXPECT_FALSE(p.config.enabled);
  EXPECT_EQ(p.config.interval, std::chrono::seconds(30));
  EXPECT_EQ(p.config.target.interval, std::chrono::seconds(30));
  EXPECT_EQ(p.config.target.timeout, std::chrono::seconds(10));
  EXPECT_TRUE(p.config.namespaces.allow.empty());
  EXPECT_TRUE(p.config.namespaces.deny.empty());
  const scrape::TargetConfig defaults;
  EXPECT_FALSE(p.config.target.honor_labels);
  EXPECT_EQ(p.config.target.bearer_token_file, "");
  EXPECT_EQ(p.config.target.ca_file, "");
  EXPECT_FALSE(p.config.target.insecure_skip_verify);
  EXPECT_EQ(p.config.target.max_body_bytes, defaults.max_body_bytes);
  EXPECT_EQ(p.config.target.max_samples, defaults.max_samples);
  EXPECT_EQ(p.config.target.max_samples, 200'000u);  // as docs/configuration.md says
  EXPECT_EQ(p.config.target.max_labels, defaults.max_labels);
  EXPECT_EQ(p.config.target.max_line_bytes, defaults.max_line_bytes);
}

TEST(KubernetesPodsConfigTest, ReadsEveryKey) {
  const Parsed p = parse(R"(
sources:
  kubernetes_pods:
    enabled: true
    interval: 15s
    timeout: 5s
    namespaces: {allow: [default, team-a], deny: [kube-system]}
    honor_labels: true
    bearer_token_file: /tmp/token
    tls: {ca_file: /tmp/ca.pem, insecure_skip_verify: true}
    max_body_bytes: 8MiB
    max_samples: 5000
    max_labels: 64
    max_line_bytes: 64KiB
)");
  EXPECT_TRUE(p.doc->errors().empty()) << ::testing::PrintToString(errorTexts(*p.doc));
  EXPECT_TRUE(p.config.enabled);
  EXPECT_EQ(p.config.interval, std::chrono::seconds(15));
  EXPECT_EQ(p.config.target.interval, std::chrono::seconds(15));
  EXPECT_EQ(p.config.target.timeout, std::chrono::seconds(5));
  EXPECT_EQ(p.config.namespaces.allow, (std::vector<std::string>{"default", "team-a"}));
  EXPECT_EQ(p.config.namespaces.deny, (std::vector<std::string>{"kube-system"}));
  EXPECT_TRUE(p.config.target.honor_labels);
  EXPECT_EQ(p.config.target.bearer_token_file, "/tmp/token");
  EXPECT_EQ(p.config.target.ca_file, "/tmp/ca.pem");
  EXPECT_TRUE(p.config.target.insecure_skip_verify);
  EXPECT_EQ(p.config.target.max_body_bytes, 8u << 20);
  EXPECT_EQ(p.config.target.max_samples, 5000u);
  EXPECT_EQ(p.config.target.max_labels, 64u);
  EXPECT_EQ(p.config.target.max_line_bytes, 64u << 10);
}

TEST(KubernetesPodsConfigTest, UnsetTimeoutIsCappedAtAShortInterval) {
  const Parsed p = parse("sources:\n  kubernetes_pods: {interval: 5s}\n");
  EXPECT_TRUE(p.doc->errors().empty()) << ::testing::PrintToString(errorTexts(*p.doc));
  EXPECT_EQ(p.config.target.timeout, std::chrono::seconds(5));
}

TEST(KubernetesPodsConfigTest, ReportsEveryError) {
  const Parsed p = parse(R"(
sources:
  kubernetes_pods:
    interval: 0s
    timeout: 1m
    namespaces: {allow: [Team_A, web], deny: [web, "*"], include: [x]}
    tls: {verify: false}
    max_labels: 0
    url: http://x
)");
  const ConfigDocument& doc = *p.doc;
  EXPECT_TRUE(hasError(doc, "sources.kubernetes_pods.interval", ""))
      << ::testing::PrintToString(errorTexts(doc));
  EXPECT_TRUE(hasError(doc, "sources.kubernetes_pods.timeout", "must not exceed interval"));
  EXPECT_TRUE(hasError(doc, "sources.kubernetes_pods.namespaces.allow", "\"Team_A\""));
  EXPECT_TRUE(hasError(doc, "sources.kubernetes_pods.namespaces.deny", "\"*\""));
  EXPECT_TRUE(hasError(doc, "sources.kubernetes_pods.namespaces.deny", "\"web\" is in allow too"));
  EXPECT_TRUE(hasError(doc, "sources.kubernetes_pods.namespaces.include", "unknown"));
  EXPECT_TRUE(hasError(doc, "sources.kubernetes_pods.tls.verify", "unknown"));
  EXPECT_TRUE(hasError(doc, "sources.kubernetes_pods.max_labels", ""));
  EXPECT_TRUE(hasError(doc, "sources.kubernetes_pods.url", "unknown"));
  EXPECT_EQ(doc.errors().size(), 9u) << ::testing::PrintToString(errorTexts(doc));
}

TEST(KubernetesPodsConfigTest, NamespaceFilterDenyWinsAndEmptyAllowAllowsAll) {
  NamespaceFilter all;
  EXPECT_TRUE(all.allows("default"));
  NamespaceFilter filter{{"a", "b"}, {"b"}};
  EXPECT_TRUE(filter.allows("a"));
  EXPECT_FALSE(filter.allows("b"));
  EXPECT_FALSE(filter.allows("c"));
  NamespaceFilter deny_only{{}, {"kube-system"}};
  EXPECT_TRUE(deny_only.allows("default"));
  EXPECT_FALSE(deny_only.allows("kube-system"));
}

// The factory over `yaml` (the subtree under sources.kubernetes_pods).
Result<std::vector<SourcePtr>> build(const std::string& yaml, const ComponentContext* context,
                                     std::vector<std::string>* errors = nullptr) {
  auto doc = ConfigDocument::parse("sources:\n  kubernetes_pods: " + yaml + "\n", "test");
  ConfigNode node = doc->root().child("sources").child("kubernetes_pods");
  auto built = buildSources(node, context);
  if (errors != nullptr) *errors = errorTexts(*doc);
  return built;
}

TEST(KubernetesPodsFactoryTest, DisabledOrCheckingNeverAsksForTheApi) {
  testing::TestComponentContext ctx;
  testing::FakeKubeMetadata kube;
  ctx.kube.metadata = &kube;
  ctx.agent.role = "node";
  auto disabled = build("{}", &ctx.context);
  ASSERT_TRUE(disabled) << disabled.error().message();
  EXPECT_TRUE(disabled->empty());
  auto checked = build("{enabled: true}", nullptr);
  ASSERT_TRUE(checked) << checked.error().message();
  EXPECT_TRUE(checked->empty());
  EXPECT_TRUE(ctx.kube.acquired_by.empty());
}

TEST(KubernetesPodsFactoryTest, EnabledOnANodeAcquiresTheApi) {
  testing::TestComponentContext ctx;
  testing::FakeKubeMetadata kube;
  ctx.kube.metadata = &kube;
  ctx.agent.role = "node";
  ctx.agent.node = "node-1";
  auto built = build("{enabled: true, interval: 10s}", &ctx.context);
  ASSERT_TRUE(built) << built.error().message();
  ASSERT_EQ(built->size(), 1u);
  EXPECT_EQ((*built)[0]->name(), "kubernetes_pods");
  EXPECT_EQ((*built)[0]->interval(), std::chrono::seconds(10));
  EXPECT_EQ(ctx.kube.acquired_by, std::vector<std::string>{"sources.kubernetes_pods"});
}

TEST(KubernetesPodsFactoryTest, WithoutTheApiStartUpFailsNamingTheKey) {
  testing::TestComponentContext ctx;  // its provider has no metadata
  ctx.agent.role = "node";
  auto built = build("{enabled: true}", &ctx.context);
  ASSERT_FALSE(built);
  EXPECT_NE(built.error().message().find("sources.kubernetes_pods.enabled"), std::string::npos)
      << built.error().message();
  EXPECT_NE(built.error().message().find("Kubernetes API"), std::string::npos);
}

TEST(KubernetesPodsFactoryTest, TheClusterReplicaSkipsIt) {
  testing::TestComponentContext ctx;
  testing::FakeKubeMetadata kube;
  ctx.kube.metadata = &kube;
  ctx.agent.role = "cluster";
  auto built = build("{enabled: true}", &ctx.context);
  ASSERT_TRUE(built) << built.error().message();
  EXPECT_TRUE(built->empty());
  EXPECT_TRUE(ctx.kube.acquired_by.empty());
}

}  // namespace
}  // namespace kubemetrics::scrapers::kubernetes_pods
