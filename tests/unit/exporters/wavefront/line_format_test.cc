#include "exporters/wavefront/line_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "exporters/wavefront/config.h"
#include "kubemetrics/labels.h"
#include "unit/exporters/wavefront/wavefront_line_validator.h"

namespace kubemetrics::exporters::wavefront {
namespace {

using testing::parseWavefrontLine;
using testing::strictlyValid;
using testing::WfLine;

using Tags = std::vector<std::pair<std::string, std::string>>;

Sample makeSample(std::string_view name, double value, std::int64_t ts_ms, const Tags& tags) {
  LabelsBuilder builder;
  for (const auto& [k, v] : tags) builder.set(k, v);
  Sample s;
  s.name = Symbol::intern(name);
  s.labels = builder.build();
  s.value = value;
  s.timestamp_ms = ts_ms;
  return s;
}

LineFormatter formatter(std::string default_source = "agent-node", std::string override = "") {
  return LineFormatter(LineFormatOptions{std::move(override), std::move(default_source)});
}

std::string formatOne(const LineFormatter& f, const Sample& s, FormatStats* stats = nullptr) {
  FormatStats local;
  std::string out;
  f.format(s, out, stats != nullptr ? *stats : local);
  return out;
}

// Parses and strictly checks one line we produced ('\n' included).
WfLine checkLine(const std::string& line_with_newline) {
  EXPECT_FALSE(line_with_newline.empty());
  EXPECT_EQ(line_with_newline.back(), '\n');
  const std::string line = line_with_newline.substr(0, line_with_newline.size() - 1);
  std::string error;
  auto parsed = parseWavefrontLine(line, &error);
  EXPECT_TRUE(parsed.has_value()) << error << "\n  line: " << line;
  if (!parsed) return {};
  EXPECT_TRUE(strictlyValid(line, *parsed, &error)) << error << "\n  line: " << line;
  return *parsed;
}

// --- the fixture file ------------------------------------------------------

// The value of the JSON string field `key` on one JSONL line, decoded (the
// fixture uses \" \\ \n and \uXXXX escapes only); nullopt when absent.
std::optional<std::string> jsonString(std::string_view line, std::string_view key) {
  const std::string needle = "\"" + std::string(key) + "\": \"";
  const std::size_t at = line.find(needle);
  if (at == std::string_view::npos) return std::nullopt;
  std::string out;
  for (std::size_t i = at + needle.size(); i < line.size(); ++i) {
    const char c = line[i];
    if (c == '"') return out;
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    const char e = line[++i];
    if (e == 'n') {
      out.push_back('\n');
    } else if (e == 'u') {
      unsigned cp = std::stoul(std::string(line.substr(i + 1, 4)), nullptr, 16);
      i += 4;
      if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    } else {
      out.push_back(e);  // \" \\ \/
    }
  }
  return std::nullopt;
}

struct FixtureCase {
  std::string kind;
  bool valid = false;
  std::string line;
  std::string raw;  // the JSONL line
};

std::vector<FixtureCase> loadCases() {
  std::ifstream in(std::string(KM_FIXTURES_DIR) + "/wavefront/wavefront_line_cases.jsonl");
  EXPECT_TRUE(in.good()) << "fixture missing";
  std::vector<FixtureCase> cases;
  std::string raw;
  while (std::getline(in, raw)) {
    if (raw.empty()) continue;
    FixtureCase c;
    c.kind = jsonString(raw, "kind").value_or("");
    c.valid = raw.find("\"valid\": true") != std::string::npos;
    c.line = jsonString(raw, "line").value_or("");
    c.raw = raw;
    cases.push_back(std::move(c));
  }
  return cases;
}

// The sanitising rule written out independently: keep [A-Za-z0-9._-] (and
// '/' ',' in names), a leading ~ / U+2206 / U+0394 in names; one '-' per
// other code point.
std::string expectedSanitized(std::string_view s, bool name) {
  std::string out;
  if (name) {
    for (const std::string_view p :
         {std::string_view("~"), std::string_view("\xE2\x88\x86"), std::string_view("\xCE\x94")}) {
      if (s.starts_with(p)) {
        out.append(p);
        s.remove_prefix(p.size());
        break;
      }
    }
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (std::isalnum(c) || c == '.' || c == '_' || c == '-' || (name && (c == '/' || c == ','))) {
      out.push_back(static_cast<char>(c));
    } else if ((c & 0xC0) != 0x80) {
      out.push_back('-');
    }
  }
  return out;
}

TEST(WavefrontLineValidatorTest, AgreesWithFixtureVerdicts) {
  const auto cases = loadCases();
  ASSERT_GE(cases.size(), 50u);
  int checked = 0;
  for (const FixtureCase& c : cases) {
    if (c.kind != "metric" && c.kind != "delta") continue;
    std::string error;
    const auto parsed = parseWavefrontLine(c.line, &error);
    const bool has_source_key =
        c.line.find("source=") != std::string::npos || c.line.find("host=") != std::string::npos;
    if (c.valid && !has_source_key) {
      // java-lib substitutes a default source; the docs (and we) require one.
      EXPECT_FALSE(parsed) << c.line;
      continue;
    }
    EXPECT_EQ(parsed.has_value(), c.valid) << c.line << " error: " << error;
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

// Every valid fixture line, rebuilt as a Sample and formatted, reads back
// with the same value, timestamp, source and tags (sanitised as documented),
// and passes the strict checks.
TEST(WavefrontLineFormatTest, FixtureLinesRoundTrip) {
  const LineFormatter f = formatter();
  int round_trips = 0;
  for (const FixtureCase& c : loadCases()) {
    if ((c.kind != "metric" && c.kind != "delta") || !c.valid) continue;
    std::string error;
    const auto in = parseWavefrontLine(c.line, &error);
    if (!in) continue;  // the no-source cases
    Tags tags = in->tags;
    tags.emplace_back("source", *in->source);
    std::int64_t ts_ms = 0;
    if (in->timestamp) {
      // java-lib: values beyond ~year 5138 in seconds are milliseconds.
      ts_ms = *in->timestamp > 1e11 ? static_cast<std::int64_t>(*in->timestamp)
                                    : std::llround(*in->timestamp * 1000);
    }
    const std::string out = formatOne(f, makeSample(in->name, in->value, ts_ms, tags));
    SCOPED_TRACE(c.line + "\n  -> " + out);
    const WfLine back = checkLine(out);
    EXPECT_EQ(back.name, expectedSanitized(in->name, true));
    EXPECT_EQ(back.value, in->value);
    EXPECT_EQ(back.source, expectedSanitized(*in->source, false));
    if (ts_ms > 0) {
      ASSERT_TRUE(back.timestamp.has_value());
      EXPECT_EQ(std::llround(*back.timestamp * 1000), ts_ms);
    } else {
      EXPECT_FALSE(back.timestamp.has_value());
    }
    Tags expected_tags;
    for (const auto& [k, v] : in->tags) expected_tags.emplace_back(expectedSanitized(k, false), v);
    std::sort(expected_tags.begin(), expected_tags.end());
    Tags got = back.tags;
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, expected_tags);
    ++round_trips;
  }
  EXPECT_GE(round_trips, 15);
}

// The SDK's sanitize()/sanitizeValue() vectors: same output for names (we
// quote names only when needed, so compare without the quotes) and values.
TEST(WavefrontLineFormatTest, FixtureSanitizeVectors) {
  int checked = 0;
  for (const FixtureCase& c : loadCases()) {
    if (c.kind != "sanitize") continue;
    const auto input = jsonString(c.raw, "input");
    ASSERT_TRUE(input.has_value()) << c.raw;
    std::string out;
    if (c.raw.find("sanitizeValue") != std::string::npos) {
      appendQuotedTagValue(*input, out);
      EXPECT_EQ(out, c.line) << c.raw;
    } else {
      appendMetricName(*input, out);
      EXPECT_EQ("\"" + out + "\"", c.line) << c.raw;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

// --- exact lines -------------------------------------------------------------

TEST(WavefrontLineFormatTest, DocsExamplesExactly) {
  const LineFormatter f = formatter();
  EXPECT_EQ(formatOne(f, makeSample("new-york.power.usage", 42422, 0,
                                    {{"datacenter", "dc1"}, {"source", "localhost"}})),
            "new-york.power.usage 42422 source=localhost datacenter=\"dc1\"\n");
  EXPECT_EQ(formatOne(f, makeSample("system.cpu.loadavg.1m", 0.03, 1382754475000,
                                    {{"source", "test1.wavefront.com"}})),
            "system.cpu.loadavg.1m 0.03 1382754475 source=test1.wavefront.com\n");
  EXPECT_EQ(formatOne(f, makeSample("\xE2\x88\x86request.count", 1, 0,
                                    {{"source", "test.wavefront.com"}})),
            "\xE2\x88\x86request.count 1 source=test.wavefront.com\n");
  EXPECT_EQ(formatOne(f, makeSample("\xCE\x94request.count", 1, 0, {{"source", "t"}})),
            "\xCE\x94request.count 1 source=t\n");
  EXPECT_EQ(formatOne(f, makeSample("~agent.points", 1, 0, {{"source", "t"}})),
            "~agent.points 1 source=t\n");
}

TEST(WavefrontLineFormatTest, NamesAreSanitisedOrQuoted) {
  const LineFormatter f = formatter();
  EXPECT_EQ(formatOne(f, makeSample("node_cpu:rate5m", 1, 0, {})),
            "node_cpu-rate5m 1 source=agent-node\n");
  EXPECT_EQ(formatOne(f, makeSample("kube/pod,count", 2, 0, {})),
            "\"kube/pod,count\" 2 source=agent-node\n");
  EXPECT_EQ(formatOne(f, makeSample("system.cpu.load#", 1, 0, {})),
            "system.cpu.load- 1 source=agent-node\n");
  // One '-' per code point, not per byte; a prefix only at the start.
  EXPECT_EQ(formatOne(f, makeSample("temp.\xC2\xB0"
                                    "C.x~\xE2\x88\x86",
                                    1, 0, {})),
            "temp.-C.x-- 1 source=agent-node\n");
  EXPECT_EQ(formatOne(f, makeSample("!bang", 1, 0, {})), "-bang 1 source=agent-node\n");
}

TEST(WavefrontLineFormatTest, TagValuesAreQuotedAndEscaped) {
  const LineFormatter f = formatter();
  struct Case {
    std::string value;
    std::string written;
  } cases[] = {
      {"plain", "\"plain\""},
      {"with space", "\"with space\""},
      {"say \"hi\"", "\"say \\\"hi\\\"\""},
      {"C:\\Windows\\", "\"C:\\Windows-\""},  // trailing backslash would escape the quote
      {"a\\\"b", "\"a\\\\\"b\""},             // backslash then quote: both kept
      {"line1\nline2", "\"line1\\nline2\""},
      {"cr\r", "\"cr\\r\""},
      {"tab\there", "\"tab-here\""},
      {"caf\xC3\xA9 \xE2\x82\xAC", "\"caf\xC3\xA9 \xE2\x82\xAC\""},  // UTF-8 kept
      {"bad\xFF", "\"bad\xEF\xBF\xBD\""},                            // invalid UTF-8
      {"x=y 'q'", "\"x=y 'q'\""},
  };
  for (const Case& c : cases) {
    const std::string out = formatOne(f, makeSample("m", 1, 0, {{"k", c.value}}));
    EXPECT_EQ(out, "m 1 source=agent-node k=" + c.written + "\n") << c.value;
    const WfLine back = checkLine(out);
    ASSERT_EQ(back.tags.size(), 1u);
    if (c.value.find_first_of("\n\r\t\xFF") == std::string::npos && !c.value.ends_with('\\')) {
      EXPECT_EQ(back.tags[0].second, c.value) << "value changed on the way";
    }
  }
}

TEST(WavefrontLineFormatTest, TagKeysAreSanitised) {
  const LineFormatter f = formatter();
  EXPECT_EQ(
      formatOne(f, makeSample("m", 1, 0, {{"hello world", "x"}, {"app.kubernetes.io/name", "y"}})),
      "m 1 source=agent-node app.kubernetes.io-name=\"y\" hello-world=\"x\"\n");
}

TEST(WavefrontLineFormatTest, ValuesAndTimestamps) {
  const LineFormatter f = formatter();
  EXPECT_EQ(formatOne(f, makeSample("m", -0.5, 1500, {})), "m -0.5 1.5 source=agent-node\n");
  EXPECT_EQ(formatOne(f, makeSample("m", 1e21, 1234567890246, {})),
            "m 1e+21 1234567890.246 source=agent-node\n");
  EXPECT_EQ(formatOne(f, makeSample("m", 3, 1000, {})), "m 3 1 source=agent-node\n");
  EXPECT_EQ(formatOne(f, makeSample("m", 0.1, 1382754475010, {})),
            "m 0.1 1382754475.01 source=agent-node\n");
  checkLine(formatOne(f, makeSample("m", 1e21, 1234567890246, {})));
  checkLine(formatOne(f, makeSample("m", std::numeric_limits<double>::denorm_min(), 0, {})));
}

TEST(WavefrontLineFormatTest, NonFiniteValuesAreDroppedAndCounted) {
  const LineFormatter f = formatter();
  FormatStats stats;
  std::string out = "previous\n";
  for (const double v : {std::nan(""), std::numeric_limits<double>::infinity(),
                         -std::numeric_limits<double>::infinity()}) {
    EXPECT_FALSE(f.format(makeSample("m", v, 0, {{"k", "v"}}), out, stats));
  }
  EXPECT_EQ(out, "previous\n");
  EXPECT_EQ(stats.dropped[static_cast<std::size_t>(DropReason::kNonFiniteValue)], 3u);
  EXPECT_EQ(stats.lines, 0u);
  EXPECT_EQ(stats.droppedTotal(), 3u);
  EXPECT_EQ(dropReasonName(DropReason::kNonFiniteValue), "non_finite_value");
}

TEST(WavefrontLineFormatTest, StaleMarkersAreSkippedWithTheirOwnReason) {
  // The line protocol cannot end a series: a staleness marker writes no
  // line, counted apart from NaN values.
  const LineFormatter f = formatter();
  FormatStats stats;
  std::string out = "previous\n";
  EXPECT_FALSE(f.format(makeSample("m", kStaleNaN, 1000, {{"k", "v"}}), out, stats));
  EXPECT_FALSE(f.format(makeSample("m", std::nan(""), 1000, {{"k", "v"}}), out, stats));
  EXPECT_TRUE(f.format(makeSample("m", 1, 1000, {{"k", "v"}}), out, stats));
  EXPECT_EQ(out, "previous\nm 1 1 source=agent-node k=\"v\"\n");
  EXPECT_EQ(stats.dropped[static_cast<std::size_t>(DropReason::kStaleMarker)], 1u);
  EXPECT_EQ(stats.dropped[static_cast<std::size_t>(DropReason::kNonFiniteValue)], 1u);
  EXPECT_EQ(stats.droppedTotal(), 2u);
  EXPECT_EQ(stats.lines, 1u);
  EXPECT_EQ(dropReasonName(DropReason::kStaleMarker), "stale_marker");
}

TEST(WavefrontLineFormatTest, SourcePrecedence) {
  const LineFormatter f = formatter("agent-node");
  // The source tag wins and is consumed.
  EXPECT_EQ(formatOne(f, makeSample("m", 1, 0, {{"source", "s1"}, {"node", "n1"}})),
            "m 1 source=s1 node=\"n1\"\n");
  EXPECT_EQ(formatOne(f, makeSample("m", 1, 0, {{"node", "n1"}, {"nodename", "nn"}})),
            "m 1 source=n1 node=\"n1\" nodename=\"nn\"\n");
  EXPECT_EQ(formatOne(f, makeSample("m", 1, 0, {{"nodename", "ip-10-0-0-1.ec2.internal"}})),
            "m 1 source=ip-10-0-0-1.ec2.internal nodename=\"ip-10-0-0-1.ec2.internal\"\n");
  EXPECT_EQ(formatOne(f, makeSample("m", 1, 0, {{"cluster", "prod"}})),
            "m 1 source=agent-node cluster=\"prod\"\n");
  // Characters outside the source alphabet become '-'.
  EXPECT_EQ(formatOne(f, makeSample("m", 1, 0, {{"source", "localhost:8080"}})),
            "m 1 source=localhost-8080\n");

  const LineFormatter over = formatter("agent-node", "configured");
  EXPECT_EQ(formatOne(over, makeSample("m", 1, 0, {{"source", "s1"}, {"node", "n1"}})),
            "m 1 source=configured node=\"n1\" _source=\"s1\"\n");

  const LineFormatter none = formatter("");
  FormatStats stats;
  EXPECT_EQ(formatOne(none, makeSample("m", 1, 0, {{"k", "v"}}), &stats), "");
  EXPECT_EQ(stats.dropped[static_cast<std::size_t>(DropReason::kNoSource)], 1u);
}

std::size_t droppedFor(const FormatStats& stats, DropReason reason) {
  return stats.dropped[static_cast<std::size_t>(reason)];
}

TEST(WavefrontLineFormatTest, MetricNameLengthLimit) {
  const LineFormatter f = formatter();
  FormatStats stats;
  checkLine(formatOne(f, makeSample(std::string(256, 'a'), 1, 0, {}), &stats));
  checkLine(formatOne(f, makeSample("\xE2\x88\x86" + std::string(255, 'a'), 1, 0, {}), &stats));
  EXPECT_EQ(stats.lines, 2u);
  EXPECT_EQ(formatOne(f, makeSample(std::string(257, 'a'), 1, 0, {}), &stats), "");
  EXPECT_EQ(formatOne(f, makeSample("\xE2\x88\x86" + std::string(256, 'a'), 1, 0, {}), &stats), "");
  EXPECT_EQ(droppedFor(stats, DropReason::kNameTooLong), 2u);
  EXPECT_EQ(formatOne(f, makeSample("~", 1, 0, {}), &stats), "");
  EXPECT_EQ(droppedFor(stats, DropReason::kEmptyName), 1u);
}

TEST(WavefrontLineFormatTest, SourceLengthLimit) {
  const LineFormatter f = formatter();
  FormatStats stats;
  checkLine(formatOne(f, makeSample("m", 1, 0, {{"source", std::string(128, 's')}}), &stats));
  EXPECT_EQ(formatOne(f, makeSample("m", 1, 0, {{"source", std::string(129, 's')}}), &stats), "");
  EXPECT_EQ(droppedFor(stats, DropReason::kSourceTooLong), 1u);
}

TEST(WavefrontLineFormatTest, TagCountLimit) {
  const LineFormatter f = formatter();
  FormatStats stats;
  Tags tags;
  for (int i = 0; i < 20; ++i) tags.emplace_back("k" + std::to_string(i), "v");
  tags.emplace_back("source", "s");  // consumed: not a point tag
  EXPECT_EQ(checkLine(formatOne(f, makeSample("m", 1, 0, tags), &stats)).tags.size(), 20u);
  tags.emplace_back("k20", "v");
  EXPECT_EQ(formatOne(f, makeSample("m", 1, 0, tags), &stats), "");
  EXPECT_EQ(droppedFor(stats, DropReason::kTooManyTags), 1u);
}

std::uint64_t trimmedFor(const FormatStats& stats, TrimReason reason) {
  return stats.trimmed[static_cast<std::size_t>(reason)];
}

LineFormatter collectorFormatter() {
  return LineFormatter(LineFormatOptions{"", "agent-node", defaultExcludeTags()});
}

std::vector<std::string> keysOf(const WfLine& line) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : line.tags) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

// The agent's and the source's tags, which trimming never removes.
Tags podSampleTags() {
  return {{"cluster", "c1"},
          {"node", "node-a"},
          {"nodename", "node-a"},
          {"namespace_name", "shop"},
          {"pod_name", "web-1"},
          {"type", "pod"},
          {"workload_kind", "Deployment"},
          {"workload_name", "web"},
          {"phase", "Running"}};
}

TEST(WavefrontLineFormatTest, TwentyFiveTagsAreTrimmedToTwentyInTheCollectorsOrder) {
  const LineFormatter f = collectorFormatter();
  FormatStats stats;
  Tags tags = podSampleTags();                                         // 9
  tags.emplace_back("hostname", "node-a");                             // excluded
  tags.emplace_back("label.pod-template-hash", "7d4b9c");              // excluded
  tags.emplace_back("label.track", "-");                               // placeholder value
  tags.emplace_back("label.app", "web-frontend");                      // kept: shorter key
  tags.emplace_back("label.app.kubernetes.io/name", "web-frontend");   // duplicate value
  tags.emplace_back("label.beta.kubernetes.io/arch", "amd64");         // pre-release label
  tags.emplace_back("label.cloud.google.com/gke-nodepool", "pool-1");  // kept: in time
  for (const char* key :
       {"team", "tier", "version", "env", "owner", "cost-center", "release", "region", "zone"}) {
    tags.emplace_back(std::string("label.") + key, std::string("value-of-") + key);
  }
  ASSERT_EQ(tags.size(), 25u);

  const WfLine line =
      checkLine(formatOne(f, makeSample("kubernetes.pod.cpu.usage", 1, 0, tags), &stats));

  EXPECT_EQ(line.tags.size(), 20u);
  std::vector<std::string> expected;
  for (const auto& [key, value] : podSampleTags()) expected.push_back(key);
  for (const char* key : {"label.app", "label.cloud.google.com/gke-nodepool", "label.team",
                          "label.tier", "label.version", "label.env", "label.owner",
                          "label.cost-center", "label.release", "label.region", "label.zone"}) {
    expected.emplace_back(key);
  }
  // Keys are sanitised on the wire ('/' becomes '-').
  for (std::string& key : expected) std::replace(key.begin(), key.end(), '/', '-');
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(keysOf(line), expected);
  EXPECT_EQ(trimmedFor(stats, TrimReason::kExcluded), 2u);
  EXPECT_EQ(trimmedFor(stats, TrimReason::kEmptyValue), 1u);
  EXPECT_EQ(trimmedFor(stats, TrimReason::kDuplicateValue), 1u);
  EXPECT_EQ(trimmedFor(stats, TrimReason::kLabelPriority), 1u);
  EXPECT_EQ(stats.lines, 1u);
  EXPECT_EQ(stats.droppedTotal(), 0u);
}

TEST(WavefrontLineFormatTest, LabelTagsGoPreReleaseThenCloudThenInKeyOrder) {
  const LineFormatter f = collectorFormatter();
  FormatStats stats;
  Tags tags = podSampleTags();  // 9, and 15 label.* tags: 4 must go
  for (const char* key : {"alpha.example.com/x", "eks.amazonaws.com/nodegroup", "a1", "a2", "a3",
                          "b1", "b2", "b3", "c1", "c2", "c3", "d1", "d2", "d3", "e1"}) {
    tags.emplace_back(std::string("label.") + key, std::string("v-") + key);
  }

  const WfLine line = checkLine(formatOne(f, makeSample("m", 1, 0, tags), &stats));

  const std::vector<std::string> keys = keysOf(line);
  ASSERT_EQ(keys.size(), 20u);
  for (const char* gone :
       {"label.alpha.example.com-x", "label.eks.amazonaws.com-nodegroup", "label.a1", "label.a2"}) {
    EXPECT_EQ(std::count(keys.begin(), keys.end(), gone), 0) << gone;
  }
  EXPECT_EQ(std::count(keys.begin(), keys.end(), "label.a3"), 1);
  EXPECT_EQ(trimmedFor(stats, TrimReason::kLabelPriority), 4u);
}

TEST(WavefrontLineFormatTest, TooManyTagsThatAreNotLabelsStillDropThePoint) {
  const LineFormatter f = collectorFormatter();
  FormatStats stats;
  Tags tags;
  for (int i = 0; i < 21; ++i) tags.emplace_back("k" + std::to_string(i), "v");
  tags.emplace_back("label.app", "web");
  tags.emplace_back("hostname", "h");

  EXPECT_EQ(formatOne(f, makeSample("m", 1, 0, tags), &stats), "");

  EXPECT_EQ(droppedFor(stats, DropReason::kTooManyTags), 1u);
  // Nothing was sent, so nothing counts as trimmed.
  for (std::size_t i = 0; i < kTrimReasonCount; ++i) EXPECT_EQ(stats.trimmed[i], 0u);
}

TEST(WavefrontLineFormatTest, ExcludedTagsAreLeftOutOfEveryPoint) {
  const LineFormatter f = collectorFormatter();
  FormatStats stats;
  const WfLine line = checkLine(
      formatOne(f,
                makeSample("m", 1, 0,
                           {{"label.controller-revision-hash", "5c9f"},
                            {"label.pod-template-generation", "3"},
                            {"annotation_kubectl_kubernetes_io_last_applied_configuration", "{}"},
                            {"pod_id", "0b6f"},
                            {"label.app", "web"},
                            {"pod", "web-1"}}),
                &stats));
  EXPECT_EQ(keysOf(line), (std::vector<std::string>{"label.app", "pod"}));
  EXPECT_EQ(trimmedFor(stats, TrimReason::kExcluded), 4u);
  // A placeholder value stays while the point is within the limit.
  const WfLine dash = checkLine(formatOne(f, makeSample("m", 1, 0, {{"label.track", "-"}})));
  EXPECT_EQ(dash.tags.size(), 1u);
  // Without an exclude list (the formatter's default) every tag is sent.
  EXPECT_EQ(
      checkLine(formatOne(formatter(), makeSample("m", 1, 0, {{"hostname", "h"}}))).tags.size(),
      1u);
}

TEST(WavefrontLineFormatTest, TagLengthLimits) {
  const LineFormatter f = formatter();
  FormatStats stats;
  // key + value = 254 passes, 255 does not.
  checkLine(formatOne(f, makeSample("m", 1, 0, {{"key", std::string(251, 'v')}}), &stats));
  EXPECT_EQ(formatOne(f, makeSample("m", 1, 0, {{"key", std::string(252, 'v')}}), &stats), "");
  // An escaped quote is one character of the value.
  checkLine(formatOne(f, makeSample("m", 1, 0, {{"key", std::string(251, '"')}}), &stats));
  // Counted in UTF-16 units: a 3-byte euro sign is one, a 4-byte emoji two.
  std::string euros;
  for (int i = 0; i < 251; ++i) euros += "\xE2\x82\xAC";
  checkLine(formatOne(f, makeSample("m", 1, 0, {{"key", euros}}), &stats));
  std::string emoji;
  for (int i = 0; i < 126; ++i) emoji += "\xF0\x9F\x98\x80";  // 252 units
  EXPECT_EQ(formatOne(f, makeSample("m", 1, 0, {{"key", emoji}}), &stats), "");
  // Keys: at most 64.
  checkLine(formatOne(f, makeSample("m", 1, 0, {{std::string(64, 'k'), "v"}}), &stats));
  EXPECT_EQ(formatOne(f, makeSample("m", 1, 0, {{std::string(65, 'k'), "v"}}), &stats), "");
  EXPECT_EQ(droppedFor(stats, DropReason::kTagTooLong), 3u);
  EXPECT_EQ(stats.lines, 4u);
}

TEST(WavefrontLineFormatTest, KeysCollidingAfterSanitisingAreDropped) {
  const LineFormatter f = formatter();
  FormatStats stats;
  EXPECT_EQ(formatOne(f, makeSample("m", 1, 0, {{"a-b", "1"}, {"a:b", "2"}}), &stats), "");
  EXPECT_EQ(droppedFor(stats, DropReason::kDuplicateTagKey), 1u);
  const LineFormatter over = formatter("n", "configured");
  EXPECT_EQ(formatOne(over, makeSample("m", 1, 0, {{"_source", "1"}, {"source", "2"}}), &stats),
            "");
  EXPECT_EQ(droppedFor(stats, DropReason::kDuplicateTagKey), 2u);
}

TEST(WavefrontLineFormatTest, SanitisedSamplesAreCounted) {
  const LineFormatter f = formatter();
  FormatStats stats;
  formatOne(f, makeSample("ok.name", 1, 0, {{"k", "say \"hi\""}}), &stats);
  EXPECT_EQ(stats.sanitized, 0u);
  formatOne(f, makeSample("bad:name", 1, 0, {}), &stats);
  formatOne(f, makeSample("m", 1, 0, {{"k", "a\nb"}}), &stats);
  EXPECT_EQ(stats.sanitized, 2u);
  EXPECT_EQ(stats.lines, 3u);
}

// Random bytes everywhere: every line written passes the strict checks, and
// every sample is either written or counted as dropped.
TEST(WavefrontLineFormatTest, RandomInputsNeverProduceInvalidLines) {
  std::mt19937 rng(12345);
  const std::string alphabet =
      std::string("aZ09._-/,~ \"'\\=\n\r\t#$:\xE2\x88\x86\xCE\x94\xC3\xA9\xFF\x80") + '\0';
  auto randomText = [&](std::size_t max_len) {
    std::string s;
    const std::size_t len = 1 + rng() % max_len;
    for (std::size_t i = 0; i < len; ++i) s.push_back(alphabet[rng() % alphabet.size()]);
    return s;
  };
  const LineFormatter f = formatter("node-1");
  FormatStats stats;
  std::size_t written = 0;
  const int kSamples = 5000;
  for (int i = 0; i < kSamples; ++i) {
    Tags tags;
    const int n = static_cast<int>(rng() % 24);
    for (int t = 0; t < n; ++t)
      tags.emplace_back(randomText(8), randomText(rng() % 4 == 0 ? 300 : 12));
    if (rng() % 3 == 0) tags.emplace_back("source", randomText(20));
    const double value = rng() % 50 == 0 ? std::nan("") : static_cast<double>(rng()) / 7.0;
    std::string out;
    if (f.format(
            makeSample(randomText(rng() % 10 == 0 ? 300 : 30), value, rng() % 2 ? 0 : rng(), tags),
            out, stats)) {
      ++written;
      ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
      checkLine(out);
      if (::testing::Test::HasFailure()) FAIL() << "line: " << out;
    } else {
      EXPECT_EQ(out, "");
    }
  }
  EXPECT_EQ(stats.lines, written);
  EXPECT_EQ(stats.lines + stats.droppedTotal(), static_cast<std::uint64_t>(kSamples));
  EXPECT_GT(stats.lines, 1000u);
  EXPECT_GT(stats.droppedTotal(), 100u);
}

}  // namespace
}  // namespace kubemetrics::exporters::wavefront
