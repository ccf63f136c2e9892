// The agent's ports over TLS, with a real Prometheus on both sides of it:
// Prometheus scrapes the agent's /metrics with `scheme: https` and
// `tls_config.ca_file`, and remote-writes what it scraped to the agent's
// remote_write listener over HTTPS, so what Prometheus sent comes back on
// the agent's page with the agent's cluster tag. The certificates are made
// at test time (support/tls_certs.h: a CA, and a server certificate for
// 127.0.0.1); Prometheus verifies them as it would a cert-manager one.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/agent_process.h"
#include "support/backends.h"
#include "support/process.h"
#include "support/tls_certs.h"

namespace kubemetrics::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kCluster = "e2e-tls";

std::string agentYaml(int listener_port) {
  const TlsCerts& certs = TlsCerts::shared();
  const std::string tls =
      "{cert_file: \"" + certs.server_cert + "\", key_file: \"" + certs.server_key + "\"}";
  return std::string("cluster: ") + kCluster +
         "\nnode: n1\n"
         "server: {tls: " +
         tls +
         "}\n"
         "sources:\n"
         "  host: {enabled: false}\n"
         "  ec2: {enabled: false}\n"
         "  listeners:\n"
         "    remote_write: {enabled: true, listen: \"127.0.0.1:" +
         std::to_string(listener_port) + "\", tls: " + tls + "}\n";
}

std::string prometheusYaml(int agent_port, int listener_port) {
  const std::string tls_config = "{ca_file: \"" + TlsCerts::shared().ca_cert + "\"}";
  return "global:\n  scrape_interval: 1s\n"
         "scrape_configs:\n"
         "  - job_name: agent-over-tls\n"
         "    scheme: https\n"
         "    tls_config: " +
         tls_config +
         "\n"
         "    static_configs:\n"
         "      - targets: [\"127.0.0.1:" +
         std::to_string(agent_port) +
         "\"]\n"
         "remote_write:\n"
         "  - url: \"https://127.0.0.1:" +
         std::to_string(listener_port) +
         "/api/v1/write\"\n"
         "    tls_config: " +
         tls_config +
         "\n"
         "    queue_config: {batch_send_deadline: 1s}\n";
}

/// GET https://127.0.0.1:`port``path`, verified against the test CA.
httplib::Result getTls(int port, const std::string& path) {
  httplib::SSLClient client("127.0.0.1", port);
  client.set_ca_cert_path(TlsCerts::shared().ca_cert.c_str());
  client.enable_server_certificate_verification(true);
  client.set_read_timeout(5, 0);
  return client.Get(path);
}

TEST(TlsEndpointsTest, RealPrometheusScrapesAndRemoteWritesToTheAgentOverTls) {
  TempDir agent_dir;
  const int listener_port = freeLoopbackPort();
  auto agent =
      AgentProcess::start({"--config", agent_dir.write("agent.yaml", agentYaml(listener_port))});
  ASSERT_GT(agent.port, 0) << agent.process->output();

  // The agent's port speaks TLS only, /healthz included.
  auto healthz = getTls(agent.port, "/healthz");
  ASSERT_TRUE(healthz) << httplib::to_string(healthz.error());
  EXPECT_EQ(healthz->status, 200);
  httplib::Client plain("127.0.0.1", agent.port);
  plain.set_read_timeout(5, 0);
  auto refused = plain.Get("/healthz");
  EXPECT_FALSE(refused && refused->status == 200);

  TempDir prom_dir;
  Backend prom = startPrometheus(prom_dir, prometheusYaml(agent.port, listener_port));
  ASSERT_GT(prom.port, 0) << prom.process->output();

  // Prometheus scraped the agent over TLS (up == 1), and its samples came
  // back through the TLS listener onto the agent's page, tagged (bounded).
  const std::string sent_back = std::string("up{cluster=\"") + kCluster +
                                "\",instance=\"127.0.0.1:" + std::to_string(agent.port) +
                                "\",job=\"agent-over-tls\",node=\"n1\"} 1";
  std::string page;
  double prometheus_up = -1;
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < until) {
    const auto up = queryPrometheus(prom.port, "up{job=\"agent-over-tls\"}[1m]");
    prometheus_up = up.empty() || up[0].values.empty() ? -1 : up[0].values.back();
    if (auto res = getTls(agent.port, "/metrics"); res && res->status == 200) page = res->body;
    if (prometheus_up == 1 && page.find(sent_back) != std::string::npos) break;
    std::this_thread::sleep_for(250ms);
  }
  EXPECT_EQ(prometheus_up, 1) << prom.process->output();
  EXPECT_NE(page.find(sent_back), std::string::npos) << page.substr(0, 2000);
  // The plain-HTTP attempt above is the one failed handshake on the agent's port.
  EXPECT_NE(page.find("kubemetrics_http_tls_handshake_failures_total{server=\"agent\"} 1"),
            std::string::npos);
  EXPECT_NE(page.find("kubemetrics_http_tls_handshake_failures_total{server=\"remote_write\"} 0"),
            std::string::npos);
}

}  // namespace
}  // namespace kubemetrics::testing
