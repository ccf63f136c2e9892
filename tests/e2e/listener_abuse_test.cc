// The Wavefront listener of the built agent under abusive clients
// (issue 15): a slowloris that trickles a line one byte at a time, a client
// that disconnects in the middle of a line, and thousands of idle
// connections beyond max_connections. Other clients' lines must keep
// arriving (checked on the agent's /metrics page), only the cut line may be
// lost, and the agent's health endpoint must keep answering quickly.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "support/agent_process.h"
#include "support/loopback.h"
#include "support/process.h"

namespace kubemetrics::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string agentYaml(int listener_port, int max_connections) {
  return "cluster: e2e-abuse\n"
         "node: n1\n"
         "sources:\n"
         "  host: {enabled: false}\n"
         "  ec2: {enabled: false}\n"
         "  listeners:\n"
         "    wavefront:\n"
         "      enabled: true\n"
         "      listen: \"127.0.0.1:" +
         std::to_string(listener_port) +
         "\"\n"
         "      max_connections: " +
         std::to_string(max_connections) + "\n";
}

std::string getPage(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(5, 0);
  auto res = client.Get("/metrics");
  return res && res->status == 200 ? res->body : std::string();
}

/// True when the agent's /metrics page shows a series named `name`.
bool onPage(const std::string& page, const std::string& name) {
  return page.find("\n" + name + "{") != std::string::npos;
}

/// Polls the page (bounded) until it shows `name`.
bool waitOnPage(int port, const std::string& name, std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  do {
    if (onPage(getPage(port), name)) return true;
    std::this_thread::sleep_for(50ms);
  } while (Clock::now() < until);
  return false;
}

