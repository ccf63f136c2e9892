// WavefrontLineParser: every case of ../shared/fixtures/wavefront/wavefront_line_cases.jsonl
// (lines and verdicts from the Wavefront docs, java-lib's decoder tests, the
// Java SDK and the proxy; each line carries its source), then one test per
// rule and per rejection reason.
#include "scrapers/listeners/wavefront_line_parser.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace kubemetrics::scrapers::listeners {
namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;  // any fixed instant: no clock read
constexpr std::string_view kDefaultSource = "default-node";

struct Parsed {
  LineResult result = LineResult::kRejected;
  LineRejection why = LineRejection::kHistogram;
  Sample sample;
};

Parsed parseWith(WavefrontLineParser& parser, std::string_view line,
                 std::string_view default_source = kDefaultSource) {
  Parsed p;
  p.result = parser.parse(line, kNow, default_source, p.sample, &p.why);
  return p;
}

Parsed parseLine(std::string_view line, LineLimits limits = {}) {
  WavefrontLineParser parser(limits);
  return parseWith(parser, line);
}

LineRejection rejection(std::string_view line, LineLimits limits = {}) {
  const Parsed p = parseLine(line, limits);
  EXPECT_EQ(p.result, LineResult::kRejected) << line;
  return p.why;
}

std::map<std::string, std::string> labelsOf(const Sample& s) {
  std::map<std::string, std::string> out;
  for (const Label& l : s.labels) out[l.name.str()] = l.value.str();
  return out;
}

// ---------------------------------------------------------------------------
// The fixture corpus.

struct Case {
  std::string kind;
  bool valid = false;
  std::string line;
  bool has_expect = false;
  std::string metric;
  bool has_value = false;
  double value = 0;
  bool has_timestamp = false;
  std::int64_t timestamp_ms = 0;
  bool has_source = false;
  std::string source;
  std::map<std::string, std::string> tags;
};

double number(simdjson::dom::element e) {
  if (e.is_uint64()) return static_cast<double>(e.get_uint64().value());
  if (e.is_int64()) return static_cast<double>(e.get_int64().value());
  return e.get_double().value();
}

