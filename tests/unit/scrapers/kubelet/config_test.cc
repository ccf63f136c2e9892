#include "scrapers/kubelet/config.h"

#include <gtest/gtest.h>

#include <string>

#include "common/config/config_document.h"
#include "scrapers/kubelet/kubelet_source.h"
#include "support/config_errors.h"

namespace kubemetrics::scrapers::kubelet {
namespace {

struct Parsed {
  std::shared_ptr<ConfigDocument> doc;
  KubeletConfig config;
};

Parsed parse(std::string_view yaml) {
  Parsed p{ConfigDocument::parse(yaml, "test.yaml"), {}};
  ConfigNode node = p.doc->root().child("sources").child("kubelet");
  p.config = parseKubeletConfig(node);
  return p;
}

using testing::errorTexts;

TEST(KubeletConfigTest, DefaultsWhenAbsent) {
  const Parsed p = parse("cluster: c\n");
  EXPECT_TRUE(p.doc->errors().empty()) << ::testing::PrintToString(errorTexts(*p.doc));
  EXPECT_FALSE(p.config.enabled);
  EXPECT_EQ(p.config.url, "https://${NODE_IP}:10250/stats/summary");
  EXPECT_EQ(p.config.interval, std::chrono::seconds(30));
  EXPECT_EQ(p.config.timeout, std::chrono::seconds(10));
  EXPECT_EQ(p.config.bearer_token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  EXPECT_EQ(p.config.ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
  EXPECT_FALSE(p.config.insecure_skip_verify);
  EXPECT_FALSE(p.config.sys_containers);
  EXPECT_EQ(p.config.max_response_bytes, 64u * 1024 * 1024);
  EXPECT_EQ(p.config.kubernetes_metrics, KubernetesMetrics::kAuto);
}

TEST(KubeletConfigTest, KubernetesMetricsIsAutoTrueOrFalse) {
  for (const auto& [text, expected] :
       {std::pair{"auto", KubernetesMetrics::kAuto}, std::pair{"true", KubernetesMetrics::kOn},
        std::pair{"false", KubernetesMetrics::kOff}}) {
    const Parsed p =
        parse(std::string("sources:\n  kubelet:\n    kubernetes_metrics: ") + text + "\n");
    EXPECT_TRUE(p.doc->errors().empty()) << ::testing::PrintToString(errorTexts(*p.doc));
    EXPECT_EQ(p.config.kubernetes_metrics, expected) << text;
  }
  const Parsed bad = parse("sources:\n  kubelet:\n    kubernetes_metrics: maybe\n");
  const std::vector<std::string> errors = errorTexts(*bad.doc);
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_NE(errors[0].find("sources.kubelet.kubernetes_metrics"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("auto, true, false"), std::string::npos) << errors[0];
  EXPECT_EQ(bad.config.kubernetes_metrics, KubernetesMetrics::kAuto);
}

TEST(KubeletConfigTest, ReadsEveryKey) {
  const Parsed p = parse(R"(
sources:
  kubelet:
    enabled: true
    url: https://10.0.0.7:10250/stats/summary
    interval: 1m
    timeout: 20s
    bearer_token_file: /tmp/token
    ca_file: /tmp/ca.pem
    insecure_skip_verify: true
    sys_containers: true
    max_response_bytes: 8MiB
    kubernetes_metrics: false
)");
  EXPECT_TRUE(p.doc->errors().empty()) << ::testing::PrintToString(errorTexts(*p.doc));
  EXPECT_TRUE(p.config.enabled);
  EXPECT_EQ(p.config.url, "https://10.0.0.7:10250/stats/summary");
  EXPECT_EQ(p.config.interval, std::chrono::minutes(1));
  EXPECT_EQ(p.config.timeout, std::chrono::seconds(20));
  EXPECT_EQ(p.config.bearer_token_file, "/tmp/token");
  EXPECT_EQ(p.config.ca_file, "/tmp/ca.pem");
  EXPECT_TRUE(p.config.insecure_skip_verify);
  EXPECT_TRUE(p.config.sys_containers);
  EXPECT_EQ(p.config.max_response_bytes, 8u * 1024 * 1024);
  EXPECT_EQ(p.config.kubernetes_metrics, KubernetesMetrics::kOff);
}

TEST(KubeletConfigTest, ErrorsNameTheirPath) {
  const Parsed p = parse(R"(
sources:
  kubelet:
    url: kubelet:10250
    interval: 10s
    timeout: 10s
    insecure_skip_verify: maybe
    colour: blue
)");
  const std::vector<std::string> errors = errorTexts(*p.doc);
  auto has = [&](const std::string& prefix) {
    for (const std::string& e : errors) {
      if (e.starts_with(prefix)) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("sources.kubelet.url: must start with https://"))
      << ::testing::PrintToString(errors);
  EXPECT_TRUE(has("sources.kubelet.timeout: must be shorter than interval"))
      << ::testing::PrintToString(errors);
  EXPECT_TRUE(has("sources.kubelet.insecure_skip_verify")) << ::testing::PrintToString(errors);
  EXPECT_TRUE(has("sources.kubelet.colour")) << ::testing::PrintToString(errors);
  EXPECT_LT(p.config.timeout, p.config.interval);
}

TEST(KubeletConfigTest, ExpandsNodeIp) {
  std::string error;
  std::string url = kDefaultUrl;
  EXPECT_TRUE(expandNodeIp(url, "10.1.2.3", error));
  EXPECT_EQ(url, "https://10.1.2.3:10250/stats/summary");
  url = kDefaultUrl;
  EXPECT_TRUE(expandNodeIp(url, "fd00::5", error));
  EXPECT_EQ(url, "https://[fd00::5]:10250/stats/summary");
  url = kDefaultUrl;
  EXPECT_FALSE(expandNodeIp(url, nullptr, error));
  EXPECT_NE(error.find("NODE_IP"), std::string::npos);
  EXPECT_NE(error.find("status.hostIP"), std::string::npos);
  url = kDefaultUrl;
  EXPECT_FALSE(expandNodeIp(url, "", error));
  url = "https://127.0.0.1:1/stats/summary";
  EXPECT_TRUE(expandNodeIp(url, nullptr, error));  // nothing to expand
}

TEST(KubeletConfigTest, FactoryValidatesWithoutContext) {
  auto doc = ConfigDocument::parse("sources:\n  kubelet:\n    enabled: true\n", "test.yaml");
  ConfigNode node = doc->root().child("sources").child("kubelet");
  Result<std::vector<SourcePtr>> sources = buildSources(node, nullptr);
  ASSERT_TRUE(sources.has_value());
  EXPECT_TRUE(sources->empty());
  EXPECT_TRUE(doc->errors().empty());
}

}  // namespace
}  // namespace kubemetrics::scrapers::kubelet
