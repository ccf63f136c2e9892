// kubemetrics-agent: collects node, pod and cluster metrics and forwards
// them. See README.md and docs/configuration.md.

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "agent/agent.h"
#include "agent/agent_config.h"
#include "agent/agent_supervisor.h"
#include "kubemetrics/log.h"

namespace {

constexpr const char* kUsage =
    "usage: kubemetrics-agent [--config FILE] [--check-config] [--listen ADDR:PORT]\n"
    "                         [--log-level debug|info|warn|error] [--version]\n"
    "\n"
    "  --config FILE      YAML configuration (default: the built-in configuration:\n"
    "                     host metrics, /metrics on 0.0.0.0:9464, cluster from\n"
    "                     $CLUSTER_NAME or \"local\")\n"
    "  --check-config     validate, print the effective configuration, exit 0 (valid)\n"
    "                     or 1 (invalid)\n"
    "  --listen ADDR:PORT override server.listen\n"
    "  --log-level LEVEL  override log_level\n"
    "  --version          print the version and exit\n";

/// Raises the soft limit of open files to the hard one: every listener
/// connection and scrape holds a descriptor, and the common soft default
/// (1024) is far below what a node's applications may open to the proxy
/// role. The hard limit, which the runtime sets, stays the bound.
void raiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    kubemetrics::logDebug("agent")
        << "open files limit raised from " << before << " to " << limit.rlim_cur;
  }
}

/// Two settings of glibc's allocator, made before any thread starts:
///  - Every allocation of 1 MiB or more gets its own mapping, returned to
///    the kernel when freed. glibc otherwise raises its mmap threshold to
///    the largest block freed (up to 32 MiB), so the agent's multi-megabyte
///    buffers (scrape bodies, rendered pages, their gzip forms) land in the
///    heap arenas, where they fragment: with a 100k-series target and a
///    /metrics scraper the resident set grew from 110 to 240 MiB in four
///    scrapes, and past the DaemonSet's memory limit under CPU contention.
///  - Up to 64 MiB free at the top of a heap arena stays there. A fixed
///    mmap threshold also fixes the trim threshold at its default, 128 KiB,
///    so the buffers of every request and batch (a few hundred KiB each)
///    went back to the kernel when freed (madvise, which flushes the TLB of
///    every core) and were faulted in again for the next: a tenth of the
///    agent's CPU as a remote-write proxy at 1M samples/s on a cloud VM,
///    and a third more per scraped sample at 10,000 pods on a VM where
///    those flushes are dear. Any threshold of 2 MiB or more keeps that
///    (512 KiB does not); it costs ~10 MiB of resident memory there.
///    64 MiB is the most glibc's own dynamic threshold would set (twice
///    the mmap threshold).
///  - One heap arena per core, not glibc's eight per core: each arena
///    keeps its own free memory under the trim threshold, and the agent's
///    threads spread those sub-MiB buffers over as many arenas as they
///    can get. On 2 cores at 10,000 pods: peak RSS 106-108 -> 95 MiB at
///    the same CPU per sample; the remote-write proxy's CPU did not move
///    (seven interleaved pairs, medians 0.79 s per M samples both).
/// MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ and MALLOC_ARENA_MAX in
/// the environment still win.
void configureMalloc() {
#ifdef __GLIBC__
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
  if (std::getenv("MALLOC_TRIM_THRESHOLD_") == nullptr) ::mallopt(M_TRIM_THRESHOLD, 64 << 20);
  const unsigned cores = std::thread::hardware_concurrency();
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr && cores != 0) {
    ::mallopt(M_ARENA_MAX, static_cast<int>(cores));
  }
#endif
}

struct CommandLine {
  std::string config_file;
  bool check_config = false;
  kubemetrics::AgentOverrides overrides;
};