/// Polls the agent's self-metric (bounded) until it is at least `want`.
bool waitForMetric(const AgentProcess& agent, const std::string& name, const std::string& labels,
                   double want, std::chrono::seconds timeout = 30s) {
  const auto until = Clock::now() + timeout;
  while (agent.metric(name, labels) < want) {
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

bool sendOnNewConnection(int port, const std::string& text) {
  const int fd = connectToLoopback(port);
  if (fd < 0) return false;
  const bool sent = sendAll(fd, text);
  ::close(fd);
  return sent;
}

class ListenerAbuseTest : public ::testing::Test {
 protected:
  void startAgent(int max_connections) {
    listener_port_ = freeLoopbackPort();
    const std::string config = dir_.write("agent.yaml", agentYaml(listener_port_, max_connections));
    agent_ = AgentProcess::start({"--config", config});
    ASSERT_GT(agent_.port, 0) << agent_.process->output();
    ASSERT_TRUE(agent_.process->waitForOutput("wavefront listener on", 10s))
        << agent_.process->output();
  }

  TempDir dir_;
  int listener_port_ = -1;
  AgentProcess agent_;
};

/// A slowloris on the listener's port: `trickled` one byte every 100 ms
/// (about 4 to 6 s), then `rest` at once. Meanwhile other clients (one
/// long-lived connection, and new ones) send lines, each of which must
/// reach the page while the slowloris is still trickling; at the end the
/// slowloris' own point `slow_name` arrives too.
void expectSlowlorisBlocksNobody(int listener_port, int agent_port, const std::string& trickled,
                                 const std::string& rest, const std::string& slow_name) {
  const int slow_fd = connectToLoopback(listener_port);
  ASSERT_GE(slow_fd, 0);
  std::atomic<bool> trickling{true};
  std::atomic<std::size_t> sent{0};
  std::thread slowloris([&] {
    for (const char c : trickled) {
      if (!sendAll(slow_fd, std::string_view(&c, 1))) break;
      ++sent;
      std::this_thread::sleep_for(100ms);
    }
    trickling = false;
    sendAll(slow_fd, rest);
  });
  const int steady_fd = connectToLoopback(listener_port);
  ASSERT_GE(steady_fd, 0);
  while (sent < 3 && trickling) std::this_thread::sleep_for(10ms);
  int seen_while_trickling = 0;
  for (int i = 0; i < 6; ++i) {
    const std::string name = "abuse.fast." + std::to_string(i);
    const std::string line = name + " " + std::to_string(i) + " source=fast\n";
    EXPECT_TRUE(i % 2 ? sendAll(steady_fd, line) : sendOnNewConnection(listener_port, line));
    const bool seen = waitOnPage(agent_port, "abuse_fast_" + std::to_string(i), 2s);
    EXPECT_TRUE(seen) << name << " did not arrive within 2 s";
    if (seen && trickling) ++seen_while_trickling;
  }
  EXPECT_EQ(seen_while_trickling, 6) << "other clients' lines must arrive while the slowloris "
                                        "is still trickling ("
                                     << sent << " of " << trickled.size() << " bytes sent)";
  slowloris.join();
  ::close(steady_fd);
  EXPECT_TRUE(waitOnPage(agent_port, slow_name, 5s)) << "the slowloris' own point is lost";
  ::close(slow_fd);
}

TEST_F(ListenerAbuseTest, SlowlorisLineDoesNotBlockOtherClients) {
  ASSERT_NO_FATAL_FAILURE(startAgent(1024));
  expectSlowlorisBlocksNobody(listener_port_, agent_.port,
                              "abuse.slow 1 source=slowloris k=trickled-one-byte-every-100ms\n", "",
                              "abuse_slow");
}

TEST_F(ListenerAbuseTest, SlowlorisHttpHeaderDoesNotBlockOtherClients) {
  ASSERT_NO_FATAL_FAILURE(startAgent(1024));
  // The classic slowloris: an HTTP request whose header comes byte by byte
  // on the port that serves both TCP lines and POST /report.
  const std::string body = "abuse.slowhttp 1 source=slowloris\n";
  expectSlowlorisBlocksNobody(
      listener_port_, agent_.port, "POST /report HTTP/1.1\r\nHost: 127.0.0.1\r\n",
      "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\nConnection: close\r\n\r\n" + body,
      "abuse_slowhttp");
}

TEST_F(ListenerAbuseTest, ClientDisconnectingMidLineLosesOnlyThatLine) {
  ASSERT_NO_FATAL_FAILURE(startAgent(1024));
  // The cut line would parse (it lacks only its '\n'): it must still be
  // dropped, as the Wavefront proxy drops an unterminated frame.
  ASSERT_TRUE(sendOnNewConnection(listener_port_,
                                  "abuse.cut.a 1 source=c\nabuse.cut.b 2 source=c\n"
                                  "abuse.cut.c 3 source=c"));
  EXPECT_TRUE(waitForMetric(agent_, "kubemetrics_listener_lost_lines_total",
                            "listener=\"wavefront\",reason=\"truncated\"", 1));
  EXPECT_TRUE(waitOnPage(agent_.port, "abuse_cut_a", 10s));
  EXPECT_TRUE(waitOnPage(agent_.port, "abuse_cut_b", 10s));
  // A later client's line arrives; by then the cut one would have too.
  ASSERT_TRUE(sendOnNewConnection(listener_port_, "abuse.cut.after 4 source=c\n"));
  EXPECT_TRUE(waitOnPage(agent_.port, "abuse_cut_after", 10s));
  const std::string page = getPage(agent_.port);
  EXPECT_FALSE(onPage(page, "abuse_cut_c")) << "the truncated line was forwarded";
  EXPECT_EQ(agent_.metric("kubemetrics_listener_lost_lines_total",
                          "listener=\"wavefront\",reason=\"truncated\""),
            1);
  EXPECT_EQ(agent_.metric("kubemetrics_listener_received_samples_total", "listener=\"wavefront\""),
            3);
  EXPECT_EQ(page.find("kubemetrics_listener_rejected_total{listener=\"wavefront\""),
            std::string::npos);
}

/// Probes GET /healthz on a fresh connection every 20 ms until stopped,
/// keeping the slowest answer and the failures.
class HealthProbe {
 public:
  explicit HealthProbe(int port)
      : thread_([this, port] {
          while (!stop_) {
            const auto start = Clock::now();
            httplib::Client client("127.0.0.1", port);
            client.set_connection_timeout(2, 0);
            client.set_read_timeout(2, 0);
            auto res = client.Get("/healthz");
            const auto took =
                std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
            ++probes_;
            if (!res || res->status != 200) ++failures_;
            slowest_ms_ = std::max<std::int64_t>(slowest_ms_, took.count());
            std::this_thread::sleep_for(20ms);
          }
        }) {}
  ~HealthProbe() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int probes() const { return probes_; }
  int failures() const { return failures_; }
  std::int64_t slowestMs() const { return slowest_ms_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> probes_{0};
  std::atomic<int> failures_{0};
  std::atomic<std::int64_t> slowest_ms_{0};
  std::thread thread_;
};

TEST_F(ListenerAbuseTest, IdleConnectionsBeyondTheLimitAreCountedAndHealthStillAnswers) {
  // 5,000 idle connections against max_connections 1,000 need about
  // 5,000 descriptors here and 1,000+ in the agent (which inherits this
  // limit, and raises its own): scaled down when the hard limit is low.
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  int idle = 5000;
  int max_connections = 1000;
  if (limit.rlim_max < 12000) {
    const double scale = static_cast<double>(limit.rlim_max) / 12000;
    idle = static_cast<int>(idle * scale);
    max_connections = static_cast<int>(max_connections * scale);
    std::cout << "RLIMIT_NOFILE hard limit " << limit.rlim_max << " < 12000: scaled down to "
              << idle << " idle connections, max_connections " << max_connections << "\n";
  }
  RecordProperty("idle_connections", idle);
  RecordProperty("max_connections", max_connections);
  ASSERT_NO_FATAL_FAILURE(startAgent(max_connections));

  HealthProbe health(agent_.port);
  std::vector<int> fds;
  fds.reserve(static_cast<std::size_t>(idle));
  const auto connect_until = Clock::now() + 60s;
  while (static_cast<int>(fds.size()) < idle && Clock::now() < connect_until) {
    const int fd = connectToLoopback(listener_port_);
    if (fd >= 0) fds.push_back(fd);
  }
  ASSERT_EQ(static_cast<int>(fds.size()), idle) << "could not open the idle connections";

  // Every connection beyond the limit is accepted, closed and counted.
  const std::string rejected = "kubemetrics_http_connections_rejected_total";
  const std::string server = "server=\"wavefront\"";
  const double excess = idle - max_connections;
  EXPECT_TRUE(waitForMetric(agent_, rejected, server, excess))
      << agent_.metric(rejected, server) << " of " << excess;
  EXPECT_EQ(agent_.metric(rejected, server), excess);

  // While the idle ones hold every slot, a new client is turned away too.
  // (The agent may close it before the write lands: refused either way.)
  (void)sendOnNewConnection(listener_port_, "abuse.while.full 1 source=x\n");
  EXPECT_TRUE(waitForMetric(agent_, rejected, server, excess + 1));

  // Once the idle clients go, a new client gets its lines through. The
  // agent notices the closes asynchronously: a client that still finds
  // every slot taken is refused (counted), and tries again.
  for (const int fd : fds) ::close(fd);
  fds.clear();
  bool through = false;
  int attempts = 0;
  const auto retry_until = Clock::now() + 30s;
  while (!through && Clock::now() < retry_until) {
    ++attempts;
    (void)sendOnNewConnection(listener_port_, "abuse.after.idle 1 source=x\n");
    through = waitOnPage(agent_.port, "abuse_after_idle", 1s);
  }
  EXPECT_TRUE(through) << "no line got through after the idle connections closed (" << attempts
                       << " attempts)";

  health.stop();
  std::cout << "healthz: " << health.probes() << " probes, slowest " << health.slowestMs()
            << " ms, " << health.failures() << " failed; new client through after " << attempts
            << " attempt(s)\n";
  EXPECT_GT(health.probes(), 0);
  EXPECT_EQ(health.failures(), 0);
  EXPECT_LT(health.slowestMs(), 100);
  EXPECT_FALSE(onPage(getPage(agent_.port), "abuse_while_full"));
}

}  // namespace
}  // namespace kubemetrics::testing
