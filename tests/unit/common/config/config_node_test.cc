#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/config/config_document.h"
#include "kubemetrics/config.h"

namespace kubemetrics {
namespace {

using std::chrono::milliseconds;

std::vector<std::string> errorStrings(const ConfigDocument& doc) {
  std::vector<std::string> out;
  for (const ConfigError& e : doc.errors()) out.push_back(e.toString());
  return out;
}

using Errors = std::vector<std::string>;

TEST(ConfigNodeTest, AbsentKeysGiveDefaultsAndAppearInEffectiveConfig) {
  auto doc = ConfigDocument::parse("{}", "test");
  ConfigNode root = doc->root();
  EXPECT_EQ(root.getString("name", "fallback"), "fallback");
  EXPECT_TRUE(root.getBool("enabled", true));
  EXPECT_EQ(root.getInt("count", 7, 0, 10), 7);
  EXPECT_EQ(root.getDuration("interval", milliseconds(90000)), milliseconds(90000));
  EXPECT_EQ(root.getBytes("max_bytes", 1ULL << 30), 1ULL << 30);
  EXPECT_EQ(root.getEnum("mode", "a", {"a", "b"}), "a");
  EXPECT_TRUE(root.getStringList("list").empty());
  EXPECT_TRUE(root.getStringMap("map").empty());
  root.finish();
  EXPECT_TRUE(doc->errors().empty());
  EXPECT_EQ(doc->effectiveYaml(),
            "name: fallback\nenabled: true\ncount: 7\ninterval: 1m30s\nmax_bytes: 1GiB\nmode: "
            "a\nlist: []\nmap: {}\n");
}

TEST(ConfigNodeTest, ListDefaultShowsInEffectiveConfigAndAnEmptyListReplacesIt) {
  auto doc = ConfigDocument::parse("given: []\n", "test");
  ConfigNode root = doc->root();
  EXPECT_EQ(root.getStringList("absent", {"tmpfs", "proc"}),
            (std::vector<std::string>{"tmpfs", "proc"}));
  EXPECT_TRUE(root.getStringList("given", {"tmpfs"}).empty());
  root.finish();
  EXPECT_TRUE(doc->errors().empty());
  EXPECT_EQ(doc->effectiveYaml(), "absent:\n  - tmpfs\n  - proc\ngiven: []\n");
}

TEST(ConfigNodeTest, ReadsPresentValues) {
  auto doc = ConfigDocument::parse(
      "name: web\nenabled: false\ncount: -3\ninterval: 1.5s\nmax_bytes: 64KiB\nmode: b\n"
      "list: [a, 'b c', 3]\nmap: {x: '1', y: two}\nempty:\n",
      "test");
  ConfigNode root = doc->root();
  EXPECT_EQ(root.getString("name", ""), "web");
  EXPECT_FALSE(root.getBool("enabled", true));
  EXPECT_EQ(root.getInt("count", 0, -10, 10), -3);
  EXPECT_EQ(root.getDuration("interval", milliseconds(1)), milliseconds(1500));
  EXPECT_EQ(root.getBytes("max_bytes", 1), 65536u);
  EXPECT_EQ(root.getEnum("mode", "a", {"a", "b"}), "b");
  EXPECT_EQ(root.getStringList("list"), (std::vector<std::string>{"a", "b c", "3"}));
  EXPECT_EQ(root.getStringMap("map"),
            (std::map<std::string, std::string>{{"x", "1"}, {"y", "two"}}));
  // A key with no value means "the default".
  EXPECT_EQ(root.getString("empty", "dflt"), "dflt");
  root.finish();
  EXPECT_EQ(errorStrings(*doc), Errors{});
  EXPECT_EQ(doc->effectiveYaml(),
            "name: web\nenabled: false\ncount: -3\ninterval: 1.5s\nmax_bytes: 64KiB\nmode: b\n"
            "list:\n  - a\n  - b c\n  - 3\nmap:\n  x: 1\n  y: two\nempty: dflt\n");
}

TEST(ConfigNodeTest, BadValuesAreReportedWithPathAndGivenValue) {
  auto doc = ConfigDocument::parse(R"(
sources:
  host:
    interval: fast
    timeout: 15
    enabled: yes
    port: 99999
    workers: many
    max_bytes: 1gb
    mode: c
    name: [a]
    list: x
    map: [a]
    strs: [a, {b: c}]
    labels: {a: [1]}
)",
                                   "test");
  ConfigNode root = doc->root();
  ConfigNode sources = root.child("sources");
  ConfigNode host = sources.child("host");
  EXPECT_EQ(host.getDuration("interval", milliseconds(15000)), milliseconds(15000));
  EXPECT_EQ(host.getDuration("timeout", milliseconds(1000)), milliseconds(1000));
  EXPECT_TRUE(host.getBool("enabled", true));
  EXPECT_EQ(host.getInt("port", 80, 1, 65535), 80);
  EXPECT_EQ(host.getInt("workers", 1, 1, 16), 1);
  EXPECT_EQ(host.getBytes("max_bytes", 5), 5u);
  EXPECT_EQ(host.getEnum("mode", "a", {"a", "b"}), "a");
  EXPECT_EQ(host.getString("name", "d"), "d");
  EXPECT_TRUE(host.getStringList("list").empty());
  EXPECT_TRUE(host.getStringMap("map").empty());
  EXPECT_EQ(host.getStringList("strs"), std::vector<std::string>{"a"});
  EXPECT_TRUE(host.getStringMap("labels").empty());
  host.finish();
  EXPECT_EQ(errorStrings(*doc),
            (Errors{
                "sources.host.interval: expected a duration such as 15s or 1m30s (got \"fast\")",
                "sources.host.timeout: missing unit (write e.g. 15s, 500ms or 1m30s) (got \"15\")",
                "sources.host.enabled: expected true or false (got \"yes\")",
                "sources.host.port: must be between 1 and 65535 (got \"99999\")",
                "sources.host.workers: expected an integer (got \"many\")",
                "sources.host.max_bytes: unknown unit \"gb\" (use B, KB, MB, GB, TB, KiB, MiB, "
                "GiB or TiB) (got \"1gb\")",
                "sources.host.mode: expected one of a, b (got \"c\")",
                "sources.host.name: expected a string (got a list)",
                "sources.host.list: expected a list of strings (got \"x\")",
                "sources.host.map: expected a mapping of strings to strings (got a list)",
                "sources.host.strs[1]: expected a string (got a mapping)",
                "sources.host.labels.a: expected a string (got a list)",
            }));
}

TEST(ConfigNodeTest, BoolAcceptsOnlyTrueAndFalse) {
  auto doc = ConfigDocument::parse("a: true\nb: False\nc: 'no'\nd: 1\ne: on\n", "test");
  ConfigNode root = doc->root();
  EXPECT_TRUE(root.getBool("a", false));
  EXPECT_FALSE(root.getBool("b", true));
  EXPECT_TRUE(root.getBool("c", true));
  EXPECT_FALSE(root.getBool("d", false));
  EXPECT_TRUE(root.getBool("e", true));
  EXPECT_EQ(errorStrings(*doc), (Errors{"c: expected true or false (got \"no\")",
                                        "d: expected true or false (got \"1\")",
                                        "e: expected true or false (got \"on\")"}));
}

TEST(ConfigNodeTest, IntegerParsing) {
  auto doc =
      ConfigDocument::parse("a: +5\nb: 1.5\nc: 0x10\nd: ''\ne: 99999999999999999999\n", "test");
  ConfigNode root = doc->root();
  EXPECT_EQ(root.getInt("a", 0, 0, 10), 5);
  EXPECT_EQ(root.getInt("b", 0, 0, 10), 0);
  EXPECT_EQ(root.getInt("c", 0, 0, 100), 0);
  EXPECT_EQ(root.getInt("d", 0, 0, 10), 0);
  EXPECT_EQ(root.getInt("e", 0, 0, 10), 0);
  EXPECT_EQ(errorStrings(*doc),
            (Errors{"b: expected an integer (got \"1.5\")", "c: expected an integer (got \"0x10\")",
                    "d: expected an integer (got \"\")",
                    "e: expected an integer (got \"99999999999999999999\")"}));
}

TEST(ConfigNodeTest, UnknownKeysAreReportedWithSuggestions) {
  auto doc = ConfigDocument::parse(R"(
pipeline:
  ring_capacty: 5
  workers: 2
  colour: red
intervl: 5s
)",
                                   "test");
  ConfigNode root = doc->root();
  ConfigNode pipeline = root.child("pipeline");
  pipeline.getInt("ring_capacity", 65536, 2, 1 << 24);
  pipeline.getInt("workers", 1, 1, 16);
  pipeline.finish();
  root.getDuration("interval", milliseconds(1000));
  root.finish();
  EXPECT_EQ(errorStrings(*doc),
            (Errors{"pipeline.ring_capacty: unknown key (did you mean \"ring_capacity\"?)",
                    "pipeline.colour: unknown key",
                    "intervl: unknown key (did you mean "
                    "\"interval\"?)"}));
}

