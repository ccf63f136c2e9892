#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace kubemetrics {

/// Tags discovered while the agent runs (the EC2 identity: instance_id,
/// region, ...), which the pipeline adds to every sample like its static
/// tags. A source that discovers them calls set(); pipeline workers read
/// version() per batch (one atomic load) and take a new snapshot only when
/// it changed.
///
/// Thread-safe. Owned by the agent; outlives the pipeline and the sources.
class RuntimeTags {
 public:
  using Tags = std::vector<std::pair<std::string, std::string>>;

  /// Replaces the whole set (an empty set removes them all).
  void set(Tags tags) {
    auto snapshot = std::make_shared<const Tags>(std::move(tags));
    {
      std::lock_guard<std::mutex> lock(mu_);
      tags_ = std::move(snapshot);
    }
    version_.fetch_add(1, std::memory_order_release);
  }

  /// Changes whenever set() is called; starts at 0 (no tags).
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

  std::shared_ptr<const Tags> tags() const {
    std::lock_guard<std::mutex> lock(mu_);
    return tags_;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Tags> tags_ = std::make_shared<const Tags>();
  std::atomic<std::uint64_t> version_{0};
};

}  // namespace kubemetrics