std::vector<Case> loadCases() {
  const std::string path = std::string(KM_FIXTURES_DIR) + "/wavefront/wavefront_line_cases.jsonl";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<Case> cases;
  simdjson::dom::parser json;
  std::string text;
  while (std::getline(in, text)) {
    if (text.empty()) continue;
    simdjson::dom::element doc;
    EXPECT_EQ(json.parse(text).get(doc), simdjson::SUCCESS) << text;
    Case c;
    c.kind = std::string(doc["kind"].get_string().value());
    c.valid = doc["valid"].get_bool().value();
    c.line = std::string(doc["line"].get_string().value());
    simdjson::dom::element expect;
    if (doc["expect"].get(expect) == simdjson::SUCCESS && expect.is_object()) {
      c.has_expect = true;
      std::string_view s;
      if (expect["metric"].get(s) == simdjson::SUCCESS) c.metric = std::string(s);
      simdjson::dom::element v;
      if (expect["value"].get(v) == simdjson::SUCCESS) {
        c.has_value = true;
        c.value = number(v);
      }
      if (expect["timestamp"].get(v) == simdjson::SUCCESS) {  // seconds
        c.has_timestamp = true;
        c.timestamp_ms = static_cast<std::int64_t>(number(v)) * 1000;
      }
      if (expect["timestamp_ms"].get(v) == simdjson::SUCCESS) {
        c.has_timestamp = true;
        c.timestamp_ms = static_cast<std::int64_t>(number(v));
      }
      if (expect["source"].get(s) == simdjson::SUCCESS) {
        c.has_source = true;
        c.source = std::string(s);
      }
      simdjson::dom::object tags;
      if (expect["tags"].get(tags) == simdjson::SUCCESS) {
        for (auto field : tags) {
          c.tags[std::string(field.key)] = std::string(field.value.get_string().value());
        }
      }
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

// Valid lines the proxy itself blocks, so we do too by default: java-lib's
// ReportMetricDecoderTest checks the decoder alone, but the proxy then runs
// com.wavefront.data.Validation, whose charactersAreValid() refuses these
// names (WF-400) and tag keys (WF-401). With strict_charset = false they are
// accepted exactly as the fixture expects (checked below).
const std::map<std::string_view, LineRejection>& strictDivergences() {
  static const std::map<std::string_view, LineRejection> m = {
      // '$', '(', ')', '+' in a quoted name.
      {R"("1vehicle.charge.$()+battery_level" 93 1234567890.246 host=12345 blah="test hello" "hello world"=test)",
       LineRejection::kBadName},
      // A space in the quoted key "hello world".
      {R"(1vehicle.charge.battery_level 93 1234567890.246 host=12345 blah="test hello" "hello world"=test)",
       LineRejection::kBadTag},
      // A single quote in a quoted name.
      {R"("1vehicle.charge.'battery_level" 93 1234567890.246 host=12345 blah="test'\"hello\"" "hello world"='"test\'')",
       LineRejection::kBadName},
  };
  return m;
}

// The docs call a line without source= invalid; the proxy's decoder gives it
// its default source instead (ReportPointIngesterFormatter), and so do we:
// an application that relied on the proxy keeps working.
bool acceptedDespiteDocs(const Case& c) { return c.line == "cpu0.loadavg.1m 0.03"; }

void expectCase(const Case& c, const Parsed& p) {
  ASSERT_EQ(p.result, LineResult::kPoint) << c.line << " rejected: " << rejectionName(p.why);
  if (!c.has_expect) return;
  EXPECT_EQ(p.sample.name.view(), c.metric) << c.line;
  if (c.has_value) {
    EXPECT_EQ(p.sample.value, c.value) << c.line;
  }
  if (c.has_timestamp) {
    EXPECT_EQ(p.sample.timestamp_ms, c.timestamp_ms) << c.line;
  }
  std::map<std::string, std::string> labels = labelsOf(p.sample);
  EXPECT_EQ(labels["source"], c.has_source ? c.source : std::string(kDefaultSource)) << c.line;
  labels.erase("source");
  EXPECT_EQ(labels, c.tags) << c.line;
}

TEST(WavefrontLineParserTest, FixtureCorpusStrict) {
  const std::vector<Case> cases = loadCases();
  ASSERT_GE(cases.size(), 50u);
  WavefrontLineParser parser;  // one parser for all: state must not leak between lines
  std::size_t points = 0, rejected = 0, diverging = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    if (c.kind == "sanitize") continue;  // SDK sanitizer outputs, not lines
    const Parsed p = parseWith(parser, c.line);
    if (c.kind == "histogram") {
      // Not forwarded yet: every histogram line is rejected, the valid ones
      // as histograms (the invalid ones may not even start with !M).
      EXPECT_EQ(p.result, LineResult::kRejected);
      if (c.valid) {
        EXPECT_EQ(p.why, LineRejection::kHistogram);
      }
      ++rejected;
      continue;
    }
    if (auto it = strictDivergences().find(c.line); it != strictDivergences().end()) {
      ASSERT_TRUE(c.valid);
      EXPECT_EQ(p.result, LineResult::kRejected);
      EXPECT_EQ(p.why, it->second) << rejectionName(p.why);
      ++diverging;
      continue;
    }
    if (c.valid || acceptedDespiteDocs(c)) {
      expectCase(c, p);
      ++points;
    } else {
      EXPECT_EQ(p.result, LineResult::kRejected);
      ++rejected;
    }
  }
  EXPECT_EQ(diverging, strictDivergences().size());
  EXPECT_GE(points, 25u);
  EXPECT_GE(rejected, 20u);
}

TEST(WavefrontLineParserTest, FixtureCorpusLenientMatchesTheDecoderExactly) {
  LineLimits limits;
  limits.strict_charset = false;
  WavefrontLineParser parser(limits);
  std::size_t points = 0;
  for (const Case& c : loadCases()) {
    SCOPED_TRACE(c.line);
    if (c.kind != "metric" && c.kind != "delta") continue;
    const Parsed p = parseWith(parser, c.line);
    if (c.valid || acceptedDespiteDocs(c)) {
      expectCase(c, p);
      ++points;
    } else {
      EXPECT_EQ(p.result, LineResult::kRejected);
    }
  }
  EXPECT_GE(points, 28u);
}

TEST(WavefrontLineParserTest, FixtureInvalidLinesGiveTheirReasons) {
  EXPECT_EQ(rejection("system.cpu.load# 0.03 source=test.wavefront.com"), LineRejection::kBadName);
  EXPECT_EQ(rejection("system.cpu.loadavg source=test.wavefront.com"),
            LineRejection::kMissingValue);
  EXPECT_EQ(rejection(R"(test.metric 1 host=test test=")"), LineRejection::kUnterminatedQuote);
}

// ---------------------------------------------------------------------------
// One rule at a time.

TEST(WavefrontLineParserTest, ParsesTheBasicForm) {
  const Parsed p = parseLine("request.count 1001 1382754475 source=test.wavefront.com dc=\"dc1\"");
  ASSERT_EQ(p.result, LineResult::kPoint);
  EXPECT_EQ(p.sample.name.view(), "request.count");
  EXPECT_EQ(p.sample.value, 1001);
  EXPECT_EQ(p.sample.timestamp_ms, 1'382'754'475'000);
  EXPECT_EQ(labelsOf(p.sample),
            (std::map<std::string, std::string>{{"source", "test.wavefront.com"}, {"dc", "dc1"}}));
}

TEST(WavefrontLineParserTest, SkipsBlankAndCommentLines) {
  for (const std::string_view line : {"", "   ", "\r", "\t \r", "# a comment", "  #x 1 source=a"}) {
    Sample s;
    LineRejection why{};
    WavefrontLineParser parser;
    EXPECT_EQ(parser.parse(line, kNow, kDefaultSource, s, &why), LineResult::kSkipped)
        << "'" << line << "'";
  }
}

TEST(WavefrontLineParserTest, MissingValue) {
  EXPECT_EQ(rejection("metric.name"), LineRejection::kMissingValue);
  EXPECT_EQ(rejection("metric.name   "), LineRejection::kMissingValue);
  EXPECT_EQ(rejection("metric.name host=a"), LineRejection::kMissingValue);
}

TEST(WavefrontLineParserTest, BadValue) {
  for (const std::string_view line :
       {"m abc source=a", "m 1.2.3 source=a", "m 12abc", "m NaN", "m Infinity", "m -inf", "m 1e400",
        "m --1", "m +", "m +-1", "m # 3"}) {
    EXPECT_EQ(rejection(line), LineRejection::kBadValue) << line;
  }
}

TEST(WavefrontLineParserTest, AcceptsDecimalAndScientificValues) {
  const std::vector<std::pair<std::string_view, double>> cases = {
      {"m 42", 42},         {"m -3.5", -3.5},
      {"m +7", 7},          {"m 1e3", 1000},
      {"m 2.5E-3", 0.0025}, {"m .5", 0.5},
      {"m 5.", 5},          {"m 0", 0},
      {"m \"12\"", 12},     {"m 1.7976931348623157e308", 1.7976931348623157e308},
  };
  for (const auto& [line, value] : cases) {
    const Parsed p = parseLine(line);
    ASSERT_EQ(p.result, LineResult::kPoint) << line << " " << rejectionName(p.why);
    EXPECT_EQ(p.sample.value, value) << line;
  }
}

TEST(WavefrontLineParserTest, UnterminatedQuote) {
  for (const std::string_view line :
       {"\"metric 1 source=a", "m 1 source=\"a", "m 1 'key=v", "m 1 k='v\\'", "m 1 k=\"v\\\""}) {
    EXPECT_EQ(rejection(line), LineRejection::kUnterminatedQuote) << line;
  }
}

TEST(WavefrontLineParserTest, LineTooLong) {
  LineLimits limits;
  limits.max_line_bytes = 40;
  const std::string fits = "m 1 source=a k=\"" + std::string(40 - 17, 'x') + "\"";
  ASSERT_EQ(fits.size(), 40u);
  EXPECT_EQ(parseLine(fits, limits).result, LineResult::kPoint);
  EXPECT_EQ(parseLine(fits + "\r", limits).result, LineResult::kPoint);  // '\r' not counted
  EXPECT_EQ(rejection(fits + " ", limits), LineRejection::kLineTooLong);
}

std::string lineWithTags(std::size_t n, std::string_view prefix = "k") {
  std::string line = "m 1 source=a";
  for (std::size_t i = 0; i < n; ++i) {
    line += " " + std::string(prefix) + std::to_string(i) + "=v";
  }
  return line;
}

TEST(WavefrontLineParserTest, TooManyTags) {
  EXPECT_EQ(parseLine(lineWithTags(20)).result, LineResult::kPoint);
  EXPECT_EQ(rejection(lineWithTags(21)), LineRejection::kTooManyTags);
  EXPECT_EQ(rejection(lineWithTags(2000)), LineRejection::kTooManyTags);
  // A repeated key is one tag (the last value wins, as in the proxy's map).
  std::string repeated = lineWithTags(20) + " k0=w k1=w k2=w";
  const Parsed p = parseLine(repeated);
  ASSERT_EQ(p.result, LineResult::kPoint);
  EXPECT_EQ(p.sample.labels.get("k0"), "w");
  EXPECT_EQ(p.sample.labels.size(), 21u);  // 20 tags + source
  // `_host` (host= next to source=) counts as a tag; the source does not.
  EXPECT_EQ(rejection(lineWithTags(20) + " host=h"), LineRejection::kTooManyTags);
  LineLimits two;
  two.max_tags = 2;
  EXPECT_EQ(parseLine("m 1 a=1 b=2 source=s", two).result, LineResult::kPoint);
  EXPECT_EQ(rejection("m 1 a=1 b=2 c=3 source=s", two), LineRejection::kTooManyTags);
}

TEST(WavefrontLineParserTest, BadTag) {
  for (const std::string_view line :
       {"m 1 source=a novalue", "m 1 source=a k", "m 1 k=", "m 1 k=  ", "m 1 =v", "m 1 \"\"=v",
        "m 1 k=\"\"", "m 1 k=\" \t\"", "m 1 bad#key=v", "m 1 k==v", "m 1 a=b=c",
        "m 1 \"bad key\"=v", "m 1 k\xC3\xA9=v"}) {
    EXPECT_EQ(rejection(line), LineRejection::kBadTag) << line;
  }
}

TEST(WavefrontLineParserTest, BadName) {
  for (const std::string_view line :
       {"bad#name 1", "na=me 1", "\"\" 1", "\"a b\" 1", "x\xE2\x88\x86 1", "!X 1", "~~a 1",
        "caf\xC3\xA9 1", "\"tab\there\" 1"}) {
    EXPECT_EQ(rejection(line), LineRejection::kBadName) << line;
  }
  // Lenient: quoted names may hold anything, bare ones are still checked.
  LineLimits lenient;
  lenient.strict_charset = false;
  EXPECT_EQ(parseLine("\"a b\" 1", lenient).result, LineResult::kPoint);
  EXPECT_EQ(parseLine("\"caf\xC3\xA9\" 1", lenient).result, LineResult::kPoint);
  EXPECT_EQ(rejection("bad#name 1", lenient), LineRejection::kBadName);
  EXPECT_EQ(rejection("\"\" 1", lenient), LineRejection::kBadName);
}

TEST(WavefrontLineParserTest, AcceptsEveryNameCharacterAndThePrefixes) {
  for (const std::string_view name :
       {"a.b-c_d/e,f.0123456789.ABCZ.xyz", "\"slash/and,comma\"", "~proxy.points",
        "\xE2\x88\x86~delta.internal", "1starts.with.digit"}) {
    const Parsed p = parseLine(std::string(name) + " 1");
    ASSERT_EQ(p.result, LineResult::kPoint) << name << " " << rejectionName(p.why);
  }
}

TEST(WavefrontLineParserTest, NameTooLong) {
  const std::string longest(256, 'n');
  EXPECT_EQ(parseLine(longest + " 1").result, LineResult::kPoint);
  EXPECT_EQ(rejection(longest + "n 1"), LineRejection::kNameTooLong);
  // The delta prefix is one Java character, though three bytes.
  EXPECT_EQ(parseLine("\xE2\x88\x86" + std::string(255, 'n') + " 1").result, LineResult::kPoint);
}

TEST(WavefrontLineParserTest, BadTimestamp) {
  for (const std::string_view line :
       {"m 1 12abc source=a", "m 1 1.2.3", "m 1 99999999999999999999999", "m 1 1e400", "m 1 1tag=v",
        "m 1 1700000000.5x"}) {
    EXPECT_EQ(rejection(line), LineRejection::kBadTimestamp) << line;
  }
}

TEST(WavefrontLineParserTest, TimestampUnitsGiveTheSameMilliseconds) {
  // The proxy tells the unit by magnitude: < 10^12 s, < 10^13 ms, < 10^16 µs, else ns.
  const std::int64_t expected = 1'700'000'000'123;
  for (const std::string_view ts : {"1700000000.123", "1700000000.1234", "1700000000123",
                                    "1700000000123456", "1700000000123456789", "1700000000123.9"}) {
    const Parsed p = parseLine("m 1 " + std::string(ts) + " source=a");
    ASSERT_EQ(p.result, LineResult::kPoint) << ts;
    EXPECT_EQ(p.sample.timestamp_ms, expected) << ts;
  }
  const std::vector<std::pair<std::string_view, std::int64_t>> whole = {
      {"1700000000", 1'700'000'000'000},
      {"1700000000.", 1'700'000'000'000},
      {"1700000000.1", 1'700'000'000'100},
      {"1.7e9", 1'700'000'000'000},
      {"0", 0},
      {"999999999999", 999'999'999'999'000},
      {"1000000000000", 1'000'000'000'000}};
  for (const auto& [ts, ms] : whole) {
    const Parsed p = parseLine("m 1 " + std::string(ts));
    ASSERT_EQ(p.result, LineResult::kPoint) << ts;
    EXPECT_EQ(p.sample.timestamp_ms, ms) << ts;
  }
}

TEST(WavefrontLineParserTest, NoTimestampMeansNow) {
  const Parsed p = parseLine("m 1 source=a");
  ASSERT_EQ(p.result, LineResult::kPoint);
  EXPECT_EQ(p.sample.timestamp_ms, kNow);
}

TEST(WavefrontLineParserTest, Histogram) {
  for (const std::string_view line : {"!M 1493773500 #20 30 #10 5 request.latency source=a",
                                      "!H #1 2 m", "!D 1 #1 2 m", "  !M", "!M\t#1 2 m"}) {
    EXPECT_EQ(rejection(line), LineRejection::kHistogram) << line;
  }
  EXPECT_EQ(rejection("!Mx 1"), LineRejection::kBadName);
}

TEST(WavefrontLineParserTest, UnsupportedCommands) {
  EXPECT_EQ(rejection("@SourceTag action=save source=a tag1"), LineRejection::kUnsupportedCommand);
  EXPECT_EQ(rejection("@Event 1 2 name=x"), LineRejection::kUnsupportedCommand);
}

TEST(WavefrontLineParserTest, SourceRules) {
  WavefrontLineParser parser;
  auto labels = [&](std::string_view line, std::string_view def = kDefaultSource) {
    const Parsed p = parseWith(parser, line, def);
    EXPECT_EQ(p.result, LineResult::kPoint) << line << " " << rejectionName(p.why);
    return labelsOf(p.sample);
  };
  using M = std::map<std::string, std::string>;
  EXPECT_EQ(labels("m 1"), (M{{"source", "default-node"}}));
  EXPECT_EQ(labels("m 1 k=v", ""), (M{{"k", "v"}}));  // no default: the exporter picks one
  EXPECT_EQ(labels("m 1 host=h"), (M{{"source", "h"}}));
  EXPECT_EQ(labels("m 1 a=1 source=s b=2"), (M{{"source", "s"}, {"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(labels("m 1 host=h source=s"), (M{{"source", "s"}, {"_host", "h"}}));
  EXPECT_EQ(labels("m 1 source=s host=h _host=x"), (M{{"source", "s"}, {"_host", "h"}}));
  EXPECT_EQ(labels("m 1 source=a source=b"), (M{{"source", "b"}}));
  EXPECT_EQ(labels("m 1 tag=t source=s"), (M{{"source", "s"}, {"_tag", "t"}}));
  EXPECT_EQ(labels("m 1 \"source\"=\"local host:80\""), (M{{"source", "local host:80"}}));
}

TEST(WavefrontLineParserTest, BadSource) {
  EXPECT_EQ(rejection("m 1 source=\"\""), LineRejection::kBadSource);
  EXPECT_EQ(rejection("m 1 host=\"  \""), LineRejection::kBadSource);
  EXPECT_EQ(parseLine("m 1 source=" + std::string(128, 's')).result, LineResult::kPoint);
  EXPECT_EQ(rejection("m 1 source=" + std::string(129, 's')), LineRejection::kBadSource);
}

TEST(WavefrontLineParserTest, TagTooLong) {
  EXPECT_EQ(parseLine("m 1 " + std::string(64, 'k') + "=v").result, LineResult::kPoint);
  EXPECT_EQ(rejection("m 1 " + std::string(65, 'k') + "=v"), LineRejection::kTagTooLong);
  EXPECT_EQ(rejection("m 1 k=" + std::string(256, 'v')), LineRejection::kTagTooLong);
  // key + value <= 254 (WF-411: "k=v" must be shorter than 256).
  EXPECT_EQ(parseLine("m 1 kk=" + std::string(252, 'v')).result, LineResult::kPoint);
  EXPECT_EQ(rejection("m 1 kk=" + std::string(253, 'v')), LineRejection::kTagTooLong);
  // Java characters, not bytes: 200 two-byte characters are 200.
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "\xC3\xA9";
  EXPECT_EQ(parseLine("m 1 k=\"" + accents + "\"").result, LineResult::kPoint);
}

TEST(WavefrontLineParserTest, DeltaCounters) {
  for (const std::string_view prefix : {"\xE2\x88\x86", "\xCE\x94"}) {
    const std::string name = std::string(prefix) + "request.count";
    const Parsed p = parseLine(name + " 3 source=a");
    ASSERT_EQ(p.result, LineResult::kPoint);
    EXPECT_EQ(p.sample.name.view(), name);  // passed through unchanged
    EXPECT_EQ(rejection(name + " 0 source=a"), LineRejection::kNonPositiveDelta);
    EXPECT_EQ(rejection(name + " -1 source=a"), LineRejection::kNonPositiveDelta);
  }
  EXPECT_EQ(parseLine("not.delta -1").result, LineResult::kPoint);
}

TEST(WavefrontLineParserTest, QuotesAndEscapes) {
  WavefrontLineParser parser;
  auto tag = [&](std::string_view line) {
    const Parsed p = parseWith(parser, line);
    EXPECT_EQ(p.result, LineResult::kPoint) << line << " " << rejectionName(p.why);
    return std::string(p.sample.labels.get("k"));
  };
  EXPECT_EQ(tag(R"(m 1 k="a \"quoted\" word")"), R"(a "quoted" word)");
  EXPECT_EQ(tag(R"(m 1 k='it\'s')"), "it's");
  EXPECT_EQ(tag(R"(m 1 k='say "hi"')"), R"(say "hi")");
  EXPECT_EQ(tag(R"(m 1 k="C:\dir\n")"), R"(C:\dir\n)");  // other backslashes are literal
  EXPECT_EQ(tag(R"(m 1 k="a=b c")"), "a=b c");
  EXPECT_EQ(tag(R"(m 1 "k"="v"x=y)"), "v");  // no blank needed after a closing quote
  EXPECT_EQ(tag("m 1 k = v"), "v");          // blanks around '=' (StringParser skips them)
  EXPECT_EQ(tag("m\t1\tk=v\t"), "v");
  EXPECT_EQ(tag("  m 1 k=v\r"), "v");
  EXPECT_EQ(tag("m 1 k=v\"w"), "v\"w");  // a quote inside a bare token is a character
  const Parsed p = parseWith(parser, R"("quoted.\"name\"" 1)", kDefaultSource);
  EXPECT_EQ(p.result, LineResult::kRejected);  // '"' is not a name character
}

TEST(WavefrontLineParserTest, InvalidUtf8BecomesReplacementCharacters) {
  const Parsed p = parseLine(
      "m 1 k=a\xFF"
      "b j=\"\xC3\" source=s\xFE");
  ASSERT_EQ(p.result, LineResult::kPoint);
  EXPECT_EQ(p.sample.labels.get("k"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(p.sample.labels.get("j"), "\xEF\xBF\xBD");
  EXPECT_EQ(p.sample.labels.get("source"), "s\xEF\xBF\xBD");
}

TEST(WavefrontLineParserTest, LeavesTheSampleAloneOnRejection) {
  WavefrontLineParser parser;
  Sample s;
  s.name = Symbol::intern("before");
  s.value = 7;
  LineRejection why{};
  EXPECT_EQ(parser.parse("m 1 k=\"open", kNow, kDefaultSource, s, &why), LineResult::kRejected);
  EXPECT_EQ(s.name.view(), "before");
  EXPECT_EQ(s.value, 7);
  // A null `why` is allowed.
  EXPECT_EQ(parser.parse("m", kNow, kDefaultSource, s, nullptr), LineResult::kRejected);
}

TEST(WavefrontLineParserTest, ReusedParserKeepsNoStateBetweenLines) {
  WavefrontLineParser parser;
  const Parsed a = parseWith(parser, R"(m 1 k="e\"scaped" source=a host=h tag=t)");
  ASSERT_EQ(a.result, LineResult::kPoint);
  const Parsed b = parseWith(parser, "m 2 j=v");
  ASSERT_EQ(b.result, LineResult::kPoint);
  EXPECT_EQ(labelsOf(b.sample),
            (std::map<std::string, std::string>{{"j", "v"}, {"source", "default-node"}}));
  EXPECT_EQ(a.sample.labels.get("k"), "e\"scaped");  // interned: still valid
}

TEST(WavefrontLineParserTest, RejectionNamesAreDistinctSnakeCase) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kRejectionCount; ++i) {
    const std::string_view name = rejectionName(static_cast<LineRejection>(i));
    EXPECT_NE(name, "unknown") << i;
    for (const char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << name;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), kRejectionCount);
  EXPECT_EQ(rejectionName(static_cast<LineRejection>(kRejectionCount)), "unknown");
}

}  // namespace
}  // namespace kubemetrics::scrapers::listeners
