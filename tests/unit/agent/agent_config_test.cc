#include "agent/agent_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "common/config/config_document.h"
#include "common/config/units.h"
#include "kubemetrics/config.h"
#include "scrapers/ec2/ec2_source.h"
#include "support/component_context.h"
#include "support/scoped_env.h"

namespace kubemetrics {
namespace {

using testing::ScopedEnv;

using std::chrono::milliseconds;
using Errors = std::vector<std::string>;

std::string testFile(const std::string& name) {
  return std::string(KM_TESTDATA_DIR) + "/config/" + name;
}

// What main does: the agent-level keys, then the component subtrees (left
// unread here, as the registry would read them), then the root's unknown keys.
struct Loaded {
  std::shared_ptr<ConfigDocument> doc;
  AgentConfig config;
  Errors errors;
};

Loaded loadDocument(std::shared_ptr<ConfigDocument> doc) {
  Loaded out;
  out.doc = doc;
  ConfigNode root = doc->root();
  out.config = parseAgentConfig(root);
  root.child("sources");
  root.child("exporters");
  root.finish();
  for (const ConfigError& e : doc->errors()) out.errors.push_back(e.toString());
  return out;
}

Loaded loadFile(const std::string& name) {
  return loadDocument(ConfigDocument::load(testFile(name)));
}

std::string hostName() {
  char buffer[HOST_NAME_MAX + 1] = {};
  ::gethostname(buffer, sizeof buffer - 1);
  return buffer;
}

TEST(AgentConfigTest, ValidFileSetsEveryKey) {
  Loaded l = loadFile("valid.yaml");
  EXPECT_EQ(l.errors, Errors{});
  const AgentConfig& c = l.config;
  EXPECT_EQ(c.cluster, "prod-eks");
  EXPECT_EQ(c.role, "cluster");
  EXPECT_EQ(c.node, "ip-10-0-1-23.ec2.internal");
  EXPECT_EQ(c.log_level, LogLevel::kDebug);
  EXPECT_EQ(c.shutdown_timeout, milliseconds(90000));
  EXPECT_EQ(c.server.listen, "127.0.0.1:9500");
  EXPECT_EQ(c.pipeline.ring_capacity, 131072u);
  EXPECT_EQ(c.pipeline.ring_full_policy, "drop_oldest");
  EXPECT_EQ(c.pipeline.exporter_queue_capacity, 4096u);
  EXPECT_EQ(c.pipeline.workers, 4);
  EXPECT_FALSE(c.pipeline.node_tag);
  EXPECT_EQ(c.pipeline.tags,
            (std::map<std::string, std::string>{{"env", "production"}, {"team", "platform"}}));
  EXPECT_EQ(c.pipeline.allow, (std::vector<std::string>{"kubernetes\\..*", "node_.*"}));
  EXPECT_EQ(c.pipeline.deny, (std::vector<std::string>{".*_bucket"}));
}

TEST(AgentConfigTest, DefaultsForAbsentKeysAreInTheEffectiveConfig) {
  Loaded l = loadDocument(ConfigDocument::parse("cluster: c1\n", "inline"));
  EXPECT_EQ(l.errors, Errors{});
  const AgentConfig& c = l.config;
  EXPECT_EQ(c.role, "node");
  EXPECT_EQ(c.node, hostName());
  EXPECT_EQ(c.log_level, LogLevel::kInfo);
  EXPECT_EQ(c.shutdown_timeout, milliseconds(10000));
  EXPECT_EQ(c.server.listen, "0.0.0.0:9464");
  EXPECT_EQ(c.pipeline.ring_capacity, 65536u);
  EXPECT_EQ(c.pipeline.ring_full_policy, "drop_newest");
  EXPECT_EQ(c.pipeline.exporter_queue_capacity, 1024u);
  EXPECT_EQ(c.pipeline.workers, 1);
  EXPECT_TRUE(c.pipeline.node_tag);
  EXPECT_TRUE(c.pipeline.tags.empty());
  EXPECT_TRUE(c.pipeline.allow.empty());
  EXPECT_TRUE(c.pipeline.deny.empty());
  EXPECT_EQ(l.doc->effectiveYaml(),
            "cluster: c1\n"
            "role: node\n"
            "node: " +
                hostName() +
                "\n"
                "log_level: info\n"
                "shutdown_timeout: 10s\n"
                "server:\n"
                "  listen: 0.0.0.0:9464\n"
                "  max_connections: 256\n"
                "  idle_timeout: 30s\n"
                "  max_request_body: 0B\n"
                "pipeline:\n"
                "  ring_capacity: 65536\n"
                "  ring_full_policy: drop_newest\n"
                "  exporter_queue_capacity: 1024\n"
                "  workers: 1\n"
                "  node_tag: true\n"
                "  tags: {}\n"
                "  allow: []\n"
                "  deny: []\n"
                "  enrich:\n"
                "    enabled: false\n"
                "    pod_labels:\n"
                "      allow:\n"
                "        - .*\n"
                "      deny: []\n"
                "    node_labels:\n"
                "      allow: []\n"
                "      deny: []\n"
                "reload:\n"
                "  check_interval: 10s\n"
                "kubernetes:\n"
                "  api_server: \"\"\n"
                "  bearer_token_file: /var/run/secrets/kubernetes.io/serviceaccount/token\n"
                "  ca_file: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n"
                "  insecure_skip_verify: false\n"
                "  watch_timeout: 5m\n"
                "  initial_backoff: 1s\n"
                "  max_backoff: 30s\n"
                "  request_timeout: 30s\n"
                "sharding:\n"
                "  total_shards: 1\n"
                "  shard: 0\n"
                "sources: {}\n"
                "exporters: {}\n");
}

TEST(AgentConfigTest, EffectiveConfigParsesBackToTheSameValues) {
  Loaded first = loadFile("valid.yaml");
  ASSERT_EQ(first.errors, Errors{});
  Loaded second = loadDocument(ConfigDocument::parse(first.doc->effectiveYaml(), "effective"));
  EXPECT_EQ(second.errors, Errors{});
  EXPECT_EQ(second.doc->effectiveYaml(), first.doc->effectiveYaml());
  EXPECT_EQ(second.config.pipeline.allow, first.config.pipeline.allow);
  EXPECT_EQ(second.config.shutdown_timeout, first.config.shutdown_timeout);
}

TEST(AgentConfigTest, EmptyNodeFallsBackToHostName) {
  Loaded l = loadDocument(ConfigDocument::parse("cluster: c1\nnode: ''\n", "inline"));
  EXPECT_EQ(l.errors, Errors{});
  EXPECT_EQ(l.config.node, hostName());
}

TEST(AgentConfigTest, InvalidUnknownNestedKey) {
  EXPECT_EQ(loadFile("invalid_unknown_key.yaml").errors,
            Errors{"pipeline.ring_capacty: unknown key (did you mean \"ring_capacity\"?)"});
}

TEST(AgentConfigTest, InvalidDuration) {
  EXPECT_EQ(loadFile("invalid_duration.yaml").errors,
            Errors{"shutdown_timeout: expected a duration such as 15s or 1m30s (got \"fast\")"});
}

TEST(AgentConfigTest, InvalidListenAddress) {
  EXPECT_EQ(
      loadFile("invalid_listen.yaml").errors,
      Errors{"server.listen: expected ADDR:PORT such as 0.0.0.0:9464 (got \"0.0.0.0:99999\")"});
}

TEST(AgentConfigTest, MissingCluster) {
  EXPECT_EQ(loadFile("invalid_missing_cluster.yaml").errors,
            Errors{"cluster: required (the tag every sample carries; e.g. cluster: prod-eks)"});
}

TEST(AgentConfigTest, InvalidRegex) {
  EXPECT_EQ(loadFile("invalid_regex.yaml").errors,
            Errors{"pipeline.deny[1]: invalid regex: missing ]: ["});
}

TEST(AgentConfigTest, EnrichListsAreReadAndTheirPatternsChecked) {
  Loaded ok = loadDocument(
      ConfigDocument::parse("cluster: c1\npipeline:\n  enrich:\n    enabled: true\n"
                            "    pod_labels: {deny: [\"pod-template-hash\"]}\n"
                            "    node_labels: {allow: [\"topology\\\\.kubernetes\\\\.io/.*\"]}\n",
                            "inline"));
  EXPECT_EQ(ok.errors, Errors{});
  const EnrichConfig& e = ok.config.pipeline.enrich;
  EXPECT_TRUE(e.enabled);
  EXPECT_EQ(e.pod_labels.allow, std::vector<std::string>{".*"});  // the default stays
  EXPECT_EQ(e.pod_labels.deny, std::vector<std::string>{"pod-template-hash"});
  EXPECT_EQ(e.node_labels.allow, std::vector<std::string>{"topology\\.kubernetes\\.io/.*"});

  Loaded bad = loadDocument(ConfigDocument::parse(
      "cluster: c1\npipeline:\n  enrich:\n    pod_labels: {allow: [\"(open\", \"\"]}\n"
      "    node_labels: {alow: []}\n",
      "inline"));
  EXPECT_EQ(bad.errors,
            (Errors{"pipeline.enrich.pod_labels.allow[0]: invalid regex: missing ): (open",
                    "pipeline.enrich.pod_labels.allow[1]: must not be empty (an empty pattern "
                    "matches no label key)",
                    "pipeline.enrich.node_labels.alow: unknown key (did you mean \"allow\"?)"}));
}

TEST(AgentConfigTest, TagsGivenAsAList) {
  EXPECT_EQ(loadFile("invalid_tags_type.yaml").errors,
            Errors{"pipeline.tags: expected a mapping of strings to strings (got a list)"});
}

TEST(AgentConfigTest, BadRole) {
  EXPECT_EQ(loadFile("invalid_role.yaml").errors,
            Errors{"role: expected one of node, cluster (got \"worker\")"});
}

TEST(AgentConfigTest, SyntaxErrorWithLineNumber) {
  const std::string file = testFile("invalid_syntax.yaml");
  EXPECT_EQ(loadFile("invalid_syntax.yaml").errors,
            Errors{file + ": line 4, column 9: end of sequence flow not found"});
}

TEST(AgentConfigTest, UnsetEnvironmentVariable) {
  ScopedEnv env("KM_CONFIG_TEST_UNSET");
  env.unset();
  const std::string file = testFile("invalid_env.yaml");
  EXPECT_EQ(loadFile("invalid_env.yaml").errors,
            Errors{file + ": line 2: environment variable KM_CONFIG_TEST_UNSET is not set (use "
                          "${KM_CONFIG_TEST_UNSET:-default} for a default)"});
  env.set("from-env");
  Loaded l = loadFile("invalid_env.yaml");
  EXPECT_EQ(l.errors, Errors{});
  EXPECT_EQ(l.config.cluster, "from-env");
}

TEST(AgentConfigTest, EveryErrorInAFileIsReported) {
  EXPECT_EQ(loadFile("invalid_multiple.yaml").errors,
            (Errors{
                "role: expected one of node, cluster (got \"daemonset\")",
                "log_level: expected one of debug, info, warn, error (got \"verbose\")",
                "shutdown_timeout: missing unit (write e.g. 15s, 500ms or 1m30s) (got \"30\")",
                "server.listen: expected ADDR:PORT such as 0.0.0.0:9464 (got \"9464\")",
                "pipeline.workers: must be between 1 and 16 (got \"64\")",
                "pipeline.tags.team-name: invalid tag name \"team-name\" (must match "
                "[a-zA-Z_][a-zA-Z0-9_]*)",
                "pipeline.allow[0]: invalid regex: missing ): (unclosed",
                "sourcse: unknown key (did you mean \"sources\"?)",
            }));
}

TEST(AgentConfigTest, TagChecks) {
  Loaded l = loadDocument(ConfigDocument::parse(
      "cluster: c\npipeline:\n  tags: {ok: v, __x: v, cluster: v, node: v, empty: '', 9a: v}\n"
      "  allow: ['']\n",
      "inline"));
  EXPECT_EQ(l.errors,
            (Errors{
                "pipeline.tags.9a: invalid tag name \"9a\" (must match [a-zA-Z_][a-zA-Z0-9_]*)",
                "pipeline.tags.__x: tag names starting with \"__\" are reserved for internal use",
                "pipeline.tags.cluster: set by the top-level \"cluster\" key, not as a static tag",
                "pipeline.tags.empty: must not be empty",
                "pipeline.tags.node: set by the top-level \"node\" key, not as a static tag",
                "pipeline.allow[0]: must not be empty (an empty pattern matches no metric name)",
            }));
}

TEST(AgentConfigTest, RangeLimits) {
  Loaded low = loadDocument(ConfigDocument::parse(
      "cluster: c\npipeline: {ring_capacity: 1, exporter_queue_capacity: 0, workers: 0}\n",
      "inline"));
  EXPECT_EQ(low.errors,
            (Errors{"pipeline.ring_capacity: must be between 2 and 16777216 (got \"1\")",
                    "pipeline.exporter_queue_capacity: must be between 1 and 1000000 "
                    "(got \"0\")",
                    "pipeline.workers: must be between 1 and 16 (got \"0\")"}));
  Loaded high = loadDocument(ConfigDocument::parse(
      "cluster: c\npipeline: {ring_capacity: 16777216, exporter_queue_capacity: 1000000, "
      "workers: 16}\n",
      "inline"));
  EXPECT_EQ(high.errors, Errors{});
  EXPECT_EQ(high.config.pipeline.ring_capacity, 16777216u);
}

TEST(AgentConfigTest, ReloadCheckIntervalIsOffAtZeroAndAtLeast100ms) {
  EXPECT_EQ(
      loadDocument(ConfigDocument::parse("cluster: c\n", "inline")).config.reload.check_interval,
      milliseconds(10000));
  Loaded off =
      loadDocument(ConfigDocument::parse("cluster: c\nreload: {check_interval: 0s}\n", "inline"));
  EXPECT_EQ(off.errors, Errors{});
  EXPECT_EQ(off.config.reload.check_interval, milliseconds(0));
  Loaded fast =
      loadDocument(ConfigDocument::parse("cluster: c\nreload: {check_interval: 50ms}\n", "inline"));
  EXPECT_EQ(fast.errors,
            Errors{"reload.check_interval: must be 0s (SIGHUP only) or at least 100ms (got 50ms)"});
  Loaded unknown =
      loadDocument(ConfigDocument::parse("cluster: c\nreload: {interval: 5s}\n", "inline"));
  ASSERT_EQ(unknown.errors.size(), 1u);
  EXPECT_NE(unknown.errors[0].find("reload.interval"), std::string::npos) << unknown.errors[0];
}

TEST(AgentConfigTest, ServerTlsNeedsBothFilesAndChecksTheirPairing) {
  const auto load = [](const std::string& tls) {
    return loadDocument(
        ConfigDocument::parse("cluster: c\nserver: {tls: " + tls + "}\n", "inline"));
  };
  Loaded on =
      load("{cert_file: /tls/tls.crt, key_file: /tls/tls.key, client_ca_file: /tls/ca.crt}");
  EXPECT_EQ(on.errors, Errors{});
  EXPECT_EQ(on.config.server.tls.cert_file, "/tls/tls.crt");
  EXPECT_EQ(on.config.server.tls.key_file, "/tls/tls.key");
  EXPECT_EQ(on.config.server.tls.client_ca_file, "/tls/ca.crt");
  EXPECT_FALSE(
      loadDocument(ConfigDocument::parse("cluster: c\n", "inline")).config.server.tls.enabled());
  EXPECT_EQ(load("{cert_file: /tls/tls.crt}").errors,
            Errors{"server.tls.key_file: TLS needs both cert_file and key_file"});
  EXPECT_EQ(load("{client_ca_file: /tls/ca.crt}").errors,
            Errors{"server.tls.client_ca_file: needs cert_file and key_file (client "
                   "certificates need TLS)"});
  Loaded typo = load("{cert: /tls/tls.crt}");
  ASSERT_EQ(typo.errors.size(), 1u);
  EXPECT_NE(typo.errors[0].find("server.tls.cert"), std::string::npos) << typo.errors[0];
}

TEST(AgentConfigTest, DefaultConfigParsesWithoutErrors) {
  ScopedEnv cluster("CLUSTER_NAME");
  ScopedEnv node("NODE_NAME");
  cluster.unset();
  node.unset();
  Loaded l = loadDocument(ConfigDocument::parse(defaultConfigYaml(), "built-in default"));
  EXPECT_EQ(l.errors, Errors{});
  EXPECT_EQ(l.config.cluster, "local");
  EXPECT_EQ(l.config.node, hostName());
  EXPECT_EQ(l.config.role, "node");
  EXPECT_EQ(l.config.server.listen, "0.0.0.0:9464");

  cluster.set("prod-eks");
  node.set("ip-10-0-0-1");
  Loaded fromEnv = loadDocument(ConfigDocument::parse(defaultConfigYaml(), "built-in default"));
  EXPECT_EQ(fromEnv.errors, Errors{});
  EXPECT_EQ(fromEnv.config.cluster, "prod-eks");
  EXPECT_EQ(fromEnv.config.node, "ip-10-0-0-1");
}

TEST(AgentConfigTest, DefaultConfigHasTheHostSourceAndPrometheusExporter) {
  auto doc = ConfigDocument::parse(defaultConfigYaml(), "built-in default");
  ConfigNode root = doc->root();
  ConfigNode host = root.child("sources").child("host");
  EXPECT_TRUE(host.getBool("enabled", false));
  EXPECT_EQ(host.getDuration("interval", milliseconds(1)), milliseconds(15000));
  ConfigNode prometheus = root.child("exporters").child("prometheus");
  EXPECT_TRUE(prometheus.getBool("enabled", false));
  EXPECT_EQ(prometheus.getString("path", ""), "/metrics");
  EXPECT_TRUE(doc->errors().empty());
}

struct ListenCase {
  const char* text;
  const char* host;
  unsigned short port;
};

TEST(SplitListenAddressTest, AcceptsValidAddresses) {
  for (const ListenCase& c :
       {ListenCase{"0.0.0.0:9464", "0.0.0.0", 9464}, ListenCase{"127.0.0.1:0", "127.0.0.1", 0},
        ListenCase{"[::1]:9464", "::1", 9464}, ListenCase{"[::]:80", "::", 80},
        ListenCase{":9464", "0.0.0.0", 9464}, ListenCase{"localhost:65535", "localhost", 65535},
        ListenCase{"agent.kube-system.svc:1", "agent.kube-system.svc", 1}}) {
    std::string host = "unset";
    unsigned short port = 1234;
    EXPECT_TRUE(splitListenAddress(c.text, &host, &port)) << c.text;
    EXPECT_EQ(host, c.host) << c.text;
    EXPECT_EQ(port, c.port) << c.text;
  }
}

TEST(SplitListenAddressTest, RejectsMalformedAddresses) {
  for (const char* text :
       {"", "9464", "0.0.0.0", "0.0.0.0:", "0.0.0.0:http", "0.0.0.0:65536", "0.0.0.0:99999",
        "0.0.0.0:-1", "0.0.0.0:+80", "::1:9464", "[::1]", "[::1]9464", "[]:80", "[::1:80",
        "host name:80", "0.0.0.0:80 ", "0.0.0.0:000009464"}) {
    std::string host = "unchanged";
    unsigned short port = 7;
    EXPECT_FALSE(splitListenAddress(text, &host, &port)) << text;
    EXPECT_EQ(host, "unchanged") << text;
    EXPECT_EQ(port, 7) << text;
  }
  EXPECT_TRUE(splitListenAddress("127.0.0.1:80", nullptr, nullptr));
}

// The built-in default never probes the EC2 metadata service, even where the
// machine looks like EC2 or Kubernetes: the EC2 factory, given the default
// file, creates no source and says why on /status.
TEST(AgentConfigTest, BuiltInDefaultConfigCreatesNoEc2Source) {
  ScopedEnv disabled("AWS_EC2_METADATA_DISABLED", nullptr);
  ScopedEnv endpoint("AWS_EC2_METADATA_SERVICE_ENDPOINT", nullptr);
  ScopedEnv k8s("KUBERNETES_SERVICE_HOST", "10.0.0.1");
  testing::TestComponentContext test;
  auto doc = ConfigDocument::parse(defaultConfigYaml(), "built-in default");
  ConfigNode node = doc->root().child("sources").child("ec2");
  auto built = scrapers::ec2::buildSources(node, &test.context);
  ASSERT_TRUE(built);
  EXPECT_TRUE(built->empty());
  EXPECT_TRUE(doc->errors().empty());
  EXPECT_NE(test.status.render().find("state disabled"), std::string::npos) << test.status.render();
}

}  // namespace
}  // namespace kubemetrics
