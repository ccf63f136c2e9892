#include "agent/agent_supervisor.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

#include "kubemetrics/log.h"

namespace kubemetrics {
namespace {

constexpr std::string_view kComponent = "agent";

double unixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

bool readConfigFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  out = buffer.str();
  return true;
}

AgentSupervisor::AgentSupervisor(std::string config_file, std::string origin,
                                 AgentOverrides overrides)
    : config_file_(std::move(config_file)),
      origin_(std::move(origin)),
      overrides_(std::move(overrides)) {
  history_.last_success_unix_seconds = unixNow();
}

AgentSupervisor::~AgentSupervisor() { retireAgent(); }

Result<void> AgentSupervisor::start(std::string yaml) {
  if (auto started = run(yaml); !started) return started;
  running_yaml_ = std::move(yaml);
  return {};
}

std::chrono::milliseconds AgentSupervisor::checkInterval() const {
  if (config_file_.empty() || !agent_) return std::chrono::milliseconds(0);
  return agent_->config().reload.check_interval;
}

Result<void> AgentSupervisor::run(const std::string& yaml) {
  auto created = Agent::create(yaml, origin_, overrides_);
  if (!created) return tl::unexpected(created.error());
  agent_ = std::move(*created);
  setLogLevel(agent_->config().log_level);
  agent_->showReloads(history_);
  if (auto started = agent_->start(); !started) {
    retireAgent();
    return started;
  }
  return {};
}

void AgentSupervisor::retireAgent() {
  if (!agent_) return;
  agent_->stop();
  if (agent_->sourcesLeftRunning()) {
    // Destroying it would wait for the stuck scrape; its queues are already
    // drained or spooled and its server closed, so it is left behind.
    logWarn(kComponent) << "a source of the previous configuration is still in a scrape; "
                           "leaving it behind";
    (void)agent_.release();
    return;
  }
  agent_.reset();
}

void AgentSupervisor::noteUnsuccessful(std::uint64_t& counter) {
  ++counter;
  history_.last_successful = false;
  agent_->showReloads(history_);
}

bool AgentSupervisor::reload(Trigger trigger) {
  const bool by_signal = trigger == Trigger::kSignal;
  if (config_file_.empty()) {
    if (by_signal) logInfo(kComponent) << "SIGHUP: no --config file, nothing to reload";
    return true;
  }
  std::string yaml;
  if (!readConfigFile(config_file_, yaml)) {
    if (by_signal || !unreadable_logged_) {
      logWarn(kComponent) << config_file_ << ": cannot read the file; the running configuration "
                          << "stays";
      unreadable_logged_ = true;
    }
    if (by_signal) noteUnsuccessful(history_.invalid);
    return true;
  }
  unreadable_logged_ = false;
  if (yaml == running_yaml_) {
    if (by_signal) logInfo(kComponent) << "SIGHUP: " << config_file_ << " is unchanged";
    return true;
  }
  if (!by_signal && yaml == refused_yaml_) return true;

  const char* why = by_signal ? "SIGHUP" : "the file changed";
  ConfigCheck checked = Agent::check(yaml, origin_, overrides_);
  if (!checked.ok()) {
    logError(kComponent) << "configuration reload (" << why << ") refused, the running "
                         << "configuration stays; " << config_file_ << ":";
    for (const ConfigError& e : checked.errors) logError(kComponent) << "  " << e.toString();
    refused_yaml_ = yaml;
    noteUnsuccessful(history_.invalid);
    return true;
  }

  logInfo(kComponent) << "configuration reload (" << why << "): stopping the running agent, "
                      << "then starting on the new configuration";
  retireAgent();
  if (auto started = run(yaml); !started) {
    logError(kComponent) << "the new configuration did not start: " << started.error().message()
                         << "; starting the previous one again";
    refused_yaml_ = yaml;
    if (auto restored = run(running_yaml_); !restored) {
      logError(kComponent) << "the previous configuration did not start either: "
                           << restored.error().message();
      return false;
    }
    noteUnsuccessful(history_.failed);
    return true;
  }
  ++history_.applied;
  history_.last_successful = true;
  history_.last_success_unix_seconds = unixNow();
  agent_->showReloads(history_);
  running_yaml_ = std::move(yaml);
  refused_yaml_.clear();
  logInfo(kComponent) << "configuration reloaded from " << config_file_;
  return true;
}

}  // namespace kubemetrics
