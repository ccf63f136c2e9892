// SIGKILL at random moments before, during and after a 60 s backend outage,
// against a real Prometheus (remote-write receiver, no out-of-order window)
// and a real VictoriaMetrics, with the spool in its default write-ahead
// mode: the batch being filled is journaled as samples arrive, every
// payload is on disk before it is sent and leaves it only once the backend
// acknowledged it.
//
// A counting target serves value k on its k-th scrape and notes when. The
// agent is SIGKILLed and restarted at least 20 times; at the end every
// value must be stored for every series, except values scraped in the last
// moments before a kill: the response was still being read, parsed or
// queued (a pull scrape cannot be made durable before the agent has it);
// they are counted and reported, with the longest time from such a scrape
// to its kill. Duplicates (a request the
// backend had taken when the kill came, sent again by the next run) are
// counted where the backend keeps them (VictoriaMetrics stores each copy;
// Prometheus ignores an identical sample and answers 400 "out of order" for
// a resent one older than its newest, rolling the request back: every such
// sample is already stored, which the completeness check proves).
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/agent_process.h"
#include "support/agent_yaml.h"
#include "support/backends.h"
#include "support/counting_target.h"
#include "support/process.h"

namespace kubemetrics {
namespace {

using namespace std::chrono_literals;
using namespace kubemetrics::testing;
using Clock = std::chrono::steady_clock;

constexpr int kSeries = 20;
constexpr auto kOutage = 60s;
// A value scraped this long before a kill may not have reached the journal
// yet: reading and parsing the response, the pipeline's queues. The batch
// being filled (max_wait 500ms below) is journaled, so this is far shorter.
constexpr auto kKillWindow = 300ms;
// A scrape request the agent sent before it died may reach the target's
// handler after the test saw the process exit (it is in the socket buffer).
constexpr auto kDeadRequestSlack = 250ms;

// One SIGKILL: when it was sent and when the process was seen gone.
struct Kill {
  Clock::time_point sent;
  Clock::time_point exited;
};

enum class Receiver { kPrometheus, kVictoriaMetrics };

std::string receiverName(Receiver r) {
  return r == Receiver::kPrometheus ? "Prometheus" : "VictoriaMetrics";
}

Backend startReceiver(Receiver receiver, const TempDir& dir, int port) {
  if (receiver == Receiver::kPrometheus) return startPrometheus(dir, "global: {}\n", port);
  return startVictoriaMetrics(dir.path() + "/vm", port);
}

// Every stored sample of kmtest_kill: series label -> value -> copies.
std::map<std::string, std::map<long, int>> storedValues(Receiver receiver, int port) {
  const std::vector<ReadSeries> series = receiver == Receiver::kPrometheus
                                             ? queryPrometheus(port, "kmtest_kill[30m]")
                                             : exportFromVictoriaMetrics(port, "kmtest_kill");
  std::map<std::string, std::map<long, int>> out;
  for (const ReadSeries& s : series) {
    const auto label = s.labels.find("series");
    if (label == s.labels.end()) continue;
    for (double v : s.values) {
      if (std::isnan(v)) continue;  // the staleness marker at the end
      ++out[label->second][std::lround(v)];
    }
  }
  return out;
}

// The sum of every series of `metric` on a Prometheus /metrics page.
double metricSum(int port, const std::string& metric) {
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) return -1;
  double sum = 0;
  std::istringstream lines(res->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(metric, 0) != 0) continue;
    const char next = line[metric.size()];
    if (next != ' ' && next != '{') continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

class RemoteWriteSigkillTest : public ::testing::TestWithParam<Receiver> {};

TEST_P(RemoteWriteSigkillTest, EverySampleArrivesOnceAcrossKillsAndAnOutage) {
  const Receiver receiver = GetParam();
  CountingTarget target("kmtest_kill", kSeries, 1000000);
  TempDir dir;
  TempDir backend_dir;
  const int port = freeLoopbackPort();
  Backend backend = startReceiver(receiver, backend_dir, port);
  ASSERT_GT(backend.port, 0) << backend.process->output();

  const std::string config = dir.write(
      "agent.yaml", remoteWriteAgentYaml("kill", target.url(), port,
                                         "    timeout: 2s\n"
                                         "    max_in_flight: 2\n"
                                         "    batch: {max_samples: 1000, max_wait: 500ms}\n"
                                         "    retry: {initial_backoff: 100ms, max_backoff: 1s}\n",
                                         "{dir: \"" + dir.path() + "/spool\", max_bytes: 64MiB}"));

  const unsigned seed = std::random_device{}();
  std::cout << "kill schedule seed " << seed << "\n";
  std::mt19937 rng(seed);
  std::vector<Kill> kills;
  AgentProcess agent = AgentProcess::start({"--config", config});
  ASSERT_GT(agent.port, 0) << agent.process->output();
  // Lets the agent run for a random time in [min, max], then SIGKILLs it
  // and starts the next one on the same spool.
  auto runThenKill = [&](std::chrono::milliseconds min, std::chrono::milliseconds max) {
    std::uniform_int_distribution<long> uptime(min.count(), max.count());
    std::this_thread::sleep_for(std::chrono::milliseconds(uptime(rng)));
    Kill kill{Clock::now(), {}};
    agent.process->signal(SIGKILL);
    ASSERT_TRUE(agent.process->wait(10s).has_value());
    kill.exited = Clock::now();
    kills.push_back(kill);
    agent = AgentProcess::start({"--config", config});
    ASSERT_GT(agent.port, 0) << agent.process->output();
  };

  // Before the outage: the backend takes everything as it comes.
  for (int i = 0; i < 4; ++i) ASSERT_NO_FATAL_FAILURE(runThenKill(300ms, 2500ms));
  const std::size_t kills_before = kills.size();
  // The outage: everything goes to the spool, and stays there.
  backend.process->signal(SIGTERM);
  ASSERT_TRUE(backend.process->wait(30s).has_value());
  const auto outage_end = Clock::now() + kOutage;
  while (Clock::now() + 4s < outage_end) ASSERT_NO_FATAL_FAILURE(runThenKill(500ms, 4000ms));
  std::this_thread::sleep_until(outage_end);
  const std::size_t kills_during = kills.size() - kills_before;
  backend = startReceiver(receiver, backend_dir, port);
  ASSERT_GT(backend.port, 0) << backend.process->output();
  // The backlog is replayed: kill it in the middle of that, too.
  for (int i = 0; i < 6; ++i) ASSERT_NO_FATAL_FAILURE(runThenKill(200ms, 1500ms));
  const std::size_t kills_after = kills.size() - kills_before - kills_during;
  ASSERT_GE(kills.size(), 20u);
  std::this_thread::sleep_for(2s);
  const int served = target.endScrapes();
  const std::vector<Clock::time_point> served_at = target.servedAt();

  // A value may be missing only when its scrape was answered in the last
  // kKillWindow before a kill, or while the killed agent was going away.
  auto inKillWindow = [&](int k) {
    return std::any_of(kills.begin(), kills.end(), [&](const Kill& kill) {
      return served_at[k] > kill.sent - kKillWindow &&
             served_at[k] < kill.exited + kDeadRequestSlack;
    });
  };
  std::map<std::string, std::map<long, int>> stored;
  std::vector<std::string> missing;                  // "series/value", outside every kill window
  for (int attempt = 0; attempt < 120; ++attempt) {  // 60 s at most
    stored = storedValues(receiver, backend.port);
    missing.clear();
    for (int s = 0; s < kSeries; ++s) {
      const auto& values = stored[std::to_string(s)];
      for (int k = 0; k < served; ++k) {
        if (!values.count(k) && !inKillWindow(k)) {
          missing.push_back(std::to_string(s) + "/" + std::to_string(k));
        }
      }
    }
    if (missing.empty()) break;
    std::this_thread::sleep_for(500ms);
  }
  std::this_thread::sleep_for(2s);  // late copies, if any, are counted too
  stored = storedValues(receiver, backend.port);

  std::size_t lost_in_window = 0, duplicates = 0, unexpected = 0;
  std::set<int> lost_scrapes;
  // The longest time from a lost scrape to the kill after it.
  auto beforeKill = [&](int k) {
    Clock::duration gap = Clock::duration::max();
    for (const Kill& kill : kills) {
      if (kill.exited + kDeadRequestSlack > served_at[k])
        gap = std::min(gap, kill.sent - served_at[k]);
    }
    return gap;
  };
  for (int s = 0; s < kSeries; ++s) {
    const auto& values = stored[std::to_string(s)];
    for (int k = 0; k < served; ++k) {
      if (values.count(k)) continue;
      ++lost_in_window;
      lost_scrapes.insert(k);
    }
    for (const auto& [value, copies] : values) {
      if (value < 0 || value >= served) ++unexpected;
      duplicates += static_cast<std::size_t>(copies - 1);
    }
  }
  lost_in_window -= std::min(lost_in_window, missing.size());
  Clock::duration longest_gap = Clock::duration::zero();
  for (int k : lost_scrapes) longest_gap = std::max(longest_gap, beforeKill(k));
  const double refused = receiver == Receiver::kPrometheus
                             ? metricSum(backend.port, "prometheus_tsdb_out_of_order_samples_total")
                             : 0;
  std::cout << receiverName(receiver) << ": " << kills.size() << " kills (" << kills_before
            << " before, " << kills_during << " during, " << kills_after << " after the outage), "
            << served << " scrapes x " << kSeries
            << " series served; missing outside a kill window: " << missing.size()
            << "; lost in a kill window (scraped < " << kKillWindow.count()
            << " ms before a kill): " << lost_in_window << " samples of " << lost_scrapes.size()
            << " scrapes (the earliest "
            << std::chrono::duration_cast<std::chrono::milliseconds>(longest_gap).count()
            << " ms before its kill); duplicate copies stored: " << duplicates
            << "; resent samples refused as out of order (already stored): " << refused << "\n";
  EXPECT_TRUE(missing.empty()) << missing.size() << " missing, first "
                               << (missing.empty() ? "" : missing.front()) << "\n"
                               << agent.process->output();
  EXPECT_EQ(unexpected, 0u);
  // At most one request (max_samples) was in doubt at each kill.
  EXPECT_LE(duplicates, kills.size() * 1000);
  EXPECT_LE(lost_in_window, kills.size() * kSeries * 2);  // 2 scrapes = 500 ms
}

INSTANTIATE_TEST_SUITE_P(Receivers, RemoteWriteSigkillTest,
                         ::testing::Values(Receiver::kPrometheus, Receiver::kVictoriaMetrics),
                         [](const auto& info) { return receiverName(info.param); });

}  // namespace
}  // namespace kubemetrics
