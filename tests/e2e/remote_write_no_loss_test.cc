// No loss across a backend outage and a SIGKILL, and spool tail corruption.
//
// Phase 1 runs in a fork()ed child so the number of samples is exact: it
// drives the remote write exporter directly (what the pipeline's flusher
// does) with a known number of samples while VictoriaMetrics is down, waits
// until its self-metrics say every one is in the spool, and is SIGKILLed.
// (A scrape source would keep producing after the count is read, so the
// count sent could not be pinned down.) Phase 2 is the real agent binary
// with the same spool directory; VictoriaMetrics starts after it, and the
// count at the backend must equal the count sent.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "exporters/remote_write/remote_write_exporter.h"
#include "support/agent_process.h"
#include "support/backends.h"
#include "support/counting_target.h"
#include "support/process.h"

namespace kubemetrics::exporters::remote_write {
namespace {

using namespace std::chrono_literals;
using namespace kubemetrics::testing;

constexpr int kSeries = 50;
constexpr int kPoints = 100;  // one batch (and one spool record) per point
constexpr std::size_t kTotal = kSeries * kPoints;

// The child: spools kTotal samples under `spool_dir`/remote_write (the
// agent's layout) for a backend at `url` that is down,
// reports "spooled <n>" on `fd`, then waits to be killed.
[[noreturn]] void spoolingChild(const std::string& url, const std::string& spool_dir, int fd) {
  RemoteWriteConfig config;
  config.url = url;
  config.push.timeout = 1s;
  config.push.batch.max_samples = kSeries;  // one record per batch
  config.push.batch.max_wait = 50ms;
  config.push.retry.initial_backoff = 10ms;
  config.push.retry.max_backoff = 20ms;
  config.push.retry.max_attempts = 1;
  config.push.spool.dir = spool_dir;
  prometheus::Registry registry;
  auto exporter = createRemoteWriteExporter("remote_write", config, registry);
  if (!exporter) _exit(3);
  const std::int64_t end = nowMs() - 60000;
  for (int p = 0; p < kPoints; ++p) {
    auto batch = std::make_shared<SampleBatch>();
    for (int s = 0; s < kSeries; ++s) {
      LabelsBuilder b;
      b.set("series", std::to_string(s));
      batch->samples.push_back(
          Sample{Symbol::intern("kmtest_noloss"), b.build(), 1.0 * p, end - (kPoints - p) * 1000});
    }
    if (!(*exporter)->send(batch)) _exit(4);
  }
  for (int i = 0; i < 3000 && (*exporter)->stats().spooled_samples < kTotal; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  const std::string line = "spooled " + std::to_string((*exporter)->stats().spooled_samples) + "\n";
  if (::write(fd, line.data(), line.size()) < 0) _exit(5);
  for (;;) ::pause();  // until SIGKILL: nothing is flushed or cleaned up
}

// Forks the child, waits for its report, SIGKILLs it. Returns the count it
// spooled, or 0.
std::size_t spoolThenKill(const std::string& url, const std::string& spool_dir) {
  int fds[2];
  if (::pipe(fds) != 0) return 0;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    spoolingChild(url, spool_dir, fds[1]);
  }
  ::close(fds[1]);
  std::string report;
  char buf[64];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n <= 0) break;
    report.append(buf, static_cast<std::size_t>(n));
    if (report.find('\n') != std::string::npos) break;
  }
  ::close(fds[0]);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (report.rfind("spooled ", 0) != 0) return 0;
  return std::stoul(report.substr(8));
}

std::string agentConfig(const std::string& url, const std::string& spool_root) {
  return "cluster: e2e\n"
         "sources:\n"
         "  host: {enabled: false}\n"
         "exporters:\n"
         "  prometheus: {enabled: true}\n"
         "  remote_write:\n"
         "    enabled: true\n"
         "    url: \"" +
         url +
         "\"\n"
         "    timeout: 2s\n"
         "    batch: {max_samples: 1000, max_wait: 200ms}\n"
         "    retry: {initial_backoff: 100ms, max_backoff: 500ms, max_attempts: 2}\n"
         "  spool: {dir: \"" +
         spool_root + "\", max_bytes: 64MiB}\n";
}

