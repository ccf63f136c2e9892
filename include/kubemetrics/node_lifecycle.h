#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kubemetrics {

/// An announcement that the node this agent runs on goes away at `at`
/// (wall clock): a spot interruption, a scheduled stop or retirement.
/// Plain value type.
struct TerminationNotice {
  std::chrono::system_clock::time_point at;
  std::string reason;  // for logs: "spot interruption (terminate)", ...
};

/// Where a source that learns the node's fate (the EC2 source, from the
/// instance metadata) tells the parts that should act on it (the push
/// exporters flush, through the agent's wiring). Listeners are called once
/// per notice that is new or earlier than the one known, on the
/// announcing thread, with no lock held.
///
/// Thread-safe: subscribe() at start-up, before any announcement;
/// announceTermination() and termination() from any thread. Owned by the
/// agent; outlives the sources and the pipeline.
class NodeLifecycle {
 public:
  using Listener = std::function<void(const TerminationNotice&)>;

  void subscribe(Listener listener) {
    std::lock_guard<std::mutex> lock(mu_);
    listeners_.push_back(std::move(listener));
  }

  /// Records `notice` and tells every listener, unless a notice for the
  /// same time or earlier is known already (a poll repeats the same one).
  void announceTermination(const TerminationNotice& notice) {
    std::vector<Listener> listeners;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (termination_ && termination_->at <= notice.at) return;
      termination_ = notice;
      listeners = listeners_;
    }
    for (const Listener& listener : listeners) listener(notice);
  }

  /// The earliest notice so far, if any.
  std::optional<TerminationNotice> termination() const {
    std::lock_guard<std::mutex> lock(mu_);
    return termination_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Listener> listeners_;
  std::optional<TerminationNotice> termination_;
};

}  // namespace kubemetrics
