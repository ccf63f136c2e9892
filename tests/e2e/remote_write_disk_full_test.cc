// The spool on a small filesystem that fills up, with the backend down: the
// agent must not spin (CPU under 5% of a core while full), must lose only
// what the documented policy drops (payloads held in memory beyond
// queue_capacity, counted with reason spool_error), must write again once
// space returns, and must deliver everything it kept once a real
// VictoriaMetrics comes up.
//
// The agent runs in a mount namespace of its own (unshare(1)) with a 2 MiB
// tmpfs over its spool directory, so nothing outside it sees the mount and
// nothing is left mounted should the test die. The test reaches that tmpfs
// through /proc/<pid>/root, where it writes and later deletes a file that
// fills it. Needs permission to create mount namespaces (root in CI);
// skipped otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "support/agent_process.h"
#include "support/agent_yaml.h"
#include "support/backends.h"
#include "support/counting_target.h"
#include "support/process.h"
#include "support/wait_for.h"

namespace kubemetrics {
namespace {

using namespace std::chrono_literals;
using namespace kubemetrics::testing;
using Clock = std::chrono::steady_clock;

constexpr int kSeries = 50;
constexpr int kReportSamples = 5;  // per scrape: up, scrape_duration_seconds, ...
const std::string kLabels = "exporter=\"remote_write\"";

// CPU seconds (user + system) the process `pid` used so far, from
// /proc/<pid>/stat; -1 when unreadable.
double cpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Writes `path` until the filesystem refuses more; the bytes written.
std::uintmax_t fillUp(const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  const std::string chunk(16 * 1024, 'x');
  std::uintmax_t written = 0;
  while (out.write(chunk.data(), static_cast<std::streamsize>(chunk.size())) && out.flush()) {
    written += chunk.size();
    if (written > (64ULL << 20)) break;  // not a small tmpfs after all
  }
  return written;
}

TEST(RemoteWriteDiskFullTest, FullSpoolDoesNotSpinDropsOnlyByPolicyAndResumes) {
  if (runCommand({"unshare", "--mount", "true"}, {}, 10s).exit_code != 0) {
    GTEST_SKIP() << "cannot create a mount namespace here (needs root): unshare --mount";
  }
  CountingTarget target("kmtest_full", kSeries, 1000000);
  TempDir dir;
  const std::string spool = dir.path() + "/spool";
  std::filesystem::create_directory(spool);
  const int vm_port = freeLoopbackPort();
  const std::string config = dir.write(
      "agent.yaml",
      remoteWriteAgentYaml("full", target.url(), vm_port,
                           "    timeout: 2s\n"
                           "    queue_capacity: 4\n"
                           "    batch: {max_samples: 1000, max_wait: 500ms}\n"
                           "    retry: {initial_backoff: 200ms, max_backoff: 2s}\n",
                           "{dir: \"" + spool + "\", max_bytes: 64MiB, segment_bytes: 64KiB}"));
  AgentProcess agent =
      AgentProcess::start({"--config", config}, {},
                          {"unshare", "--mount", "--propagation", "private", "sh", "-c",
                           "mount -t tmpfs -o size=2m kmtest-spool \"$0\" && exec \"$@\"", spool});
  ASSERT_GT(agent.port, 0) << agent.process->output();
  const std::string inside = "/proc/" + std::to_string(agent.process->pid()) + "/root" + spool;

  // The backend is down: the spool grows; then the filesystem is full.
  ASSERT_TRUE(waitFor(
      [&] { return agent.metric("kubemetrics_exporter_push_spooled_samples_total", kLabels) > 0; },
      30s))
      << agent.process->output();
  const std::uintmax_t filler = fillUp(inside + "/filler");
  ASSERT_GT(filler, 0u);
  ASSERT_LT(filler, 2u << 20) << "the spool is not on the 2 MiB tmpfs";
  ASSERT_TRUE(waitFor(
      [&] {
        return agent.metric("kubemetrics_exporter_push_dropped_samples_total",
                            kLabels + ",reason=\"spool_error\"") > 0;
      },
      60s))
      << agent.process->output();

  // Full: payloads are held and dropped by the policy, and the agent idles.
  const double errors_before =
      agent.metric("kubemetrics_exporter_spool_write_errors_total", kLabels);
  const double cpu_before = cpuSeconds(agent.process->pid());
  const auto window_start = Clock::now();
  std::this_thread::sleep_for(5s);
  const double cpu_used = cpuSeconds(agent.process->pid()) - cpu_before;
  const double window = std::chrono::duration<double>(Clock::now() - window_start).count();
  const double errors_after =
      agent.metric("kubemetrics_exporter_spool_write_errors_total", kLabels);
  std::cout << "while full: " << cpu_used << " CPU-s in " << window << " s ("
            << 100 * cpu_used / window << "% of a core); write errors " << errors_before << " -> "
            << errors_after << " (one per backoff, at most every 2 s)\n";
  EXPECT_LT(cpu_used / window, 0.05);
  EXPECT_LE(errors_after - errors_before, 5);  // backoff, not one per payload

  // Space returns: the held payloads go to disk, writing resumes.
  std::filesystem::remove(inside + "/filler");
  const double spooled_when_full =
      agent.metric("kubemetrics_exporter_push_spooled_samples_total", kLabels);
  ASSERT_TRUE(waitFor(
      [&] {
        return agent.metric("kubemetrics_exporter_push_spooled_samples_total", kLabels) >
                   spooled_when_full &&
               agent.metric("kubemetrics_exporter_push_queue_payloads", kLabels) == 0;
      },
      30s))
      << agent.process->output();

  // The backend comes up: everything kept arrives; only the counted drops
  // are missing, and nothing was dropped for any other reason.
  TempDir vm_dir;
  Backend vm = startVictoriaMetrics(vm_dir.path(), vm_port);
  ASSERT_GT(vm.port, 0) << vm.process->output();
  std::this_thread::sleep_for(1s);
  const int served = target.endScrapes();
  ASSERT_TRUE(waitFor(
      [&] {
        return agent.metric("kubemetrics_exporter_spool_records", kLabels) == 0 &&
               agent.metric("kubemetrics_exporter_push_queue_payloads", kLabels) == 0 &&
               agent.metric("kubemetrics_exporter_push_pending_samples", kLabels) == 0;
      },
      60s))
      << agent.process->output();
  const double dropped_by_policy = agent.metric("kubemetrics_exporter_push_dropped_samples_total",
                                                kLabels + ",reason=\"spool_error\"");
  double dropped_otherwise = 0;
  for (const char* reason : {"rejected", "invalid", "encode_error", "spool_full", "no_spool"}) {
    dropped_otherwise += agent.metric("kubemetrics_exporter_push_dropped_samples_total",
                                      kLabels + ",reason=\"" + reason + "\"");
  }
  // Each scrape is kSeries samples plus the kReportSamples Prometheus adds
  // (up, scrape_duration_seconds, ...), and travels in one payload: it is
  // stored whole or dropped whole.
  std::map<long, int> series_per_value;
  int whole = 0, partial = 0;
  waitFor(
      [&] {
        series_per_value.clear();
        for (const ReadSeries& s : exportFromVictoriaMetrics(vm.port, "kmtest_full")) {
          for (double v : s.values) {
            if (!std::isnan(v)) ++series_per_value[std::lround(v)];
          }
        }
        whole = partial = 0;
        for (const auto& [value, series] : series_per_value) {
          (series == kSeries ? whole : partial) += 1;
        }
        return (served - whole) * (kSeries + kReportSamples) <= dropped_by_policy;
      },
      30s);
  const int dropped_scrapes = served - whole;
  std::cout << served << " scrapes of " << kSeries << " series served; " << whole
            << " stored whole, " << partial << " in part; dropped by policy " << dropped_by_policy
            << " samples (" << dropped_scrapes << " scrapes x " << kSeries + kReportSamples
            << "), otherwise " << dropped_otherwise << "\n";
  EXPECT_GT(dropped_by_policy, 0);
  EXPECT_EQ(dropped_otherwise, 0);
  EXPECT_EQ(partial, 0);
  EXPECT_EQ(dropped_by_policy, dropped_scrapes * (kSeries + kReportSamples));
}

}  // namespace
}  // namespace kubemetrics