TEST(ConfigNodeTest, SuggestionHandlesSwappedLetters) {
  auto doc = ConfigDocument::parse("pipleine: {}\n", "test");
  ConfigNode root = doc->root();
  root.child("pipeline");
  root.finish();
  EXPECT_EQ(errorStrings(*doc), (Errors{"pipleine: unknown key (did you mean \"pipeline\"?)"}));
}

TEST(ConfigNodeTest, DuplicateKeysAreReported) {
  auto doc = ConfigDocument::parse("a: 1\nb: 2\na: 3\n", "test");
  ConfigNode root = doc->root();
  EXPECT_EQ(root.getInt("a", 0, 0, 10), 1);
  root.getInt("b", 0, 0, 10);
  root.finish();
  EXPECT_EQ(errorStrings(*doc), (Errors{"a: duplicate key"}));
}

TEST(ConfigNodeTest, FinishTwiceReportsOnce) {
  auto doc = ConfigDocument::parse("x: 1\n", "test");
  ConfigNode root = doc->root();
  root.finish();
  root.finish();
  EXPECT_EQ(errorStrings(*doc), (Errors{"x: unknown key"}));
}

TEST(ConfigNodeTest, ChildAbsentIsEmptyAndNonMappingIsAnError) {
  auto doc = ConfigDocument::parse("server: 8080\nempty:\n", "test");
  ConfigNode root = doc->root();
  ConfigNode server = root.child("server");
  EXPECT_EQ(server.path(), "server");
  EXPECT_EQ(server.getString("listen", "0.0.0.0:1"), "0.0.0.0:1");
  ConfigNode absent = root.child("absent");
  EXPECT_TRUE(absent.keys().empty());
  EXPECT_FALSE(absent.has("x"));
  EXPECT_EQ(absent.pathOf("x"), "absent.x");
  ConfigNode empty = root.child("empty");
  EXPECT_TRUE(empty.keys().empty());
  root.finish();
  EXPECT_EQ(errorStrings(*doc), (Errors{"server: expected a mapping (got \"8080\")"}));
  EXPECT_EQ(doc->effectiveYaml(), "server:\n  listen: 0.0.0.0:1\nabsent: {}\nempty: {}\n");
}

