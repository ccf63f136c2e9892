#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "support/http_get.h"
#include "support/process.h"

namespace kubemetrics::testing {

/// The built kubemetrics-agent binary running as a child process, listening
/// on an ephemeral loopback port that it reports in its start-up log line.
struct AgentProcess {
  std::unique_ptr<Process> process;
  int port = -1;

  /// Starts the agent with `args` (plus --listen 127.0.0.1:0) and waits for
  /// it to serve; port stays -1 when it did not start within 20 s. A
  /// `wrapper` command, when given, runs first and execs the agent's argv
  /// (appended to it), so the agent keeps the child's pid.
  static AgentProcess start(std::vector<std::string> args, std::vector<std::string> env = {},
                            std::vector<std::string> wrapper = {}) {
    AgentProcess agent;
    std::vector<std::string> argv = std::move(wrapper);
    for (const char* arg : {KM_AGENT_BINARY, "--listen", "127.0.0.1:0"}) argv.push_back(arg);
    argv.insert(argv.end(), args.begin(), args.end());
    agent.process = std::make_unique<Process>(argv, env);
    if (agent.process->waitForOutput("serving on", std::chrono::seconds(20))) {
      std::smatch match;
      const std::string out = agent.process->output();
      // The "serving on" line's port: listeners log theirs earlier.
      if (std::regex_search(out, match, std::regex("serving on [^\\n]*\\(port ([0-9]+)\\)"))) {
        agent.port = std::stoi(match[1]);
      }
    }
    return agent;
  }

  /// The value of the self-metric `name` with exactly `labels` (as the
  /// exposition prints them, e.g. `exporter="remote_write"`; "" for a series
  /// without labels) on the agent's /metrics, or -1 when the page or the
  /// series is missing.
  double metric(const std::string& name, const std::string& labels) const {
    const std::string page = metricsPage(port);
    // At a line start: "name " also ends the HELP and TYPE lines' prefix.
    const std::string key = "\n" + (labels.empty() ? name + " " : name + "{" + labels + "} ");
    const auto at = page.find(key);
    if (at == std::string::npos) return -1;
    return std::stod(page.substr(at + key.size()));
  }
};

}  // namespace kubemetrics::testing
