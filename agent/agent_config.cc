#include "agent/agent_config.h"

#include <re2/re2.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <tuple>

#include "agent/sharding_config.h"
#include "common/config/units.h"
#include "common/http/endpoint_config.h"

namespace kubemetrics {
namespace {

using std::chrono::milliseconds;

std::string hostName() {
  char buffer[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') return "unknown";
  return buffer;
}

bool isLabelName(std::string_view name) {
  auto start = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  auto rest = [&](char c) { return start(c) || (c >= '0' && c <= '9'); };
  if (name.empty() || !start(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(), rest);
}

// Compiles every pattern now, so a typo fails the start-up with its position
// in the list instead of silently matching nothing at run time.
void checkPatterns(ConfigNode& node, std::string_view key, const std::vector<std::string>& list) {
  RE2::Options options;
  options.set_log_errors(false);  // the error goes into the report, not to stderr
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string at = std::string(key) + "[" + std::to_string(i) + "]";
    if (list[i].empty()) {
      node.error(at, "must not be empty (an empty pattern matches no metric name)");
      continue;
    }
    RE2 re(list[i], options);
    if (!re.ok()) node.error(at, "invalid regex: " + re.error());
  }
}

// `pod_labels:`/`node_labels:`: the patterns must compile; an empty one
// would take no key, which is what an empty list already says.
LabelKeyLists parseLabelKeyLists(ConfigNode& node, const LabelKeyLists& def) {
  LabelKeyLists lists;
  RE2::Options options;
  options.set_log_errors(false);
  for (auto [key, list, fallback] : {std::tuple("allow", &lists.allow, &def.allow),
                                     std::tuple("deny", &lists.deny, &def.deny)}) {
    *list = node.getStringList(key, *fallback);
    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string at = std::string(key) + "[" + std::to_string(i) + "]";
      if ((*list)[i].empty()) {
        node.error(at, "must not be empty (an empty pattern matches no label key)");
        continue;
      }
      RE2 re((*list)[i], options);
      if (!re.ok()) node.error(at, "invalid regex: " + re.error());
    }
  }
  node.finish();
  return lists;
}

EnrichConfig parseEnrich(ConfigNode& node) {
  EnrichConfig e;
  e.enabled = node.getBool("enabled", e.enabled);
  ConfigNode pods = node.child("pod_labels");
  e.pod_labels = parseLabelKeyLists(pods, e.pod_labels);
  ConfigNode nodes = node.child("node_labels");
  e.node_labels = parseLabelKeyLists(nodes, e.node_labels);
  node.finish();
  return e;
}

ServerConfig parseServer(ConfigNode& node) {
  ServerConfig server;
  server.listen = node.getString("listen", server.listen);
  if (!splitListenAddress(server.listen, nullptr, nullptr)) {
    node.error("listen", "expected ADDR:PORT such as 0.0.0.0:9464 (got \"" + server.listen + "\")");
  }
  server.max_connections = static_cast<std::size_t>(
      node.getInt("max_connections", static_cast<std::int64_t>(server.max_connections), 1, 100000));
  server.idle_timeout = node.getDuration("idle_timeout", server.idle_timeout);
  if (server.idle_timeout < std::chrono::seconds(1)) {
    node.error("idle_timeout",
               "must be at least 1s (got " + std::to_string(server.idle_timeout.count()) + "ms)");
    server.idle_timeout = ServerConfig{}.idle_timeout;
  }
  server.max_request_body = node.getBytes("max_request_body", server.max_request_body, true);
  server.tls = parseServerTls(node);
  node.finish();
  return server;
}

ReloadConfig parseReload(ConfigNode& node) {
  ReloadConfig reload;
  // Durations must be > 0 elsewhere; here 0 means "SIGHUP only".
  if (isZeroDuration(node.has("check_interval") ? node.getString("check_interval", "") : "")) {
    reload.check_interval = std::chrono::milliseconds(0);
  } else {
    reload.check_interval = node.getDuration("check_interval", reload.check_interval);
  }
  if (reload.check_interval.count() != 0 &&
      reload.check_interval < std::chrono::milliseconds(100)) {
    node.error("check_interval", "must be 0s (SIGHUP only) or at least 100ms (got " +
                                     std::to_string(reload.check_interval.count()) + "ms)");
    reload.check_interval = ReloadConfig{}.check_interval;
  }
  node.finish();
  return reload;
}

PipelineConfig parsePipeline(ConfigNode& node) {
  PipelineConfig p;
  p.ring_capacity = static_cast<std::size_t>(
      node.getInt("ring_capacity", static_cast<std::int64_t>(p.ring_capacity), 2, 16777216));
  p.ring_full_policy =
      node.getEnum("ring_full_policy", p.ring_full_policy, {"drop_newest", "drop_oldest"});
  p.exporter_queue_capacity = static_cast<std::size_t>(node.getInt(
      "exporter_queue_capacity", static_cast<std::int64_t>(p.exporter_queue_capacity), 1, 1000000));
  p.workers = static_cast<int>(node.getInt("workers", p.workers, 1, 16));
  p.node_tag = node.getBool("node_tag", p.node_tag);
  p.tags = node.getStringMap("tags");
  for (const auto& [name, value] : p.tags) {
    const std::string at = "tags." + name;
    if (!isLabelName(name)) {
      node.error(at, "invalid tag name \"" + name + "\" (must match [a-zA-Z_][a-zA-Z0-9_]*)");
    } else if (name.rfind("__", 0) == 0) {
      node.error(at, "tag names starting with \"__\" are reserved for internal use");
    } else if (name == "cluster" || name == "node") {
      // These come from the top-level keys; two sources for one tag would
      // leave the winner to processor order.
      node.error(at, "set by the top-level \"" + name + "\" key, not as a static tag");
    } else if (value.empty()) {
      node.error(at, "must not be empty");
    }
  }
  p.allow = node.getStringList("allow");
  checkPatterns(node, "allow", p.allow);
  p.deny = node.getStringList("deny");
  checkPatterns(node, "deny", p.deny);
  ConfigNode enrich = node.child("enrich");
  p.enrich = parseEnrich(enrich);
  node.finish();
  return p;
}

}  // namespace

AgentConfig parseAgentConfig(ConfigNode& root) {
  AgentConfig config;
  config.cluster = root.getString("cluster", "");
  if (config.cluster.empty()) {
    root.error("cluster", "required (the tag every sample carries; e.g. cluster: prod-eks)");
  }
  config.role = root.getEnum("role", config.role, {"node", "cluster"});
  // The host name is the default so that the effective config shows the
  // value in force; an explicitly empty string falls back to it too.
  const std::string host = hostName();
  config.node = root.getString("node", host);
  if (config.node.empty()) config.node = host;
  const std::string level = root.getEnum("log_level", "info", {"debug", "info", "warn", "error"});
  config.log_level = parseLogLevel(level).value_or(LogLevel::kInfo);
  config.shutdown_timeout = root.getDuration("shutdown_timeout", config.shutdown_timeout);

  ConfigNode server = root.child("server");
  config.server = parseServer(server);
  ConfigNode pipeline = root.child("pipeline");
  config.pipeline = parsePipeline(pipeline);
  ConfigNode reload = root.child("reload");
  config.reload = parseReload(reload);
  ConfigNode kubernetes = root.child("kubernetes");
  config.kubernetes = kube::parseKubeApiConfig(kubernetes);
  ConfigNode sharding = root.child("sharding");
  parseSharding(sharding, config);
  return config;
}

std::string_view defaultConfigYaml() {
  static constexpr std::string_view kDefault =
      R"yaml(# kubemetrics-agent built-in configuration, used when no --config is given.
# It collects this host's CPU, memory, network and filesystem metrics and
# serves them, with the agent's own metrics, on http://0.0.0.0:9464/metrics.
# See docs/configuration.md for every key.

# Tag on every sample; set CLUSTER_NAME in the pod spec to override.
cluster: ${CLUSTER_NAME:-local}
# node: one agent per node (DaemonSet). cluster: the single replica that
# scrapes cluster-wide sources such as kube-state-metrics.
role: node
# Tag on every sample; empty means the host name. In Kubernetes set NODE_NAME
# from spec.nodeName with the downward API.
node: ${NODE_NAME:-}
log_level: info
shutdown_timeout: 10s

server:
  # /metrics, /healthz and /readyz; overridden by --listen.
  listen: 0.0.0.0:9464

sources:
  host: {enabled: true, interval: 15s}
  # EC2 instance metadata (tags instance_id, region, ...; spot and
  # maintenance signals). Off here so a default run never contacts
  # 169.254.169.254; a file that omits it gets `enabled: auto`.
  ec2: {enabled: false}

exporters:
  prometheus: {enabled: true, path: /metrics}
)yaml";
  return kDefault;
}

}  // namespace kubemetrics
