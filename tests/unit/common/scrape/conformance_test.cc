// Conformance of the text/OpenMetrics parser over every exposition case in
// ../shared/fixtures/exposition (and the kube-state-metrics captures).
//
// Intentionally unsupported cases (the parser follows what Prometheus'
// scrape parser, model/textparse, does, not the Go expfmt decoder):
//  - prom-common-expfmt/fuzz-corpus/from_test_parse_error_0 ("bla 3.14"
//    without a final newline): accepted; Prometheus reads a last line
//    without newline too.
//  - from_test_parse_error_1 (`\t` escape in a label value): accepted and
//    kept literally as Prometheus does (the OpenMetrics suite's good case
//    "escaping" requires the same for `\z`).
//  - from_test_parse_error_12 / _13 (a second HELP or TYPE line for the
//    same name) and _14 (TYPE after the metric's samples): accepted in the
//    text format, as Prometheus does; rejected under OpenMetrics.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "common/scrape/target_parser.h"
#include "support/process.h"

namespace kubemetrics::scrape {
namespace {

namespace fs = std::filesystem;

const fs::path kExposition = fs::path(KM_FIXTURES_DIR) / "exposition";

using kubemetrics::testing::readFile;

// Lines that are neither blank nor comments: one sample each.
std::size_t sampleLines(std::string_view body) {
  std::size_t n = 0;
  while (!body.empty()) {
    const std::size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (!line.empty() && line.front() != '#') ++n;
    if (nl == std::string_view::npos) break;
    body.remove_prefix(nl + 1);
  }
  return n;
}

// Parses `body` fed in chunks of `chunk` bytes.
Result<ParseStats> parseChunked(std::string_view body, ExpositionFormat format, SampleBatch& out,
                                std::size_t chunk) {
  TargetParser parser;
  parser.begin(format, &out, 42);
  for (std::size_t i = 0; i < body.size(); i += chunk) {
    if (auto r = parser.feed(body.substr(i, chunk)); !r) return tl::unexpected(r.error());
  }
  if (auto r = parser.finish(format); !r) return tl::unexpected(r.error());
  return parser.stats();
}

std::string seriesKey(const Sample& s) {
  std::string key(s.name.view());
  for (const Label& l : s.labels) key += "|" + l.name.str() + "=" + l.value.str();
  return key;
}

// OpenMetrics cases where we knowingly differ from the suite, because real
// client_golang output breaks the rule and Prometheus reads it
// (prom-textparse/alltypes.5mfs.om.txt has both):
const std::map<std::string, std::string> kOpenMetricsUnsupported = {
    {"bad_histograms_3", "sum next to negative buckets: accepted"},
    {"bad_counter_values_17", "negative summary _sum: accepted"},
    {"bad_counter_values_19", "negative summary quantile value: accepted"},
};

TEST(PrometheusConformanceTest, OpenMetricsSuite) {
  std::size_t good = 0, bad = 0;
  for (const auto& dir : fs::directory_iterator(kExposition / "openmetrics-parsers")) {
    const std::string name = dir.path().filename().string();
    const std::string json = readFile(dir.path() / "test.json");
    ASSERT_NE(json.find("\"type\": \"text\""), std::string::npos) << name;
    const bool should_parse = json.find("\"shouldParse\": true") != std::string::npos;
    ASSERT_TRUE(should_parse || json.find("\"shouldParse\": false") != std::string::npos) << name;
    const std::string body = readFile(dir.path() / "metrics");
    SampleBatch batch;
    auto result = parseText(body, ExpositionFormat::kOpenMetrics, batch);
    const bool expect = kOpenMetricsUnsupported.count(name) ? !should_parse : should_parse;
    EXPECT_EQ(result.has_value(), expect)
        << name << ": " << (result ? std::string("parsed") : result.error().message()) << "\n"
        << body;
    if (!result) {
      EXPECT_EQ(result.error().message().rfind("line ", 0), 0u)
          << name << ": " << result.error().message();
      ++bad;
      continue;
    }
    ++good;
    EXPECT_EQ(result->samples, sampleLines(body)) << name;
    // Streaming: any chunking gives the same samples.
    for (std::size_t chunk : {1, 3, 7}) {
      SampleBatch chunked;
      auto r = parseChunked(body, ExpositionFormat::kOpenMetrics, chunked, chunk);
      ASSERT_TRUE(r) << name << " chunk " << chunk << ": " << r.error().message();
      ASSERT_EQ(chunked.samples.size(), batch.samples.size()) << name;
      for (std::size_t i = 0; i < batch.samples.size(); ++i) {
        EXPECT_EQ(seriesKey(chunked.samples[i]), seriesKey(batch.samples[i])) << name;
      }
    }
  }
  EXPECT_EQ(good, 44u + kOpenMetricsUnsupported.size());
  EXPECT_EQ(bad, 167u - kOpenMetricsUnsupported.size());
}

TEST(PrometheusConformanceTest, OpenMetricsSelectedValues) {
  auto parse = [](const std::string& name) {
    SampleBatch batch;
    const std::string body = readFile(kExposition / "openmetrics-parsers" / name / "metrics");
    auto r = parseText(body, ExpositionFormat::kOpenMetrics, batch, 7);
    EXPECT_TRUE(r) << name;
    return batch;
  };
  {
    SampleBatch b = parse("escaping");
    ASSERT_EQ(b.samples.size(), 4u);
    EXPECT_EQ(b.samples[0].labels.get("foo"), "b\"a\nr");
    EXPECT_EQ(b.samples[1].labels.get("foo"), "b\\a\\z");
    EXPECT_EQ(b.samples[2].labels.get("foo"), "b\"a\nr # ");
    ASSERT_EQ(b.metadata.size(), 1u);
    EXPECT_EQ(b.metadata[0].name.view(), "a_total");
    EXPECT_EQ(b.metadata[0].type, MetricType::kCounter);
    EXPECT_EQ(b.metadata[0].help, "he\n\\l\\tp");
  }
  {
    SampleBatch b = parse("timestamps");
    ASSERT_EQ(b.samples.size(), 6u);
    EXPECT_EQ(b.samples[2].timestamp_ms, 1100);     // 1.1 s
    EXPECT_EQ(b.samples[4].timestamp_ms, 1500000);  // 1.5e3 s
    EXPECT_EQ(b.samples[5].timestamp_ms, 1234567890000);
  }
  {
    SampleBatch b = parse("labels_and_infinite");
    ASSERT_EQ(b.samples.size(), 2u);
    EXPECT_TRUE(std::isinf(b.samples[0].value) && b.samples[0].value > 0);
    EXPECT_TRUE(std::isinf(b.samples[1].value) && b.samples[1].value < 0);
  }
  {
    SampleBatch b = parse("nan");
    ASSERT_EQ(b.samples.size(), 1u);
    EXPECT_TRUE(std::isnan(b.samples[0].value));
    EXPECT_EQ(b.samples[0].timestamp_ms, 7);  // no timestamp: the scrape's
  }
  {
    SampleBatch b = parse("histogram_exemplars");  // exemplars dropped
    ASSERT_EQ(b.samples.size(), 3u);
    EXPECT_EQ(b.samples[2].labels.get("le"), "+Inf");
    EXPECT_EQ(b.samples[2].value, 3);
  }
  {
    SampleBatch b = parse("uint64_counter");
    EXPECT_EQ(b.samples[0].value, 9223372036854775808.0);
  }
  {
    SampleBatch b = parse("empty_label");  // foo="" is the same as no foo
    ASSERT_EQ(b.samples.size(), 2u);
    EXPECT_TRUE(b.samples[1].labels.empty());
  }
}

TEST(PrometheusConformanceTest, ExpfmtCorpus) {
  const std::set<std::string> accepted_like_prometheus = {
      "from_test_parse_error_0", "from_test_parse_error_1", "from_test_parse_error_12",
      "from_test_parse_error_13", "from_test_parse_error_14"};
  std::size_t n = 0;
  for (const auto& file :
       fs::directory_iterator(kExposition / "prom-common-expfmt" / "fuzz-corpus")) {
    const std::string name = file.path().filename().string();
    const std::string body = readFile(file.path());
    SampleBatch batch;
    auto r = parseText(body, ExpositionFormat::kText, batch);
    const bool should_fail =
        name.find("error") != std::string::npos && !accepted_like_prometheus.count(name);
    EXPECT_EQ(r.has_value(), !should_fail) << name << ": " << (r ? "parsed" : r.error().message());
    if (!r) {
      EXPECT_EQ(r.error().message().rfind("line ", 0), 0u) << r.error().message();
    }
    ++n;
  }
  EXPECT_EQ(n, 26u);
  SampleBatch batch;
  const std::string body = readFile(kExposition / "prom-common-expfmt" / "text.prom");
  auto r = parseText(body, ExpositionFormat::kText, batch);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->samples, sampleLines(body));
}

// Every text-format capture: parses, one sample per sample line, chunked the same.
TEST(PrometheusConformanceTest, TextCaptures) {
  std::vector<fs::path> files;
  for (const char* dir : {"prom-textparse", "node_exporter", "cmetrics", "k8s-controlplane"}) {
    for (const auto& f : fs::directory_iterator(kExposition / dir)) {
      if (f.is_regular_file()) files.push_back(f.path());
    }
  }
  for (const auto& f : fs::directory_iterator(fs::path(KM_FIXTURES_DIR) / "ksm"))
    files.push_back(f.path());
  ASSERT_GE(files.size(), 25u);
  for (const fs::path& path : files) {
    const std::string name = path.filename().string();
    const std::string body = readFile(path);
    const ExpositionFormat format =
        name.ends_with(".om.txt") ? ExpositionFormat::kOpenMetrics : ExpositionFormat::kText;
    SampleBatch batch;
    auto r = parseText(body, format, batch);
    ASSERT_TRUE(r) << name << ": " << r.error().message();
    EXPECT_EQ(r->samples, sampleLines(body)) << name;
    EXPECT_GT(r->samples, 0u) << name;
    SampleBatch chunked;
    auto c = parseChunked(body, format, chunked, 4093);
    ASSERT_TRUE(c) << name;
    EXPECT_EQ(chunked.samples.size(), batch.samples.size()) << name;
    // Same body through the kAuto path, resolved afterwards.
    SampleBatch autod;
    TargetParser parser;
    parser.begin(ExpositionFormat::kAuto, &autod, 0);
    ASSERT_TRUE(parser.feed(body)) << name;
    auto f = parser.finish(format);
    ASSERT_TRUE(f) << name << ": " << f.error().message();
    ASSERT_EQ(autod.samples.size(), batch.samples.size()) << name;
    for (std::size_t i = 0; i < batch.samples.size(); ++i) {
      ASSERT_EQ(autod.samples[i].timestamp_ms, batch.samples[i].timestamp_ms) << name << " #" << i;
    }
  }
}

TEST(PrometheusConformanceTest, SelectedTextValues) {
  {
    SampleBatch b;
    ASSERT_TRUE(parseText(readFile(kExposition / "cmetrics" / "issue_274.prom"),
                          ExpositionFormat::kText, b));
    ASSERT_EQ(b.samples.size(), 1u);
    EXPECT_DOUBLE_EQ(b.samples[0].value, -8.58914944e+08);
  }
  {
    SampleBatch b;  // trailing comma in label sets (Micrometer)
    ASSERT_TRUE(parseText(readFile(kExposition / "cmetrics" / "issue_fluent_bit_5894.prom"),
                          ExpositionFormat::kText, b));
    bool found = false;
    for (const Sample& s : b.samples) found |= s.labels.get("pool") == "mcadb";
    EXPECT_TRUE(found);
  }
  {
    SampleBatch b;  // tab separators, timestamp, no newline
    ASSERT_TRUE(parseText(readFile(kExposition / "cmetrics" / "issue_fluent_bit_9267.prom"),
                          ExpositionFormat::kText, b));
    ASSERT_EQ(b.samples.size(), 1u);
    EXPECT_EQ(b.samples[0].name.view(), "_bu_nn");
    EXPECT_EQ(b.samples[0].timestamp_ms, 171798732);
  }
  {
    SampleBatch b;
    ASSERT_TRUE(parseText(readFile(kExposition / "cmetrics" / "issue_71.prom"),
                          ExpositionFormat::kText, b));
    bool found = false;
    for (const Sample& s : b.samples) found |= s.labels.get("usb_type") == "[C] PD PD_PPS";
    EXPECT_TRUE(found);
  }
  {
    SampleBatch b;
    ASSERT_TRUE(
        parseText(readFile(fs::path(KM_FIXTURES_DIR) / "ksm" / "ksm-v2.19.0_k8s-1.35_nri.prom"),
                  ExpositionFormat::kText, b));
    EXPECT_GT(b.metadata.size(), 100u);
    bool typed = false;
    for (const MetricMetadata& m : b.metadata) {
      typed |= m.name.view() == "kube_pod_info" && m.type == MetricType::kGauge && !m.help.empty();
    }
    EXPECT_TRUE(typed);
  }
}

// node_exporter textfile cases: each input .prom parses, and every input
// sample that node_exporter passes through appears in its .out with the same
// value.
TEST(PrometheusConformanceTest, NodeExporterTextfile) {
  const fs::path root = kExposition / "node_exporter" / "textfile";
  std::size_t cases = 0;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".out") continue;
    ++cases;
    const std::string out_body = readFile(entry.path());
    SampleBatch out;
    auto ro = parseText(out_body, ExpositionFormat::kText, out);
    ASSERT_TRUE(ro) << entry.path() << ": " << ro.error().message();
    EXPECT_EQ(ro->samples, sampleLines(out_body));
    std::map<std::string, double> exposed;
    for (const Sample& s : out.samples) exposed[seriesKey(s)] = s.value;
    const fs::path dir = root / entry.path().stem();
    if (!fs::is_directory(dir)) continue;
    for (const auto& in : fs::recursive_directory_iterator(dir)) {
      if (!in.is_regular_file() || in.path().extension() != ".prom") continue;
      SampleBatch input;
      auto ri = parseText(readFile(in.path()), ExpositionFormat::kText, input);
      ASSERT_TRUE(ri) << in.path() << ": " << ri.error().message();
      for (const Sample& s : input.samples) {
        auto it = exposed.find(seriesKey(s));
        // node_exporter drops inconsistent families and client timestamps.
        if (it == exposed.end()) continue;
        EXPECT_EQ(it->second, s.value) << in.path() << " " << seriesKey(s);
      }
    }
  }
  EXPECT_GE(cases, 14u);
}

TEST(PrometheusConformanceTest, ErrorsNameTheLine) {
  SampleBatch b;
  auto r = parseText("a 1\nb 2\nc{x=\"1\" 3\n", ExpositionFormat::kText, b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().rfind("line 3: ", 0), 0u) << r.error().message();
  r = parseText("a 1\n\n# EOF\n", ExpositionFormat::kOpenMetrics, b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "line 2: blank line");
  r = parseText("a{x=\"\xff\"} 1\n", ExpositionFormat::kText, b);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("UTF-8"), std::string::npos);
}

}  // namespace
}  // namespace kubemetrics::scrape
