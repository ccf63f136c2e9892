#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/http/http_server.h"
#include "common/kube/api_config.h"
#include "kubemetrics/component.h"
#include "kubemetrics/config.h"
#include "kubemetrics/log.h"

namespace kubemetrics {

/// `server:`: the agent's own HTTP endpoint.
struct ServerConfig {
  std::string listen = "0.0.0.0:9464";  // ADDR:PORT for /metrics /healthz /readyz
  // Open connections beyond which new ones are closed at once (counted):
  // a misbehaving client cannot hold every slot and starve the probes.
  std::size_t max_connections = 256;
  // Keep-alive idle and slow-peer bound per read or write.
  std::chrono::milliseconds idle_timeout{30000};
  // Largest request body; 0 (default): every route is GET-only, a body is
  // answered 413 before it is read.
  std::uint64_t max_request_body = 0;
  // TLS for every route of the port (`server.tls`); off by default.
  ServerTlsOptions tls;
};

/// `reload:`: how the agent notices a new configuration. SIGHUP always
/// reloads; the file is also compared with what is running every
/// `check_interval` (0 = SIGHUP only), which is how a ConfigMap update (a
/// symlink swap in the mounted volume) reaches a running pod.
struct ReloadConfig {
  std::chrono::milliseconds check_interval{10000};
};

/// Allow/deny lists of label keys (RE2, full match on the key; deny wins).
/// An empty `allow` takes no key.
struct LabelKeyLists {
  std::vector<std::string> allow;
  std::vector<std::string> deny;
};

/// `pipeline.enrich:`: Kubernetes metadata as tags (agent/pipeline/enricher.h).
/// Needs the Kubernetes API (`kubernetes:`).
struct EnrichConfig {
  bool enabled = false;
  LabelKeyLists pod_labels{{".*"}, {}};  // pod labels that become label.<key>; default: all
  LabelKeyLists node_labels;             // node labels that become label.<key>; default: none
};

/// `pipeline:`: the ring between sources and processors, the processors,
/// and the per-exporter queues.
struct PipelineConfig {
  std::size_t ring_capacity = 65536;             // batches; rounded up to a power of two
  std::string ring_full_policy = "drop_newest";  // drop_newest | drop_oldest
  std::size_t exporter_queue_capacity = 1024;    // batches per exporter
  int workers = 1;                               // processor threads
  bool node_tag = true;                          // the top-level `node` as a tag on every sample
  std::map<std::string, std::string> tags;       // static tags, added to every sample
  std::vector<std::string> allow;                // RE2, full match on the metric name
  std::vector<std::string> deny;                 // RE2, full match on the metric name
  EnrichConfig enrich;
};

/// The agent-level settings: everything in the file but `sources:` and
/// `exporters:`, which the registry's component factories read; the
/// identity part (cluster, node, role; `cluster` is required) is what
/// components see of it. Immutable after loading.
struct AgentConfig : AgentIdentity {
  LogLevel log_level = LogLevel::kInfo;
  std::chrono::milliseconds shutdown_timeout{10000};  // bound on SIGTERM drain
  ServerConfig server;
  PipelineConfig pipeline;
  ReloadConfig reload;
  kube::KubeApiConfig kubernetes;  // the API client every user of the API shares
};

/// Reads the agent-level keys from the document root (`kubernetes:`
/// included), validating each (the RE2 patterns compile, `cluster` is set,
/// `listen` is ADDR:PORT). Errors go to the document; `sources` and
/// `exporters` are left for the registry.
AgentConfig parseAgentConfig(ConfigNode& root);

/// The built-in configuration used when no --config is given: the host
/// source, /metrics on 0.0.0.0:9464, `cluster` from $CLUSTER_NAME or "local".
std::string_view defaultConfigYaml();

}  // namespace kubemetrics
