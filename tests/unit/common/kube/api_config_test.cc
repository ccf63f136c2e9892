#include "common/kube/api_config.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/config/config_document.h"
#include "support/config_errors.h"
#include "support/scoped_env.h"

namespace kubemetrics::kube {
namespace {

using kubemetrics::testing::ScopedEnv;

struct Parsed {
  std::shared_ptr<ConfigDocument> doc;
  KubeApiConfig config;
};

Parsed parse(std::string_view yaml) {
  Parsed p{ConfigDocument::parse(yaml, "test.yaml"), {}};
  ConfigNode node = p.doc->root().child("kubernetes");
  p.config = parseKubeApiConfig(node);
  return p;
}

using testing::errorTexts;

TEST(KubeApiConfigTest, DefaultsWhenAbsent) {
  const Parsed p = parse("cluster: c\n");
  EXPECT_TRUE(p.doc->errors().empty()) << ::testing::PrintToString(errorTexts(*p.doc));
  EXPECT_EQ(p.config.api_server, "");
  EXPECT_EQ(p.config.bearer_token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  EXPECT_EQ(p.config.ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
  EXPECT_FALSE(p.config.insecure_skip_verify);
  EXPECT_EQ(p.config.watch_timeout, std::chrono::minutes(5));
  EXPECT_EQ(p.config.initial_backoff, std::chrono::seconds(1));
  EXPECT_EQ(p.config.max_backoff, std::chrono::seconds(30));
  EXPECT_EQ(p.config.request_timeout, std::chrono::seconds(30));
}

TEST(KubeApiConfigTest, ReadsEveryKey) {
  const Parsed p = parse(R"(
kubernetes:
  api_server: https://10.96.0.1:443/
  bearer_token_file: /tmp/token
  ca_file: /tmp/ca.pem
  insecure_skip_verify: true
  watch_timeout: 10m
  initial_backoff: 500ms
  max_backoff: 1m
  request_timeout: 20s
)");
  EXPECT_TRUE(p.doc->errors().empty()) << ::testing::PrintToString(errorTexts(*p.doc));
  EXPECT_EQ(p.config.api_server, "https://10.96.0.1:443");  // trailing slash dropped
  EXPECT_EQ(p.config.bearer_token_file, "/tmp/token");
  EXPECT_EQ(p.config.ca_file, "/tmp/ca.pem");
  EXPECT_TRUE(p.config.insecure_skip_verify);
  EXPECT_EQ(p.config.watch_timeout, std::chrono::minutes(10));
  EXPECT_EQ(p.config.initial_backoff, std::chrono::milliseconds(500));
  EXPECT_EQ(p.config.max_backoff, std::chrono::minutes(1));
  EXPECT_EQ(p.config.request_timeout, std::chrono::seconds(20));
}

TEST(KubeApiConfigTest, ErrorsNameTheirPath) {
  const Parsed p = parse(R"(
kubernetes:
  api_server: kubernetes.default.svc
  watch_timeout: 100ms
  initial_backoff: 10s
  max_backoff: 5s
  request_timeout: 0s
  insecure_skip_verify: maybe
  colour: blue
)");
  const std::vector<std::string> errors = errorTexts(*p.doc);
  const auto has = [&](std::string_view prefix) {
    for (const std::string& e : errors) {
      if (e.starts_with(prefix)) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("kubernetes.api_server: must start with https://")) << errors.size();
  EXPECT_TRUE(has("kubernetes.watch_timeout: must be at least 1s"));
  EXPECT_TRUE(has("kubernetes.max_backoff: must be >= initial_backoff"));
  EXPECT_TRUE(has("kubernetes.request_timeout:"));
  EXPECT_TRUE(has("kubernetes.insecure_skip_verify:"));
  EXPECT_TRUE(has("kubernetes.colour: unknown key"));
  // Usable values are kept for what was wrong.
  EXPECT_EQ(p.config.api_server, "");
  EXPECT_EQ(p.config.watch_timeout, std::chrono::minutes(5));
  EXPECT_EQ(p.config.max_backoff, p.config.initial_backoff);
}

TEST(KubeApiConfigTest, ExplicitServerWinsOverTheEnvironment) {
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  KubeApiConfig config;
  config.api_server = "https://api.example:6443";
  EXPECT_EQ(resolveApiServer(config).value(), "https://api.example:6443");
}

TEST(KubeApiConfigTest, InClusterFromTheServiceVariables) {
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "6443");
  EXPECT_EQ(resolveApiServer(KubeApiConfig{}).value(), "https://10.96.0.1:6443");
  port.unset();
  EXPECT_EQ(resolveApiServer(KubeApiConfig{}).value(), "https://10.96.0.1:443");
}

TEST(KubeApiConfigTest, InClusterIpv6HostIsBracketed) {
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "fd00:10:96::1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
  EXPECT_EQ(resolveApiServer(KubeApiConfig{}).value(), "https://[fd00:10:96::1]:443");
}

TEST(KubeApiConfigTest, OutsideAClusterIsAnError) {
  ScopedEnv host("KUBERNETES_SERVICE_HOST", nullptr);
  const Result<std::string> url = resolveApiServer(KubeApiConfig{});
  ASSERT_FALSE(url);
  EXPECT_EQ(url.error().message(),
            "kubernetes.api_server is empty and KUBERNETES_SERVICE_HOST is not set "
            "(not running in a cluster)");
}

}  // namespace
}  // namespace kubemetrics::kube
