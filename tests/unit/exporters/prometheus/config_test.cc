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

TEST(PrometheusEndpointConfigTest, PageCacheKeys) {
  const PrometheusEndpointConfig defaults;
  EXPECT_EQ(defaults.cache_for, std::chrono::seconds(1));
  EXPECT_EQ(defaults.max_waiting_scrapes, 100);
  const Parsed off = parse("    cache_for: 0s\n    max_waiting_scrapes: 5\n");
  EXPECT_TRUE(off.errors.empty()) << joined(off.errors);
  EXPECT_EQ(off.config.cache_for, std::chrono::milliseconds(0));
  EXPECT_EQ(off.config.max_waiting_scrapes, 5);

  const Parsed bad = parse("    cache_for: 2h\n    max_waiting_scrapes: 0\n");
  ASSERT_EQ(bad.errors.size(), 2u) << joined(bad.errors);
  EXPECT_EQ(bad.errors[0].path, "exporters.prometheus.max_waiting_scrapes");
  EXPECT_EQ(bad.errors[1].path, "exporters.prometheus.cache_for");
  EXPECT_EQ(bad.config.cache_for, defaults.cache_for);
  EXPECT_EQ(bad.config.max_waiting_scrapes, defaults.max_waiting_scrapes);
}

TEST(PrometheusEndpointConfigTest, SeriesPerTargetLimit) {
  EXPECT_EQ(PrometheusEndpointConfig().max_series_per_target, 1'000'000);
  const Parsed off = parse("    max_series_per_target: 0\n");
  EXPECT_TRUE(off.errors.empty()) << joined(off.errors);
  EXPECT_EQ(off.config.max_series_per_target, 0);
  const Parsed bad = parse("    max_series_per_target: -1\n");
  ASSERT_EQ(bad.errors.size(), 1u) << joined(bad.errors);
  EXPECT_EQ(bad.errors[0].path, "exporters.prometheus.max_series_per_target");
  EXPECT_EQ(bad.config.max_series_per_target, 1'000'000);
}

TEST(PrometheusEndpointConfigTest, BasicAuthNeedsNameAndPasswordFile) {
  const Parsed both = parse("    basic_auth: {username: u, password_file: /p}\n");
  EXPECT_TRUE(both.errors.empty()) << joined(both.errors);
  EXPECT_EQ(both.config.basic_auth.username, "u");
  EXPECT_EQ(both.config.basic_auth.password_file, "/p");
  const Parsed half = parse("    basic_auth: {username: u}\n");
  ASSERT_EQ(half.errors.size(), 1u) << joined(half.errors);
  EXPECT_EQ(half.errors[0].toString(),
            "exporters.prometheus.basic_auth.password_file: basic authentication needs both "
            "username and password_file");
  EXPECT_TRUE(half.config.basic_auth.username.empty());
  const Parsed colon = parse("    basic_auth: {username: \"a:b\", password_file: /p}\n");
  ASSERT_EQ(colon.errors.size(), 1u) << joined(colon.errors);
  EXPECT_EQ(colon.errors[0].path, "exporters.prometheus.basic_auth.username");
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