bool parseCommandLine(int argc, char** argv, CommandLine& out) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](std::string* target) {
      if (i + 1 >= argc) {
        std::cerr << "kubemetrics-agent: " << arg << " needs a value\n" << kUsage;
        return false;
      }
      *target = argv[++i];
      return true;
    };
    std::string text;
    if (arg == "--config") {
      if (!value(&out.config_file)) return false;
    } else if (arg == "--check-config") {
      out.check_config = true;
    } else if (arg == "--listen") {
      if (!value(&text)) return false;
      out.overrides.listen = text;
    } else if (arg == "--log-level") {
      if (!value(&text)) return false;
      out.overrides.log_level = kubemetrics::parseLogLevel(text);
      if (!out.overrides.log_level) {
        std::cerr << "kubemetrics-agent: --log-level: expected debug, info, warn or error (got \""
                  << text << "\")\n";
        return false;
      }
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (arg == "--version") {
      std::cout << "kubemetrics-agent " << kubemetrics::kAgentVersion << "\n";
      std::exit(0);
    } else {
      std::cerr << "kubemetrics-agent: unknown argument \"" << arg << "\"\n" << kUsage;
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  configureMalloc();
  using namespace kubemetrics;
  CommandLine cli;
  if (!parseCommandLine(argc, argv, cli)) return 2;

  std::string yaml;
  std::string origin = "built-in default config";
  if (cli.config_file.empty()) {
    yaml = std::string(defaultConfigYaml());
  } else if (!readConfigFile(cli.config_file, yaml)) {
    std::cerr << "kubemetrics-agent: " << cli.config_file << ": cannot read the file\n";
    return 1;
  } else {
    origin = cli.config_file;
  }

  ConfigCheck checked = Agent::check(yaml, origin, cli.overrides);
  if (cli.check_config) {
    std::cout << "# effective configuration (" << origin << ")\n" << checked.effective_yaml << "\n";
    if (cli.overrides.listen)
      std::cout << "# server.listen overridden by --listen: " << *cli.overrides.listen << "\n";
  }
  if (!checked.ok()) {
    std::cerr << "kubemetrics-agent: invalid configuration (" << origin << "):\n";
    for (const ConfigError& e : checked.errors) std::cerr << "  " << e.toString() << "\n";
    return 1;
  }
  if (cli.check_config) {
    std::cerr << "kubemetrics-agent: configuration is valid\n";
    return 0;
  }
  setLogLevel(checked.config.log_level);

  // Block the stop and reload signals in every thread (threads inherit the
  // mask), so only the wait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  raiseOpenFileLimit();

  AgentSupervisor supervisor(cli.config_file, origin, cli.overrides);
  if (auto started = supervisor.start(std::move(yaml)); !started) {
    logError("agent") << "cannot start: " << started.error().message();
    return 1;
  }

  int received = 0;
  for (;;) {
    const std::chrono::milliseconds check = supervisor.checkInterval();
    if (check.count() == 0) {
      sigwait(&signals, &received);
    } else {
      const timespec wait{static_cast<time_t>(check.count() / 1000),
                          static_cast<long>(check.count() % 1000) * 1000000L};
      received = sigtimedwait(&signals, nullptr, &wait);
      if (received < 0) {
        if (errno == EAGAIN && !supervisor.reload(AgentSupervisor::Trigger::kFileCheck)) return 1;
        continue;
      }
    }
    if (received != SIGHUP) break;
    if (!supervisor.reload(AgentSupervisor::Trigger::kSignal)) return 1;
  }
  logInfo("agent") << "received " << (received == SIGTERM ? "SIGTERM" : "SIGINT");

  // Watchdog: the drain is bounded by shutdown_timeout; should a component
  // ignore its deadline, exit anyway rather than hang the pod's termination.
  const auto grace = supervisor.agent().config().shutdown_timeout + std::chrono::seconds(5);
  std::thread([grace] {
    std::this_thread::sleep_for(grace);
    logError("agent") << "shutdown did not finish in time; exiting";
    std::_Exit(1);
  }).detach();

  Agent& agent = supervisor.agent();
  agent.stop();
  if (agent.sourcesLeftRunning()) {
    // Everything is drained or spooled; destroying the agent would wait
    // for the stuck scrape (and the watchdog would exit 1 instead).
    logWarn("agent") << "exiting with a source still in a scrape";
    std::_Exit(0);
  }
  return 0;
}
