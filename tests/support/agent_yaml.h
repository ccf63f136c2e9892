#pragma once

#include <string>

namespace kubemetrics::testing {

/// The agent configuration most remote-write e2e tests use: cluster "e2e",
/// the host source off, one Prometheus source `source` scraping
/// `target_url` every 250 ms (timeout 200 ms), and the remote_write
/// exporter posting to http://127.0.0.1:`port`/api/v1/write. `remote_write`
/// holds further lines of that exporter (each "    key: value\n"), `spool`
/// the flow mapping of exporters.spool ("{dir: \"...\"}").
inline std::string remoteWriteAgentYaml(const std::string& source, const std::string& target_url,
                                        int port, const std::string& remote_write,
                                        const std::string& spool) {
  return "cluster: e2e\n"
         "sources:\n"
         "  host: {enabled: false}\n"
         "  prometheus:\n"
         "    - {name: " +
         source + ", url: \"" + target_url +
         "\", interval: 250ms, timeout: 200ms}\n"
         "exporters:\n"
         "  remote_write:\n"
         "    enabled: true\n"
         "    url: \"http://127.0.0.1:" +
         std::to_string(port) + "/api/v1/write\"\n" + remote_write + "  spool: " + spool + "\n";
}

/// The agent configuration of the kubelet e2e tests: cluster `cluster`, node
/// "e2e-node", the host and EC2 sources off, and the kubelet source reading
/// `url` every second (timeout 800 ms) with the bearer token in `token_file`
/// and the server certificate checked against `ca_file`. Without the
/// Kubernetes API, so that the agent talks to nothing but the fake kubelet
/// even where KUBERNETES_SERVICE_HOST is set.
inline std::string kubeletAgentYaml(const std::string& cluster, const std::string& url,
                                    const std::string& token_file, const std::string& ca_file) {
  return "cluster: " + cluster +
         "\n"
         "node: e2e-node\n"
         "sources:\n"
         "  host: {enabled: false}\n"
         "  ec2: {enabled: false}\n"
         "  kubelet:\n"
         "    enabled: true\n"
         "    url: " +
         url +
         "\n"
         "    interval: 1s\n"
         "    timeout: 800ms\n"
         "    kubernetes_metrics: false\n"
         "    bearer_token_file: " +
         token_file +
         "\n"
         "    ca_file: " +
         ca_file + "\n";
}

}  // namespace kubemetrics::testing
