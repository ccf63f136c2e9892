#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/config/config_document.h"
#include "common/scrape/config.h"
#include "common/scrape/target_parser.h"
#include "common/text/utf8.h"
#include "kubemetrics/config.h"

namespace kubemetrics::scrape {
namespace {

TEST(PrometheusParserTest, ParsesTextBasics) {
  SampleBatch b;
  auto r = parseText(
      "# HELP http_requests_total The total.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
      "  metric_without_timestamp_and_labels 12.47\n"
      "something_weird{problem=\"division by zero\"} +Inf -3982045\n"
      "nan_value NaN\n"
      "minus_inf -Inf\r\n"
      "# a comment\n"
      "\n",
      ExpositionFormat::kText, b, 99);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(b.samples.size(), 6u);
  EXPECT_EQ(b.samples[0].name.view(), "http_requests_total");
  EXPECT_EQ(b.samples[0].labels.get("code"), "200");
  EXPECT_EQ(b.samples[0].value, 1027);
  EXPECT_EQ(b.samples[0].timestamp_ms, 1395066363000);
  EXPECT_EQ(b.samples[2].timestamp_ms, 99);
  EXPECT_TRUE(std::isinf(b.samples[3].value));
  EXPECT_EQ(b.samples[3].timestamp_ms, -3982045);
  EXPECT_TRUE(std::isnan(b.samples[4].value));
  EXPECT_TRUE(std::isinf(b.samples[5].value) && b.samples[5].value < 0);
  ASSERT_EQ(b.metadata.size(), 1u);
  EXPECT_EQ(b.metadata[0].type, MetricType::kCounter);
  EXPECT_EQ(b.metadata[0].help, "The total.");
}

TEST(PrometheusParserTest, RejectsMalformedLinesNamingTheLine) {
  const char* cases[] = {
      "a{b=\"c\"", "a{b=c} 1",          "a{b=\"c\",b=\"d\"} 1",
      "a 1 2 3",   "a{1b=\"x\"} 1",     "a one",
      "a 1 1.5",   "# TYPE a bogus",    "a{__name__=\"x\"} 1",
      "a 0x1p-3",  "a 1 # {x=\"y\"} 1",
  };
  for (const char* c : cases) {
    SampleBatch b;
    auto r = parseText(std::string("ok 1\n") + c + "\n", ExpositionFormat::kText, b);
    ASSERT_FALSE(r) << c;
    EXPECT_EQ(r.error().message().rfind("line 2: ", 0), 0u) << c << " -> " << r.error().message();
  }
}

TEST(PrometheusParserTest, CachesSeriesBetweenScrapes) {
  int labeled = 0;
  TargetParser parser({}, [&](const Symbol&, LabelsBuilder& scraped) {
    ++labeled;
    scraped.set("job", "j");
    return scraped.build();
  });
  const std::string body = "a{x=\"1\"} 1\na{x=\"2\"} 2\nb 3\n";
  for (int scrape = 0; scrape < 3; ++scrape) {
    SampleBatch out;
    parser.begin(ExpositionFormat::kText, &out, 0);
    ASSERT_TRUE(parser.feed(body));
    ASSERT_TRUE(parser.finish());
    EXPECT_EQ(out.samples.size(), 3u);
    EXPECT_EQ(out.samples[1].labels.get("job"), "j");
    EXPECT_EQ(parser.stats().new_series, scrape == 0 ? 3u : 0u);
  }
  EXPECT_EQ(labeled, 3);
  EXPECT_EQ(parser.cachedSeries(), 3u);
  // A series gone for two scrapes leaves the cache.
  for (int scrape = 0; scrape < 3; ++scrape) {
    SampleBatch out;
    parser.begin(ExpositionFormat::kText, &out, 0);
    ASSERT_TRUE(parser.feed("b 3\n"));
    ASSERT_TRUE(parser.finish());
  }
  EXPECT_EQ(parser.cachedSeries(), 1u);
}

TEST(PrometheusParserTest, CacheTellsSeriesTextsApart) {
  // The cache keys series by a hash of their text: texts one byte apart, at
  // every length around the hash's 16-byte blocks, and with NUL bytes
  // where its padding has zeros, are distinct series; many are too.
  std::vector<std::string> texts;
  for (std::size_t len = 1; len <= 40; ++len) {
    for (char last : {'a', 'b'}) texts.push_back(std::string(len - 1, 'x') + last);
    if (len > 7) texts.push_back("x{y=\"" + std::string(len - 7, '\0') + "\"}");
  }
  for (int i = 0; i < 20000; ++i) texts.push_back("m{i=\"" + std::to_string(i) + "\"}");
  std::string body;
  for (std::size_t i = 0; i < texts.size(); ++i) body += texts[i] + " " + std::to_string(i) + "\n";
  TargetParser parser;
  for (int scrape = 0; scrape < 2; ++scrape) {
    SampleBatch out;
    parser.begin(ExpositionFormat::kText, &out, 0);
    ASSERT_TRUE(parser.feed(body));
    ASSERT_TRUE(parser.finish());
    EXPECT_EQ(parser.stats().new_series, scrape == 0 ? texts.size() : 0u);
    ASSERT_EQ(out.samples.size(), texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const Sample& s = out.samples[i];
      ASSERT_EQ(s.value, static_cast<double>(i));
      // The cached name and labels are this text's.
      ASSERT_EQ(texts[i].rfind(s.name.view(), 0), 0u) << i;
      if (texts[i].starts_with("m{")) {
        ASSERT_EQ("m{i=\"" + std::string(s.labels.get("i")) + "\"}", texts[i]);
      } else if (texts[i].starts_with("x{")) {
        ASSERT_EQ(s.labels.get("y").size(), texts[i].size() - 7);  // x{y=""}
      }
    }
  }
  EXPECT_EQ(parser.cachedSeries(), texts.size());
}

TEST(PrometheusParserTest, StreamsAcrossChunkBoundaries) {
  const std::string body = "x{a=\"q\\\"uo\\nte\"} 1\ny 2 3\n# HELP z h\nz 4";
  for (std::size_t split = 0; split <= body.size(); ++split) {
    TargetParser parser;
    SampleBatch out;
    parser.begin(ExpositionFormat::kText, &out, 0);
    ASSERT_TRUE(parser.feed(body.substr(0, split)));
    ASSERT_TRUE(parser.feed(body.substr(split)));
    ASSERT_TRUE(parser.finish()) << split;
    ASSERT_EQ(out.samples.size(), 3u) << split;
    EXPECT_EQ(out.samples[0].labels.get("a"), "q\"uo\nte");
    EXPECT_EQ(out.samples[1].timestamp_ms, 3);
    EXPECT_EQ(out.samples[2].value, 4);
  }
}

TEST(PrometheusParserTest, EnforcesLimits) {
  {
    ParserOptions options;
    options.max_samples = 2;
    TargetParser parser(options);
    SampleBatch out;
    parser.begin(ExpositionFormat::kText, &out, 0);
    auto r = parser.feed("a 1\nb 2\nc 3\n");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kResourceExhausted);
    EXPECT_EQ(r.error().message(), "line 3: sample limit of 2 exceeded");
  }
  {
    ParserOptions options;
    options.max_line_bytes = 16;
    TargetParser parser(options);
    SampleBatch out;
    parser.begin(ExpositionFormat::kText, &out, 0);
    ASSERT_TRUE(parser.feed("a 1\nbbbbbbbb"));
    auto r = parser.feed("bbbbbbbbbbbbbbbbb 1\n");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kResourceExhausted);
    EXPECT_EQ(r.error().message().rfind("line 2: ", 0), 0u);
  }
  {
    std::string line = "many{";
    for (int i = 0; i < 10000; ++i) line += "l" + std::to_string(i) + "=\"v\",";
    line += "} 1\n";
    SampleBatch out;
    auto r = parseText(line, ExpositionFormat::kText, out);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kResourceExhausted);
    EXPECT_NE(r.error().message().find("more than 512 labels"), std::string::npos);
  }
}