std::vector<std::string> segments(const std::string& dir) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(RemoteWriteNoLossTest, BackendDownAgentKilledThenRestartedLosesNothing) {
  TempDir dir;
  const int vm_port = freeLoopbackPort();
  const std::string url = "http://127.0.0.1:" + std::to_string(vm_port) + "/api/v1/write";
  const std::string spool_root = dir.path() + "/spool";
  const std::size_t spooled = spoolThenKill(url, spool_root);
  ASSERT_EQ(spooled, kTotal);
  ASSERT_FALSE(segments(spool_root + "/remote_write").empty());

  const std::string config = dir.write("agent.yaml", agentConfig(url, spool_root));
  auto agent = AgentProcess::start({"--config", config});
  ASSERT_GT(agent.port, 0) << agent.process->output();
  std::this_thread::sleep_for(1s);  // the agent retries against nothing first
  Backend vm = startVictoriaMetrics(dir.path() + "/vm", vm_port);
  ASSERT_GT(vm.port, 0) << vm.process->output();

  EXPECT_EQ(waitForVictoriaMetricsCount(vm.port, kTotal, 40s, "kmtest_noloss"), kTotal)
      << agent.process->output();
  EXPECT_FALSE(countAtVictoriaMetrics(vm.port, "kmtest_noloss").second)
      << "duplicates at the backend";
  // Acknowledged records are deleted.
  for (int i = 0; i < 50 && !segments(spool_root + "/remote_write").empty(); ++i) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(segments(spool_root + "/remote_write").empty());
}

// The same guarantee with the agent binary end to end: it scrapes a target
// that serves a known number of scrapes (then answers 503), spools them while
// VictoriaMetrics is down, is SIGKILLed, restarts on the same spool, and
// every scraped sample reaches the backend once VictoriaMetrics is up, and
// so do the staleness markers the first failed scrape wrote (one per series).
TEST(RemoteWriteNoLossTest, ScrapingAgentKilledWhileBackendDownLosesNothing) {
  constexpr int kServedScrapes = 8;
  CountingTarget target("kmtest_scraped", 20, kServedScrapes);

  TempDir dir;
  const int vm_port = freeLoopbackPort();
  const std::string url = "http://127.0.0.1:" + std::to_string(vm_port) + "/api/v1/write";
  const std::string spool_root = dir.path() + "/spool";
  std::string config_text = agentConfig(url, spool_root);
  config_text.replace(config_text.find("  host: {enabled: false}\n"),
                      std::string("  host: {enabled: false}\n").size(),
                      "  host: {enabled: false}\n"
                      "  prometheus:\n"
                      "    - {name: noloss, url: \"" +
                          target.url() + "\", interval: 500ms, timeout: 400ms}\n");
  const std::string config = dir.write("agent.yaml", config_text);

  {
    auto first = AgentProcess::start({"--config", config});
    ASSERT_GT(first.port, 0) << first.process->output();
    ASSERT_TRUE(target.waitServed(kServedScrapes));
    // The last scrape's batch crosses the pipeline and the exporter (one
    // failed attempt against the closed port, then the spool) in well under
    // this; SIGKILL gives the agent no chance to flush anything else.
    std::this_thread::sleep_for(3s);
    first.process->signal(SIGKILL);
    ASSERT_TRUE(first.process->wait(10s).has_value());
  }
  ASSERT_FALSE(segments(spool_root + "/remote_write").empty());

  auto second = AgentProcess::start({"--config", config});
  ASSERT_GT(second.port, 0) << second.process->output();
  std::this_thread::sleep_for(1s);
  Backend vm = startVictoriaMetrics(dir.path() + "/vm", vm_port);
  ASSERT_GT(vm.port, 0) << vm.process->output();

  // The 503 after the last served scrape marks each series stale, once (the
  // restarted agent has no previous scrape, so it writes none).
  const std::size_t want = target.samplesWithStalenessMarkers();
  EXPECT_EQ(waitForVictoriaMetricsCount(vm.port, want, 40s, "kmtest_scraped"), want)
      << second.process->output();
  EXPECT_FALSE(countAtVictoriaMetrics(vm.port, "kmtest_scraped").second)
      << "duplicates at the backend";
}

