#include "scrapers/ec2/config.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <stdlib.h>

#include <map>

#include "common/config/config_document.h"
#include "kubemetrics/component.h"
#include "scrapers/ec2/ec2_source.h"
#include "support/component_context.h"
#include "support/scoped_env.h"

namespace kubemetrics::scrapers::ec2 {
namespace {

using std::chrono::milliseconds;

struct Parsed {
  std::shared_ptr<ConfigDocument> doc;
  Ec2Config config;
  std::vector<std::string> errors;
};

Parsed parse(std::string_view yaml, std::map<std::string, std::string> env = {}) {
  Parsed p{ConfigDocument::parse(yaml, "test.yaml"), {}, {}};
  ConfigNode node = p.doc->root().child("sources").child("ec2");
  p.config = parseEc2Config(node, [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  for (const ConfigError& e : p.doc->errors()) p.errors.push_back(e.toString());
  return p;
}

TEST(Ec2ConfigTest, DefaultsWhenAbsent) {
  const Parsed p = parse("cluster: c\n");
  EXPECT_TRUE(p.errors.empty()) << ::testing::PrintToString(p.errors);
  EXPECT_EQ(p.config.enabled, EnabledMode::kAuto);
  EXPECT_EQ(p.config.endpoint, "http://169.254.169.254");
  EXPECT_TRUE(p.config.defaultEndpoint());
  EXPECT_FALSE(p.config.endpoint_from_env);
  EXPECT_FALSE(p.config.disabled_by_env);
  EXPECT_EQ(p.config.tags, (std::vector<std::string>{"instance_id", "instance_type",
                                                     "availability_zone", "region", "account_id"}));
  EXPECT_EQ(p.config.spot_interval, milliseconds(5000));
  EXPECT_EQ(p.config.metadata_interval, milliseconds(60000));
  EXPECT_EQ(p.config.timeout, milliseconds(300));
  EXPECT_EQ(p.config.token_ttl, std::chrono::seconds(21600));
}

TEST(Ec2ConfigTest, ReadsEveryKey) {
  const Parsed p = parse(R"(
sources:
  ec2:
    enabled: true
    endpoint: http://127.0.0.1:8080/
    tags: [instance_id, image_id]
    spot_interval: 2s
    metadata_interval: 30s
    timeout: 150ms
    token_ttl: 1m
)");
  EXPECT_TRUE(p.errors.empty()) << ::testing::PrintToString(p.errors);
  EXPECT_EQ(p.config.enabled, EnabledMode::kTrue);
  EXPECT_EQ(p.config.endpoint, "http://127.0.0.1:8080");
  EXPECT_FALSE(p.config.defaultEndpoint());
  EXPECT_EQ(p.config.tags, (std::vector<std::string>{"instance_id", "image_id"}));
  EXPECT_EQ(p.config.spot_interval, milliseconds(2000));
  EXPECT_EQ(p.config.metadata_interval, milliseconds(30000));
  EXPECT_EQ(p.config.timeout, milliseconds(150));
  EXPECT_EQ(p.config.token_ttl, std::chrono::seconds(60));
  EXPECT_EQ(parse("sources: {ec2: {enabled: false}}").config.enabled, EnabledMode::kFalse);
}

TEST(Ec2ConfigTest, EnvironmentOverridesAndDisablesAsTheAwsSdks) {
  const Parsed p = parse("sources: {ec2: {endpoint: \"http://127.0.0.1:1\"}}",
                         {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:2/"}});
  EXPECT_TRUE(p.errors.empty()) << ::testing::PrintToString(p.errors);
  EXPECT_EQ(p.config.configured_endpoint, "http://127.0.0.1:1");
  EXPECT_EQ(p.config.endpoint, "http://127.0.0.1:2");
  EXPECT_TRUE(p.config.endpoint_from_env);
  EXPECT_EQ(parse("", {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", ""}}).config.endpoint,
            "http://169.254.169.254");
  EXPECT_TRUE(parse("", {{"AWS_EC2_METADATA_DISABLED", "TRUE"}}).config.disabled_by_env);
  EXPECT_TRUE(parse("", {{"AWS_EC2_METADATA_DISABLED", "true"}}).config.disabled_by_env);
  EXPECT_FALSE(parse("", {{"AWS_EC2_METADATA_DISABLED", "1"}}).config.disabled_by_env);
  const Parsed bad = parse("", {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "https://x"}});
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0],
            "sources.ec2.endpoint: AWS_EC2_METADATA_SERVICE_ENDPOINT: expected http://host[:port] "
            "(got \"https://x\")");
}

TEST(Ec2ConfigTest, ReportsEveryErrorWithItsPath) {
  const Parsed p = parse(R"(
sources:
  ec2:
    enabled: maybe
    endpoint: http://169.254.169.254/latest
    tags: [instance_id, hostname, instance_id]
    timeout: 30s
    token_ttl: 1500ms
    spot_intervall: 1s
)");
  EXPECT_EQ(p.errors,
            (std::vector<std::string>{
                "sources.ec2.enabled: expected one of auto, true, false (got \"maybe\")",
                "sources.ec2.endpoint: expected http://host[:port] without a path (got "
                "\"http://169.254.169.254/latest\")",
                "sources.ec2.tags[1]: expected one of instance_id, instance_type, "
                "availability_zone, region, account_id, image_id, architecture, private_ip (got "
                "\"hostname\")",
                "sources.ec2.tags[2]: duplicate tag \"instance_id\"",
                "sources.ec2.timeout: must be at most 10s (got 30000ms)",
                "sources.ec2.token_ttl: must be whole seconds between 1s and 6h (got 1500ms)",
                "sources.ec2.spot_intervall: unknown key (did you mean \"spot_interval\"?)"}));
  EXPECT_EQ(p.config.timeout, milliseconds(300));
}

using Context = testing::TestComponentContext;
using testing::ScopedEnv;

std::vector<SourcePtr> build(std::string_view yaml, Context& ctx) {
  auto doc = ConfigDocument::parse(yaml, "test.yaml");
  ConfigNode node = doc->root().child("sources").child("ec2");
  auto built = buildSources(node, &ctx.context);
  EXPECT_TRUE(built);
  EXPECT_TRUE(doc->errors().empty());
  return built ? std::move(*built) : std::vector<SourcePtr>{};
}

// The safety net of every test and default run: nothing may reach
// 169.254.169.254. These build sources without scraping them, and check
// where they would go before any request is made.
TEST(Ec2FactoryTest, ResolvedEndpointIsKnownBeforeAnyRequest) {
  ScopedEnv disabled("AWS_EC2_METADATA_DISABLED", nullptr);
  {
    ScopedEnv endpoint("AWS_EC2_METADATA_SERVICE_ENDPOINT", nullptr);
    Context ctx;
    auto sources = build("sources: {ec2: {endpoint: \"http://127.0.0.1:9\"}}", ctx);
    ASSERT_EQ(sources.size(), 1u);
    auto* ec2 = dynamic_cast<Ec2Source*>(sources[0].get());
    ASSERT_NE(ec2, nullptr);
    EXPECT_EQ(ec2->resolvedEndpoint(), "http://127.0.0.1:9");
    EXPECT_NE(ctx.status.render().find("endpoint http://127.0.0.1:9 (from config)"),
              std::string::npos)
        << ctx.status.render();
  }
  {
    ScopedEnv endpoint("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:7");
    Context ctx;
    auto sources = build("sources: {ec2: {enabled: true}}", ctx);
    ASSERT_EQ(sources.size(), 1u);
    EXPECT_EQ(dynamic_cast<Ec2Source&>(*sources[0]).resolvedEndpoint(), "http://127.0.0.1:7");
    EXPECT_EQ(sources[0]->name(), "ec2");
    EXPECT_EQ(sources[0]->interval(), milliseconds(5000));
  }
}

TEST(Ec2FactoryTest, DisabledByEnvironmentOrConfig) {
  ScopedEnv endpoint("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9");
  {
    ScopedEnv disabled("AWS_EC2_METADATA_DISABLED", "true");
    Context ctx;
    EXPECT_TRUE(build("sources: {ec2: {enabled: true}}", ctx).empty());
    EXPECT_NE(ctx.status.render().find("AWS_EC2_METADATA_DISABLED=true"), std::string::npos);
  }
  ScopedEnv disabled("AWS_EC2_METADATA_DISABLED", nullptr);
  Context ctx;
  EXPECT_TRUE(build("sources: {ec2: {enabled: false}}", ctx).empty());
  Context validate;
  auto doc = ConfigDocument::parse("sources: {ec2: {enabled: true}}", "test.yaml");
  ConfigNode node = doc->root().child("sources").child("ec2");
  EXPECT_TRUE(buildSources(node, nullptr)->empty());
}

TEST(Ec2FactoryTest, AutoWithTheLinkLocalEndpointNeedsASignOfEc2) {
  ScopedEnv disabled("AWS_EC2_METADATA_DISABLED", nullptr);
  ScopedEnv endpoint("AWS_EC2_METADATA_SERVICE_ENDPOINT", nullptr);
  ScopedEnv k8s("KUBERNETES_SERVICE_HOST", nullptr);
  if (looksLikeEc2("/sys")) GTEST_SKIP() << "this machine looks like EC2";
  Context ctx;
  EXPECT_TRUE(build("cluster: c\n", ctx).empty());
  EXPECT_NE(ctx.status.render().find("not on EC2"), std::string::npos) << ctx.status.render();
}

TEST(Ec2FactoryTest, LooksLikeEc2ReadsDmiAndHypervisor) {
  const std::string root = std::string(KM_TESTDATA_DIR) + "/ec2/sys";
  EXPECT_TRUE(looksLikeEc2(root + "/nitro"));
  EXPECT_TRUE(looksLikeEc2(root + "/xen"));
  EXPECT_FALSE(looksLikeEc2(root + "/other"));
  EXPECT_FALSE(looksLikeEc2(root + "/missing"));
}

}  // namespace
}  // namespace kubemetrics::scrapers::ec2
