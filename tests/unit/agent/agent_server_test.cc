// The agent's own HTTP endpoint takes its limits from `server:`: no route
// accepts a request body unless max_request_body allows one, and
// max_connections caps the open connections; at the cap an idle connection
// makes room, so one client cannot lock the kubelet's probes out.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "agent/agent.h"
#include "support/loopback.h"

namespace kubemetrics {
namespace {

std::unique_ptr<Agent> startAgent(const std::string& server_yaml) {
  const std::string yaml = "cluster: t\nnode: n1\nserver: {listen: 127.0.0.1:0" + server_yaml +
                           "}\nsources:\n  host: {enabled: false}\n  ec2: {enabled: false}\n";
  auto agent = Agent::create(yaml, "test");
  EXPECT_TRUE(agent) << (agent ? "" : agent.error().message());
  if (!agent || !(*agent)->start()) return nullptr;
  return std::move(*agent);
}

TEST(AgentServerTest, NoRouteTakesABodyByDefault) {
  auto agent = startAgent("");
  ASSERT_NE(agent, nullptr);
  httplib::Client client("127.0.0.1", agent->port());
  auto get = client.Get("/metrics");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  auto post = client.Post("/metrics", std::string(100, 'x'), "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 413);
}

TEST(AgentServerTest, ABodyUpToMaxRequestBodyReachesTheRoute) {
  auto agent = startAgent(", max_request_body: 1KiB");
  ASSERT_NE(agent, nullptr);
  httplib::Client client("127.0.0.1", agent->port());
  auto small = client.Post("/healthz", std::string(100, 'x'), "text/plain");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200);
  auto large = client.Post("/healthz", std::string(2048, 'x'), "text/plain");
  ASSERT_TRUE(large);
  EXPECT_EQ(large->status, 413);
}

TEST(AgentServerTest, AtMaxConnectionsAnIdleConnectionMakesRoomForAProbe) {
  auto agent = startAgent(", max_connections: 1");
  ASSERT_NE(agent, nullptr);
  // Connected and silent: idle from its accept, which comes before the
  // probe's. (A keep-alive client idle after an answer would race the test:
  // it reads the answer before the server marks the connection idle.)
  const int holder = testing::connectToLoopback(agent->port());
  ASSERT_GE(holder, 0);

  httplib::Client probe("127.0.0.1", agent->port());
  probe.set_read_timeout(5, 0);
  auto page = probe.Get("/metrics");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("kubemetrics_http_idle_connections_evicted_total{server=\"agent\"} 1"),
            std::string::npos)
      << page->body;
  EXPECT_NE(page->body.find("kubemetrics_http_connections_rejected_total{server=\"agent\"} 0"),
            std::string::npos)
      << page->body;
  ::close(holder);
}

}  // namespace
}  // namespace kubemetrics
