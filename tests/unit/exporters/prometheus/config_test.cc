#include "exporters/prometheus/config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/config/config_document.h"

namespace kubemetrics::exporters::prometheus {
namespace {

struct Parsed {
  PrometheusEndpointConfig config;
  std::vector<ConfigError> errors;
};

Parsed parse(const std::string& yaml) {
  auto doc = ConfigDocument::parse("exporters:\n  prometheus:\n" + yaml, "test");
  ConfigNode root = doc->root();
  ConfigNode exporters = root.child("exporters");
  ConfigNode node = exporters.child("prometheus");
  Parsed parsed{parseConfig(node), {}};
  parsed.errors = doc->errors();
  return parsed;
}

std::string joined(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& e : errors) out += e.toString() + "\n";
  return out;
}

TEST(PrometheusEndpointConfigTest, Defaults) {
  const PrometheusEndpointConfig config;
  EXPECT_TRUE(config.enabled);
  EXPECT_EQ(config.path, "/metrics");
  EXPECT_EQ(config.expire_after, std::chrono::minutes(5));
  EXPECT_TRUE(config.validate().empty());
}

TEST(PrometheusEndpointConfigTest, ParsesEveryKey) {
  const Parsed parsed = parse(
      "    enabled: false\n    path: /agent/metrics\n"
      "    expire_after: 90s\n");
  EXPECT_TRUE(parsed.errors.empty()) << joined(parsed.errors);
  EXPECT_FALSE(parsed.config.enabled);
  EXPECT_EQ(parsed.config.path, "/agent/metrics");
  EXPECT_EQ(parsed.config.expire_after, std::chrono::seconds(90));
}

TEST(PrometheusEndpointConfigTest, PathMustStartWithSlash) {
  const Parsed parsed = parse("    path: metrics\n");
  ASSERT_EQ(parsed.errors.size(), 1u) << joined(parsed.errors);
  EXPECT_EQ(parsed.errors[0].path, "exporters.prometheus.path");
  EXPECT_NE(parsed.errors[0].reason.find("must start with '/'"), std::string::npos);
  EXPECT_EQ(parsed.config.path, "/metrics");
}

TEST(PrometheusEndpointConfigTest, PathWithQueryIsRejected) {
  const Parsed parsed = parse("    path: /metrics?x=1\n");
  ASSERT_EQ(parsed.errors.size(), 1u) << joined(parsed.errors);
  EXPECT_EQ(parsed.errors[0].path, "exporters.prometheus.path");
}

TEST(PrometheusEndpointConfigTest, ReportsEveryErrorAndUnknownKeys) {
  const Parsed parsed = parse("    path: x\n    expire_after: 0s\n    colour: blue\n");
  std::vector<std::string> paths;
  for (const ConfigError& e : parsed.errors) paths.push_back(e.path);
  EXPECT_EQ(parsed.errors.size(), 3u) << joined(parsed.errors);
  EXPECT_NE(std::find(paths.begin(), paths.end(), "exporters.prometheus.path"), paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), "exporters.prometheus.expire_after"),
            paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), "exporters.prometheus.colour"), paths.end());
  EXPECT_EQ(parsed.config.expire_after, std::chrono::minutes(5));
}

TEST(PrometheusEndpointConfigTest, ValidateFlagsNonPositiveExpiry) {
  PrometheusEndpointConfig config;
  config.expire_after = std::chrono::milliseconds(0);
  const auto errors = config.validate();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "expire_after");
}

}  // namespace
}  // namespace kubemetrics::exporters::prometheus
