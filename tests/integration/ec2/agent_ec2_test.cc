// The agent in-process with the host source and the ec2 source pointed at
// a fake IMDS on 127.0.0.1: every collected series leaving the Prometheus
// exporter carries the EC2 tags; spot notices reach /metrics within one
// spot interval; off EC2 start-up and readiness do not wait for the probe.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <regex>
#include <sstream>
#include <thread>

#include "agent/agent.h"
#include "agent/agent_config.h"
#include "kubemetrics/deadline.h"
#include "support/http_get.h"
#include "support/wait_for.h"
#include "unit/scrapers/ec2/fake_imds.h"

namespace kubemetrics::scrapers::ec2 {
namespace {

using kubemetrics::testing::httpGet;
using kubemetrics::testing::metricsPage;
using kubemetrics::testing::waitFor;
using std::chrono::milliseconds;
using testing::BlackholePort;
using testing::FakeImds;

// No variable of the environment may send the agent elsewhere.
void clearAwsEnvironment() {
  ::unsetenv("AWS_EC2_METADATA_DISABLED");
  ::unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
}

std::string agentYaml(const std::string& endpoint) {
  EXPECT_EQ(endpoint.rfind("http://127.0.0.1:", 0), 0u) << endpoint;
  return "cluster: itest\nnode: n1\nserver: {listen: 127.0.0.1:0}\n"
         "sources:\n"
         "  host: {enabled: true, interval: 200ms}\n"
         "  ec2: {enabled: auto, endpoint: \"" +
         endpoint +
         "\", spot_interval: 300ms, timeout: 300ms}\n"
         "exporters:\n"
         "  prometheus: {enabled: true, path: /metrics, expire_after: 1s}\n";
}

TEST(AgentEc2Test, EverySampleCarriesTheEc2Tags) {
  clearAwsEnvironment();
  FakeImds imds;
  imds.setV1Allowed(false);
  auto agent = Agent::create(agentYaml(imds.endpoint()), "test");
  ASSERT_TRUE(agent) << agent.error().message();
  ASSERT_TRUE((*agent)->start());
  const int port = (*agent)->port();

  ASSERT_TRUE(waitFor(
      [&] { return httpGet(port, "/status").find("identity instance_id=") != std::string::npos; },
      milliseconds(5000)))
      << httpGet(port, "/status");
  const std::string status = httpGet(port, "/status");
  EXPECT_NE(status.find("== ec2 =="), std::string::npos) << status;
  EXPECT_NE(status.find("endpoint " + imds.endpoint() + " (from config)"), std::string::npos)
      << status;
  EXPECT_NE(status.find("imds IMDSv2"), std::string::npos) << status;
  EXPECT_NE(status.find("tag instance_id=i-1234567890abcdef0"), std::string::npos) << status;

  // Series a host scrape produced before the identity arrived carry no EC2
  // tags; they expire (expire_after: 1s). Wait that out, then every series
  // must be tagged.
  std::this_thread::sleep_for(milliseconds(1600));
  const std::string page = metricsPage(port);
  std::istringstream lines(page);
  std::string line;
  int checked = 0;
  bool info = false;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("kubemetrics_", 0) == 0) continue;
    ++checked;
    info = info || line.rfind("ec2_instance_info{", 0) == 0;
    for (const char* tag : {"instance_id=\"i-1234567890abcdef0\"", "instance_type=\"t2.micro\"",
                            "availability_zone=\"us-west-2b\"", "region=\"us-west-2\"",
                            "account_id=\"123456789012\"", "cluster=\"itest\""}) {
      EXPECT_NE(line.find(tag), std::string::npos) << tag << " missing in: " << line;
    }
  }
  EXPECT_GT(checked, 20) << page;
  EXPECT_TRUE(info) << page;
  EXPECT_NE(page.find("node_memory_MemTotal_bytes{"), std::string::npos);