TEST(ConfigNodeTest, ChildReadTwiceSharesItsEffectiveSubtree) {
  auto doc = ConfigDocument::parse("s: {a: 1, b: 2}\n", "test");
  ConfigNode root = doc->root();
  root.child("s").getInt("a", 0, 0, 9);
  root.child("s").getInt("b", 0, 0, 9);
  EXPECT_EQ(doc->effectiveYaml(), "s:\n  a: 1\n  b: 2\n");
}

TEST(ConfigNodeTest, ElementsOfASequence) {
  auto doc = ConfigDocument::parse(R"(
sources:
  prometheus:
    - {name: a, url: "http://a"}
    - 5
    - {name: c, interval: 2s, urll: x}
)",
                                   "test");
  ConfigNode root = doc->root();
  ConfigNode sources = root.child("sources");
  EXPECT_FALSE(sources.isSequence());
  std::vector<ConfigNode> targets = sources.elements("prometheus");
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].path(), "sources.prometheus[0]");
  EXPECT_EQ(targets[1].path(), "sources.prometheus[2]");
  std::vector<std::string> names;
  for (ConfigNode& t : targets) {
    names.push_back(t.getString("name", ""));
    t.getString("url", "http://default");
    t.getDuration("interval", milliseconds(15000));
    t.finish();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a", "c"}));
  EXPECT_TRUE(sources.elements("absent").empty());
  EXPECT_EQ(errorStrings(*doc),
            (Errors{"sources.prometheus[1]: expected a mapping (got \"5\")",
                    "sources.prometheus[2].urll: unknown key (did you mean \"url\"?)"}));
  EXPECT_EQ(doc->effectiveYaml(),
            "sources:\n  prometheus:\n    - name: a\n      url: http://a\n      interval: 15s\n"
            "    - name: c\n      url: http://default\n      interval: 2s\n  absent: []\n");
}

TEST(ConfigNodeTest, ElementsOfANonSequenceIsAnError) {
  auto doc = ConfigDocument::parse("targets: {a: 1}\n", "test");
  ConfigNode root = doc->root();
  EXPECT_TRUE(root.elements("targets").empty());
  EXPECT_EQ(errorStrings(*doc), (Errors{"targets: expected a list (got a mapping)"}));
}

