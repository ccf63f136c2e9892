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

}  // namespace kubemetrics::testing
