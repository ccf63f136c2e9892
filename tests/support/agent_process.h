#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "support/process.h"

namespace kubemetrics::testing {

/// The built kubemetrics-agent binary running as a child process, listening
/// on an ephemeral loopback port that it reports in its start-up log line.
struct AgentProcess {
  std::unique_ptr<Process> process;
  int port = -1;

  /// Starts the agent with `args` (plus --listen 127.0.0.1:0) and waits for
  /// it to serve; port stays -1 when it did not start within 20 s.
  static AgentProcess start(std::vector<std::string> args, std::vector<std::string> env = {}) {
    AgentProcess agent;
    std::vector<std::string> argv = {KM_AGENT_BINARY, "--listen", "127.0.0.1:0"};
    argv.insert(argv.end(), args.begin(), args.end());
    agent.process = std::make_unique<Process>(argv, env);
    if (agent.process->waitForOutput("serving on", std::chrono::seconds(20))) {
      std::smatch match;
      const std::string out = agent.process->output();
      if (std::regex_search(out, match, std::regex("\\(port ([0-9]+)\\)"))) {
        agent.port = std::stoi(match[1]);
      }
    }
    return agent;
  }
};

}  // namespace kubemetrics::testing
