#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace kubemetrics {

/// What the agent detected and how its parts are doing, for the /status
/// page: each component registers a named section that renders a few lines
/// of text (the EC2 identity found, a target's last error). Sections render
/// on each request, so they show live state.
///
/// Thread-safe: add() at start-up, render() from HTTP threads; providers
/// must be thread-safe themselves.
class StatusBoard {
 public:
  using Provider = std::function<std::string()>;

  void add(std::string section, Provider provider) {
    std::lock_guard<std::mutex> lock(mu_);
    sections_[std::move(section)] = std::move(provider);
  }

  /// "== section ==\n<lines>\n" for each section, in name order.
  std::string render() const {
    std::map<std::string, Provider> copy;
    {
      std::lock_guard<std::mutex> lock(mu_);
      copy = sections_;
    }
    std::string out;
    for (const auto& [name, provider] : copy) {
      out += "== " + name + " ==\n" + provider();
      if (!out.empty() && out.back() != '\n') out += '\n';
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Provider> sections_;
};

}  // namespace kubemetrics
