#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "kubemetrics/labels.h"

namespace kubemetrics::exporters::prometheus {

/// Counts the series each scrape target holds on the /metrics page and
/// refuses new series of a target that holds `max_per_target` already, so
/// one target whose label values churn (a request id in a label, a pod name
/// per job run) cannot fill the agent's memory within expire_after while
/// the others keep their series. A target is a source instance and the
/// `instance` label of its samples: one kubernetes_pods source scrapes many
/// pods, and one listener receives from many senders, each its own target.
///
/// Series already held are never refused, so a limited target keeps the
/// series it had and takes new ones as old ones expire or end. 0: no limit.
///
/// Not thread-safe: the exporter calls it under its series mutex.
class TargetSeriesLimit {
 public:
  /// One target's count. Stable address while it holds series.
  struct Target {
    std::size_t series = 0;
    bool limited = false;              // refused a series since it was last under the limit
    const std::string* key = nullptr;  // its key in the map, to erase it when empty
  };

  explicit TargetSeriesLimit(std::size_t max_per_target) : max_per_target_(max_per_target) {}

  /// The target a new series of `source` with `labels` belongs to, its
  /// count raised by one; nullptr when it is at the limit. `first_refusal`
  /// is set when this is the first refusal since the target was last under
  /// the limit (log it once, not per sample).
  Target* admit(std::string_view source, const Labels& labels, bool* first_refusal);
  /// A series of `target` left the page.
  void release(Target* target);

  std::size_t maxPerTarget() const { return max_per_target_; }

 private:
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const noexcept {
      return std::hash<std::string_view>()(key);
    }
  };
  const std::size_t max_per_target_;
  std::string key_;  // reused to build lookup keys without allocating
  std::unordered_map<std::string, Target, KeyHash, std::equal_to<>> targets_;
};

}  // namespace kubemetrics::exporters::prometheus