TEST(ConfigNodeTest, KeysInFileOrderAndHas) {
  auto doc = ConfigDocument::parse("zeta: 1\nalpha: 2\nmid: ~\nlast: x\n", "test");
  ConfigNode root = doc->root();
  EXPECT_EQ(root.keys(), (std::vector<std::string>{"zeta", "alpha", "mid", "last"}));
  EXPECT_TRUE(root.has("zeta"));
  EXPECT_FALSE(root.has("mid"));  // null counts as absent
  EXPECT_FALSE(root.has("nope"));
  EXPECT_EQ(root.pathOf("zeta"), "zeta");
}

TEST(ConfigNodeTest, ErrorRecordsCrossFieldProblems) {
  auto doc = ConfigDocument::parse("exporters: {wavefront: {url: x}}\n", "test");
  ConfigNode root = doc->root();
  ConfigNode wf = root.child("exporters").child("wavefront");
  wf.error("url", "missing scheme (got \"x\")");
  EXPECT_EQ(errorStrings(*doc), (Errors{"exporters.wavefront.url: missing scheme (got \"x\")"}));
}

TEST(ConfigDocumentTest, SyntaxErrorNamesLineAndColumn) {
  auto doc = ConfigDocument::parse("a: 1\nb: [1, 2\nc: 3\n", "my.yaml");
  ASSERT_EQ(doc->errors().size(), 1u);
  EXPECT_EQ(doc->errors()[0].path, "my.yaml");
  EXPECT_EQ(doc->errors()[0].reason, "line 3, column 2: end of sequence flow not found");
  // The document is then empty, and later checks add nothing misleading.
  ConfigNode root = doc->root();
  EXPECT_TRUE(root.keys().empty());
  root.error("cluster", "required");
  EXPECT_EQ(doc->errors().size(), 1u);
}

TEST(ConfigDocumentTest, RootMustBeAMapping) {
  auto list = ConfigDocument::parse("- a\n- b\n", "list.yaml");
  EXPECT_EQ(errorStrings(*list),
            (Errors{"list.yaml: the top level must be a mapping of keys (got a list)"}));
  auto word = ConfigDocument::parse("hello\n", "word.yaml");
  EXPECT_EQ(errorStrings(*word),
            (Errors{"word.yaml: the top level must be a mapping of keys (got \"hello\")"}));
  auto empty = ConfigDocument::parse("# only a comment\n", "empty.yaml");
  EXPECT_TRUE(empty->errors().empty());
  EXPECT_TRUE(empty->root().keys().empty());
}

TEST(ConfigDocumentTest, UnsetVariableIsAnErrorAtItsLine) {
  ::unsetenv("KM_CONFIG_NODE_TEST_UNSET");
  auto doc = ConfigDocument::parse("a: 1\nb: ${KM_CONFIG_NODE_TEST_UNSET}\n", "env.yaml");
  EXPECT_EQ(errorStrings(*doc),
            (Errors{"env.yaml: line 2: environment variable KM_CONFIG_NODE_TEST_UNSET is not set "
                    "(use ${KM_CONFIG_NODE_TEST_UNSET:-default} for a default)"}));
  EXPECT_TRUE(doc->root().keys().empty());
}

TEST(ConfigDocumentTest, ExpandsVariablesBeforeParsing) {
  ::setenv("KM_CONFIG_NODE_TEST_SET", "[1, 2]", 1);
  auto doc = ConfigDocument::parse("a: ${KM_CONFIG_NODE_TEST_SET}\n", "env.yaml");
  ::unsetenv("KM_CONFIG_NODE_TEST_SET");
  ConfigNode root = doc->root();
  EXPECT_EQ(root.getStringList("a"), (std::vector<std::string>{"1", "2"}));
  EXPECT_TRUE(doc->errors().empty());
}

TEST(ConfigDocumentTest, UnreadableFile) {
  auto doc = ConfigDocument::load("/nonexistent/kubemetrics.yaml");
  EXPECT_EQ(errorStrings(*doc),
            (Errors{"/nonexistent/kubemetrics.yaml: cannot read: No such file or directory"}));
  EXPECT_EQ(doc->origin(), "/nonexistent/kubemetrics.yaml");
  auto dir = ConfigDocument::load(KM_TESTDATA_DIR);
  EXPECT_EQ(errorStrings(*dir),
            (Errors{std::string(KM_TESTDATA_DIR) + ": cannot read: Is a directory"}));
}

TEST(ConfigDocumentTest, LoadsAFile) {
  auto doc = ConfigDocument::load(KM_TESTDATA_DIR "/config/valid.yaml");
  EXPECT_TRUE(doc->errors().empty());
  EXPECT_EQ(doc->root().getString("cluster", ""), "prod-eks");
}

}  // namespace
}  // namespace kubemetrics