TEST(PrometheusParserTest, AutoFormatResolvesTimestampsAtFinish) {
  const std::string body = "# TYPE a gauge\na 1 1.5\n# EOF\n";
  {
    TargetParser parser;
    SampleBatch out;
    parser.begin(ExpositionFormat::kAuto, &out, 7);
    ASSERT_TRUE(parser.feed(body));
    ASSERT_TRUE(parser.finish(ExpositionFormat::kOpenMetrics));
    EXPECT_EQ(out.samples[0].timestamp_ms, 1500);
  }
  {
    TargetParser parser;
    SampleBatch out;
    parser.begin(ExpositionFormat::kAuto, &out, 7);
    ASSERT_TRUE(parser.feed(body));
    auto r = parser.finish(ExpositionFormat::kText);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message().rfind("line 2: ", 0), 0u) << r.error().message();
  }
  {
    TargetParser parser;
    SampleBatch out;
    parser.begin(ExpositionFormat::kAuto, &out, 7);
    ASSERT_TRUE(parser.feed("a 1 5\n"));
    auto r = parser.finish(ExpositionFormat::kOpenMetrics);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("# EOF"), std::string::npos);
  }
}

TEST(PrometheusParserTest, ContentTypes) {
  EXPECT_EQ(formatFromContentType("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(formatFromContentType("text/plain; version=0.0.4"), ExpositionFormat::kText);
  EXPECT_EQ(formatFromContentType(""), ExpositionFormat::kText);
}

TEST(PrometheusParserTest, Utf8AndFloats) {
  EXPECT_TRUE(text::isValidUtf8("plain ascii and \xe2\x98\x83"));
  EXPECT_FALSE(text::isValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(text::isValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(text::isValidUtf8("abcdefgh\xe2\x98"));  // truncated
  double v;
  EXPECT_TRUE(parseFloat("1e3", &v) && v == 1000);
  EXPECT_TRUE(parseFloat("+Inf", &v) && std::isinf(v));
  EXPECT_TRUE(parseFloat(".5", &v) && v == 0.5);
  EXPECT_FALSE(parseFloat("1_000", &v));
  EXPECT_FALSE(parseFloat("0x10", &v));
  EXPECT_FALSE(parseFloat("+-1", &v));
  EXPECT_FALSE(parseFloat("", &v));
}

// sources.prometheus of `doc`, parsed and finish()ed (errors go to `doc`).
std::vector<TargetConfig> targetListOf(ConfigDocument& doc) {
  ConfigNode root = doc.root();
  ConfigNode sources = root.child("sources");
  ConfigNode list = sources.child("prometheus");
  std::vector<TargetConfig> targets = parseTargetList(list);
  list.finish();
  return targets;
}

// The one ConfigNode addition: child() of a list and elementsOfSelf().
TEST(PrometheusConfigTest, ReadsTheTargetList) {
  auto doc = ConfigDocument::parse(
      "sources:\n"
      "  prometheus:\n"
      "    - {name: a, url: \"http://127.0.0.1:9100/metrics\", jitter: \"0.5\", labels: {team: "
      "x}}\n"
      "    - {name: a, url: \"ftp://x\", timeout: 1m, interval: 30s, bogus: 1}\n"
      "    - {name: c, url: \"https://example.test/m\", jitter: 2s, tls: {insecure_skip_verify: "
      "true}}\n",
      "test");
  std::vector<TargetConfig> targets = targetListOf(*doc);
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].interval, std::chrono::seconds(30));
  EXPECT_EQ(targets[0].timeout, std::chrono::seconds(10));
  EXPECT_EQ(targets[0].jitter, std::chrono::seconds(15));
  EXPECT_EQ(targets[0].max_body_bytes, 64u << 20);
  EXPECT_EQ(targets[0].instance(), "127.0.0.1:9100");
  EXPECT_EQ(targets[0].labels.at("team"), "x");
  EXPECT_EQ(targets[2].instance(), "example.test:443");
  EXPECT_EQ(targets[2].jitter, std::chrono::seconds(2));
  EXPECT_TRUE(targets[2].insecure_skip_verify);
  std::string errors;
  for (const ConfigError& e : doc->errors()) errors += e.toString() + "\n";
  EXPECT_NE(errors.find("sources.prometheus[1].name: duplicate target name \"a\""),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("sources.prometheus[1].url: must be an http"), std::string::npos) << errors;
  EXPECT_NE(errors.find("sources.prometheus[1].timeout: must not exceed interval"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("sources.prometheus[1].bogus: unknown key"), std::string::npos) << errors;
  EXPECT_EQ(doc->errors().size(), 4u) << errors;
  EXPECT_NE(doc->effectiveYaml().find("insecure_skip_verify: true"), std::string::npos);
}

// A target that sets no jitter is spread over half its interval (so a
// node's targets, which mostly share one interval, do not fire together);
// `jitter: 0` still scrapes at once, and the kube-state-metrics source
// (parseTargetConfig) keeps 0 unless it asks.
TEST(PrometheusConfigTest, JitterDefaultsToHalfTheIntervalOfAPrometheusTarget) {
  auto doc = ConfigDocument::parse(
      "sources:\n"
      "  prometheus:\n"
      "    - {name: a, url: \"http://127.0.0.1:9100/metrics\", interval: 10s}\n"
      "    - {name: b, url: \"http://127.0.0.1:9101/metrics\", jitter: 0}\n"
      "  kube_state_metrics: {url: \"http://127.0.0.1:8080/metrics\", interval: 10s}\n",
      "test");
  std::vector<TargetConfig> targets = targetListOf(*doc);
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].jitter, std::chrono::seconds(5));
  EXPECT_EQ(targets[1].jitter, std::chrono::milliseconds(0));
  ConfigNode root = doc->root();
  ConfigNode sources = root.child("sources");
  ConfigNode ksm = sources.child("kube_state_metrics");
  TargetConfig single = parseTargetConfig(ksm, TargetConfig(), false);
  EXPECT_EQ(single.jitter, std::chrono::milliseconds(0));
  EXPECT_TRUE(doc->errors().empty());
}

// As Prometheus' static_configs: one job, several targets, each its own
// instance; every other key shared.
TEST(PrometheusConfigTest, OneJobWithSeveralUrls) {
  auto doc = ConfigDocument::parse(
      "sources:\n"
      "  prometheus:\n"
      "    - name: node-exporter\n"
      "      urls: [\"http://10.0.0.1:9100/metrics\", \"http://10.0.0.2:9100/metrics\"]\n"
      "      interval: 5s\n"
      "      labels: {team: infra}\n",
      "test");
  std::vector<TargetConfig> targets = targetListOf(*doc);
  EXPECT_TRUE(doc->errors().empty());
  ASSERT_EQ(targets.size(), 2u);
  for (const TargetConfig& target : targets) {
    EXPECT_EQ(target.name, "node-exporter");
    EXPECT_EQ(target.interval, std::chrono::seconds(5));
    EXPECT_EQ(target.timeout, std::chrono::seconds(5));  // min(10s, interval)
    EXPECT_EQ(target.labels.at("team"), "infra");
  }
  EXPECT_EQ(targets[0].instance(), "10.0.0.1:9100");
  EXPECT_EQ(targets[1].instance(), "10.0.0.2:9100");
}

TEST(PrometheusConfigTest, UrlsAreCheckedOneByOne) {
  auto doc = ConfigDocument::parse(
      "sources:\n"
      "  prometheus:\n"
      "    - {name: a, urls: [\"http://h:1/m\", \"ftp://x\", \"http://h:1/m\"]}\n"
      "    - {name: b, url: \"http://h:2/m\", urls: [\"http://h:3/m\"]}\n"
      "    - {name: c, urls: []}\n",
      "test");
  targetListOf(*doc);
  std::string errors;
  for (const ConfigError& e : doc->errors()) errors += e.toString() + "\n";
  EXPECT_NE(errors.find("sources.prometheus[0].urls: must be an http"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("sources.prometheus[0].urls: \"http://h:1/m\" is listed twice"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("sources.prometheus[1].urls: give `url` or `urls`, not both"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("sources.prometheus[2].urls: must list at least one URL"),
            std::string::npos)
      << errors;
  EXPECT_EQ(doc->errors().size(), 4u) << errors;
}

TEST(PrometheusConfigTest, UnsetTimeoutIsCappedAtTheIntervalAsInPrometheus) {
  auto doc = ConfigDocument::parse(
      "sources:\n"
      "  prometheus:\n"
      "    - {name: fast, url: \"http://127.0.0.1:9100/metrics\", interval: 5s}\n"
      "    - {name: slow, url: \"http://127.0.0.1:9101/metrics\", interval: 1m}\n"
      "    - {name: set, url: \"http://127.0.0.1:9102/metrics\", interval: 5s, timeout: 6s}\n",
      "test");
  std::vector<TargetConfig> targets = targetListOf(*doc);
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].timeout, std::chrono::seconds(5));   // min(10s, interval)
  EXPECT_EQ(targets[1].timeout, std::chrono::seconds(10));  // the default
  // An explicit timeout longer than the interval is still an error.
  ASSERT_EQ(doc->errors().size(), 1u);
  EXPECT_NE(doc->errors()[0].toString().find(
                "sources.prometheus[2].timeout: must not exceed interval (6s > 5s)"),
            std::string::npos)
      << doc->errors()[0].toString();
}

TEST(PrometheusConfigTest, AbsentListIsEmptyAndMappingIsAnError) {
  {
    auto doc = ConfigDocument::parse("sources: {}\n", "test");
    ConfigNode root = doc->root();
    ConfigNode sources = root.child("sources");
    ConfigNode list = sources.child("prometheus");
    EXPECT_TRUE(parseTargetList(list).empty());
    list.finish();
    EXPECT_TRUE(doc->errors().empty());
  }
  {
    auto doc = ConfigDocument::parse("sources:\n  prometheus: {name: a}\n", "test");
    ConfigNode root = doc->root();
    ConfigNode sources = root.child("sources");
    ConfigNode list = sources.child("prometheus");
    EXPECT_TRUE(parseTargetList(list).empty());
    ASSERT_EQ(doc->errors().size(), 1u);
    EXPECT_EQ(doc->errors()[0].path, "sources.prometheus");
  }
  {
    // A list where a mapping belongs is still reported by finish().
    auto doc = ConfigDocument::parse("sources:\n  host: [1]\n", "test");
    ConfigNode root = doc->root();
    ConfigNode sources = root.child("sources");
    ConfigNode host = sources.child("host");
    host.finish();
    ASSERT_EQ(doc->errors().size(), 1u);
    EXPECT_EQ(doc->errors()[0].path, "sources.host");
  }
}

}  // namespace
}  // namespace kubemetrics::scrape