// SIGTERM while the backend hangs (it takes each request and never
// answers, far past the request timeout): the agent cuts the requests short
// at shutdown_timeout, spools what they carried and exits cleanly (exit
// code 0: its watchdog, 5 s later, would exit 1); the next start delivers
// every sample to VictoriaMetrics.
TEST(RemoteWriteNoLossTest, SigtermWhileTheBackendHangsSpoolsEverythingAndTheNextStartDelivers) {
  constexpr int kServedScrapes = 4;
  CountingTarget target("kmtest_hung", 20, kServedScrapes);

  // Holds every request until the test ends (60 s at most, against a hang).
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> held{0};
  httplib::Server hung;
  hung.Post("/api/v1/write", [&](const httplib::Request&, httplib::Response& res) {
    ++held;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, 60s, [&] { return release; });
    res.status = 503;
  });
  const int hung_port = hung.bind_to_any_port("127.0.0.1");
  ASSERT_GT(hung_port, 0);
  std::thread hanging([&] { hung.listen_after_bind(); });
  auto stop_servers = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      release = true;
    }
    cv.notify_all();
    hung.stop();
    hanging.join();
    target.stop();
  };

  TempDir dir;
  const std::string spool_root = dir.path() + "/spool";
  const auto configFor = [&](const std::string& url, const std::string& name) {
    std::string text = agentConfig(url, spool_root);
    const std::string request_timeout = "    timeout: 2s\n";
    text.replace(text.find(request_timeout), request_timeout.size(),
                 "    timeout: 30s\n");  // the default: far past the grace period
    text = "shutdown_timeout: 2s\n" + text;
    text.replace(text.find("  host: {enabled: false}\n"),
                 std::string("  host: {enabled: false}\n").size(),
                 "  host: {enabled: false}\n"
                 "  prometheus:\n"
                 "    - {name: hung, url: \"" +
                     target.url() + "\", interval: 500ms, timeout: 400ms}\n");
    return dir.write(name, text);
  };
  {
    auto first = AgentProcess::start(
        {"--config",
         configFor("http://127.0.0.1:" + std::to_string(hung_port) + "/api/v1/write", "a.yaml")});
    ASSERT_GT(first.port, 0) << first.process->output();
    ASSERT_TRUE(target.waitServed(kServedScrapes));
    for (int i = 0; i < 600 && held.load() == 0; ++i) std::this_thread::sleep_for(50ms);
    ASSERT_GT(held.load(), 0);
    // At least one 503 scrape (its staleness markers) reaches the exporter.
    std::this_thread::sleep_for(1500ms);
    first.process->signal(SIGTERM);
    const auto code = first.process->wait(15s);
    ASSERT_TRUE(code.has_value()) << first.process->output();
    EXPECT_EQ(*code, 0) << first.process->output();
    EXPECT_EQ(first.process->output().find("shutdown did not finish in time"), std::string::npos)
        << first.process->output();
  }
  stop_servers();
  ASSERT_FALSE(segments(spool_root + "/remote_write").empty());

  const int vm_port = freeLoopbackPort();
  Backend vm = startVictoriaMetrics(dir.path() + "/vm", vm_port);
  ASSERT_GT(vm.port, 0) << vm.process->output();
  auto second = AgentProcess::start(
      {"--config",
       configFor("http://127.0.0.1:" + std::to_string(vm_port) + "/api/v1/write", "b.yaml")});
  ASSERT_GT(second.port, 0) << second.process->output();
  // Every served sample and the staleness marker of each series.
  const std::size_t want = target.samplesWithStalenessMarkers();
  EXPECT_EQ(waitForVictoriaMetricsCount(vm.port, want, 40s, "kmtest_hung"), want)
      << second.process->output();
  EXPECT_FALSE(countAtVictoriaMetrics(vm.port, "kmtest_hung").second)
      << "duplicates at the backend";
}

TEST(RemoteWriteNoLossTest, CorruptSpoolTailIsSkippedAndTheRestDelivered) {
  TempDir dir;
  const int vm_port = freeLoopbackPort();
  const std::string url = "http://127.0.0.1:" + std::to_string(vm_port) + "/api/v1/write";
  const std::string spool_root = dir.path() + "/spool";
  ASSERT_EQ(spoolThenKill(url, spool_root), kTotal);
  auto files = segments(spool_root + "/remote_write");
  ASSERT_FALSE(files.empty());
  // Power loss mid-write: the last record is cut short, then junk follows.
  const std::string last = files.back();
  std::filesystem::resize_file(last, std::filesystem::file_size(last) - 7);
  {
    std::ofstream junk(last, std::ios::app | std::ios::binary);
    junk << "\x13\x37junk";
  }

  Backend vm = startVictoriaMetrics(dir.path() + "/vm", vm_port);
  ASSERT_GT(vm.port, 0) << vm.process->output();
  const std::string config = dir.write("agent.yaml", agentConfig(url, spool_root));
  auto agent = AgentProcess::start({"--config", config});
  ASSERT_GT(agent.port, 0) << agent.process->output();
  EXPECT_NE(agent.process->output().find("torn or corrupt record"), std::string::npos)
      << agent.process->output();

  // Everything but the one torn record (one batch of kSeries samples).
  EXPECT_EQ(waitForVictoriaMetricsCount(vm.port, kTotal - kSeries, 40s, "kmtest_noloss"),
            kTotal - kSeries)
      << agent.process->output();
  httplib::Client client("127.0.0.1", agent.port);
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find(
                "kubemetrics_exporter_spool_corrupt_records_total{exporter=\"remote_write\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace kubemetrics::exporters::remote_write
