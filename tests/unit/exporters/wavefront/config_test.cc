#include "exporters/wavefront/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "common/config/config_document.h"

namespace kubemetrics::exporters::wavefront {
namespace {

struct Parsed {
  WavefrontConfig config;
  std::vector<ConfigError> errors;
};

Parsed parse(const std::string& yaml) {
  auto doc = ConfigDocument::parse("exporters:\n  wavefront:\n" + yaml, "test");
  ConfigNode root = doc->root();
  ConfigNode exporters = root.child("exporters");
  ConfigNode node = exporters.child("wavefront");
  Parsed parsed{parseConfig(node), {}};
  parsed.errors = doc->errors();
  return parsed;
}

std::string joined(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& e : errors) out += e.toString() + "\n";
  return out;
}

bool hasError(const Parsed& p, const std::string& path, const std::string& text) {
  for (const ConfigError& e : p.errors) {
    if (e.path == path && e.reason.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(WavefrontConfigTest, Defaults) {
  const Parsed p = parse("    enabled: false\n");
  EXPECT_TRUE(p.errors.empty()) << joined(p.errors);
  EXPECT_FALSE(p.config.enabled);
  EXPECT_EQ(p.config.url, "tcp://wavefront-proxy:2878");
  EXPECT_EQ(p.config.effectiveCompression(), "none");  // tcp: plain lines
}

TEST(WavefrontConfigTest, ExcludeTagsDefaultToTheCollectorsAndCanBeReplaced) {
  const Parsed defaults = parse("    enabled: true\n");
  EXPECT_TRUE(defaults.errors.empty()) << joined(defaults.errors);
  EXPECT_EQ(defaults.config.exclude_tags, defaultExcludeTags());
  EXPECT_NE(std::find(defaults.config.exclude_tags.begin(), defaults.config.exclude_tags.end(),
                      "label?pod?template*"),
            defaults.config.exclude_tags.end());

  const Parsed none = parse("    exclude_tags: []\n");
  EXPECT_TRUE(none.errors.empty()) << joined(none.errors);
  EXPECT_TRUE(none.config.exclude_tags.empty());

  const Parsed own = parse("    exclude_tags: [\"label.team\", \"\"]\n");
  EXPECT_EQ(own.config.exclude_tags.front(), "label.team");
  EXPECT_TRUE(hasError(own, "exporters.wavefront.exclude_tags[1]", "must not be empty"))
      << joined(own.errors);
}

TEST(WavefrontConfigTest, HttpsDefaultsToZstd) {
  const Parsed p = parse(
      "    enabled: true\n    url: https://example.wavefront.com/\n"
      "    token_env: WF_TOKEN\n    source: my-src\n"
      "    batch: {max_samples: 500, max_wait: 2s}\n    retry: {max_attempts: 3}\n");
  EXPECT_TRUE(p.errors.empty()) << joined(p.errors);
  EXPECT_EQ(p.config.effectiveCompression(), "zstd");
  EXPECT_EQ(p.config.source, "my-src");
  EXPECT_EQ(p.config.push.batch.max_samples, 500u);
  EXPECT_EQ(p.config.push.retry.max_attempts, 3);
  WavefrontEndpoint endpoint;
  std::string reason;
  ASSERT_TRUE(parseEndpoint(p.config.url, &endpoint, &reason)) << reason;
  EXPECT_EQ(endpoint.mode, WavefrontEndpoint::Mode::kDirectHttp);
  EXPECT_EQ(endpoint.report_url, "https://example.wavefront.com/report?f=wavefront");
}

TEST(WavefrontConfigTest, Endpoints) {
  WavefrontEndpoint e;
  std::string reason;
  ASSERT_TRUE(parseEndpoint("tcp://proxy", &e, &reason)) << reason;
  EXPECT_EQ(e.host, "proxy");
  EXPECT_EQ(e.port, 2878);
  ASSERT_TRUE(parseEndpoint("tcp://127.0.0.1:3000", &e, &reason)) << reason;
  EXPECT_EQ(e.port, 3000);
  ASSERT_TRUE(parseEndpoint("tcp://[::1]:2879", &e, &reason)) << reason;
  EXPECT_EQ(e.host, "::1");
  ASSERT_TRUE(parseEndpoint("http://127.0.0.1:2878/report", &e, &reason)) << reason;
  EXPECT_EQ(e.report_url, "http://127.0.0.1:2878/report?f=wavefront");
  ASSERT_TRUE(parseEndpoint("https://x.example/prefix", &e, &reason)) << reason;
  EXPECT_EQ(e.report_url, "https://x.example/prefix/report?f=wavefront");

  EXPECT_FALSE(parseEndpoint("wavefront-proxy:2878", &e, &reason));
  EXPECT_NE(reason.find("missing scheme"), std::string::npos) << reason;
  EXPECT_FALSE(parseEndpoint("udp://proxy:2878", &e, &reason));
  EXPECT_NE(reason.find("unsupported scheme"), std::string::npos) << reason;
  EXPECT_FALSE(parseEndpoint("tcp://proxy:99999", &e, &reason));
  EXPECT_FALSE(parseEndpoint("tcp://proxy:2878/path", &e, &reason));
  EXPECT_FALSE(parseEndpoint("tcp://:2878", &e, &reason));
  EXPECT_FALSE(parseEndpoint("https://x/report?f=graphite", &e, &reason));
}

TEST(WavefrontConfigTest, MissingSchemeIsReportedWithItsPath) {
  const Parsed p = parse("    url: wavefront-proxy:2878\n");
  EXPECT_TRUE(hasError(p, "exporters.wavefront.url", "missing scheme")) << joined(p.errors);
}

TEST(WavefrontConfigTest, TcpTakesNoCompressionAndNoToken) {
  const Parsed p = parse("    url: tcp://proxy:2878\n    compression: zstd\n    token_env: X\n");
  EXPECT_TRUE(hasError(p, "exporters.wavefront.compression", "must be none")) << joined(p.errors);
  EXPECT_TRUE(hasError(p, "exporters.wavefront.token_env", "only used for http"))
      << joined(p.errors);
}

TEST(WavefrontConfigTest, BadValuesAreAllReported) {
  const Parsed p = parse(
      "    url: https://x/\n    compression: brotli\n    token_file: /a\n"
      "    token_env: B\n    token: secret\n    batch: {max_samples: 0}\n");
  EXPECT_TRUE(hasError(p, "exporters.wavefront.compression", "")) << joined(p.errors);
  EXPECT_TRUE(hasError(p, "exporters.wavefront.token_env", "not both")) << joined(p.errors);
  EXPECT_TRUE(hasError(p, "exporters.wavefront.token", "")) << joined(p.errors);
  EXPECT_TRUE(hasError(p, "exporters.wavefront.batch.max_samples", "")) << joined(p.errors);
  // The token never appears in an error message.
  EXPECT_EQ(joined(p.errors).find("secret"), std::string::npos) << joined(p.errors);
}

TEST(WavefrontConfigTest, TokenFromFileOrEnv) {
  WavefrontConfig config;
  config.url = "https://x/";
  const std::string file = ::testing::TempDir() + "/wf_token_test";
  {
    std::ofstream out(file);
    out << "tok-123\n";
  }
  config.token_file = file;
  auto header = [&]() -> std::string {
    auto authorization = tokenAuthorization(config);
    if (!authorization) return "error: " + authorization.error().message();
    if (!*authorization) return "none";
    auto value = (*authorization)();
    return value ? *value : "error: " + value.error().message();
  };
  EXPECT_EQ(header(), "Bearer tok-123");

  config.token_file = file + ".missing";
  EXPECT_NE(header().find("token_file: cannot read"), std::string::npos) << header();

  config.token_file.clear();
  config.token_env = "KM_WF_TEST_TOKEN";
  ::unsetenv("KM_WF_TEST_TOKEN");
  EXPECT_NE(header().find("variable KM_WF_TEST_TOKEN is unset"), std::string::npos) << header();
  ::setenv("KM_WF_TEST_TOKEN", "env-tok", 1);
  EXPECT_EQ(header(), "Bearer env-tok");
  config.token_env.clear();
  EXPECT_EQ(header(), "none");
  ::unsetenv("KM_WF_TEST_TOKEN");
  std::remove(file.c_str());
}

}  // namespace
}  // namespace kubemetrics::exporters::wavefront