  // A spot notice appearing mid-run reaches /metrics. That it is polled on
  // every scrape is Ec2SourceTest.SpotActionAppearsWithinOneSpotInterval's
  // to show, on a manual clock; here real time only bounds the wait.
  imds.setSpotAction(testing::readFixture("awsdocs_spot_instance-action_terminate.json"));
  const auto set_at = SteadyClock::now();
  ASSERT_TRUE(waitFor(
      [&] {
        // Labels are sorted: account_id comes before action.
        static const std::regex kSeries(
            "\\nec2_spot_interruption_seconds_left\\{[^}]*action=\"terminate\"");
        return std::regex_search(metricsPage(port), kSeries);
      },
      milliseconds(3000)));
  const auto took = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - set_at);
  std::cerr << "[ measured ] spot notice on /metrics after " << took.count()
            << " ms (spot_interval 300 ms)\n";
  EXPECT_NE(httpGet(port, "/status").find("spot terminate at 2017-09-18T08:22:00Z"),
            std::string::npos);
  (*agent)->stop();
  EXPECT_EQ(imds.getsWithoutToken(), 0);
}

TEST(AgentEc2Test, OffEc2StartUpAndReadinessDoNotWaitForTheProbe) {
  clearAwsEnvironment();
  BlackholePort blackhole;
  auto agent = Agent::create(agentYaml(blackhole.endpoint()), "test");
  ASSERT_TRUE(agent) << agent.error().message();
  const auto began = SteadyClock::now();
  ASSERT_TRUE((*agent)->start());
  const auto start_took = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - began);
  int code = 0;
  const std::string ready = httpGet((*agent)->port(), "/readyz", &code);
  const auto ready_took = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - began);
  EXPECT_EQ(code, 200) << ready;
  std::cerr << "[ measured ] blackholed IMDS: Agent::start " << start_took.count()
            << " ms, /readyz 200 after " << ready_took.count() << " ms (timeout 300 ms)\n";
  EXPECT_LT(start_took, milliseconds(300));
  EXPECT_LT(ready_took, milliseconds(300));
  // The source concludes "not on EC2" after the token PUT and one v1 GET.
  ASSERT_TRUE(waitFor(
      [&] {
        return httpGet((*agent)->port(), "/status").find("state absent: not on EC2") !=
               std::string::npos;
      },
      milliseconds(2000)))
      << httpGet((*agent)->port(), "/status");
  const std::string status = httpGet((*agent)->port(), "/status");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(status, m, std::regex("first_probe_ms ([0-9]+)"))) << status;
  std::cerr << "[ measured ] blackholed IMDS: probe gave up after " << m[1] << " ms\n";
  EXPECT_LE(std::stoi(m[1]), 2 * 300 + 200);
  // The host source scrapes once the probe is over; its samples then go
  // through the pipeline, so the page may lag the status by a moment.
  std::string page;
  EXPECT_TRUE(waitFor(
      [&] {
        page = metricsPage((*agent)->port());
        return page.find("node_memory_MemTotal_bytes{") != std::string::npos;
      },
      milliseconds(5000)));
  EXPECT_EQ(page.find("instance_id="), std::string::npos);
  EXPECT_NE(httpGet((*agent)->port(), "/readyz").find("source ec2: up"), std::string::npos);
  (*agent)->stop();
}

TEST(AgentEc2Test, BuiltInDefaultConfigRunsNoEc2Source) {
  clearAwsEnvironment();
  AgentOverrides overrides;
  overrides.listen = "127.0.0.1:0";
  auto agent = Agent::create(defaultConfigYaml(), "built-in default", overrides);
  ASSERT_TRUE(agent) << agent.error().message();
  ASSERT_TRUE((*agent)->start());
  const std::string ready = httpGet((*agent)->port(), "/readyz");
  EXPECT_NE(ready.find("source host"), std::string::npos) << ready;
  EXPECT_EQ(ready.find("source ec2"), std::string::npos) << ready;
  const std::string status = httpGet((*agent)->port(), "/status");
  EXPECT_NE(status.find("state disabled: sources.ec2.enabled: false"), std::string::npos) << status;
  (*agent)->stop();
}

}  // namespace
}  // namespace kubemetrics::scrapers::ec2
