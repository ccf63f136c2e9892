#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "kubemetrics/listener.h"

namespace kubemetrics::testing {

/// A SampleSink for listener tests: takes batches (keeping their samples in
/// arrival order) or refuses them, as the test says. Thread-safe.
class RecordingSink : public SampleSink {
 public:
  bool offer(SampleBatchPtr& batch) override {
    ++offers_;
    if (refuse_.load()) return false;
    std::lock_guard<std::mutex> lock(mu_);
    tags_versions_.push_back(batch->tags_version);
    for (Sample& sample : batch->samples) samples_.push_back(std::move(sample));
    batch.reset();
    return true;
  }
  void refuse(bool refuse) { refuse_ = refuse; }
  int offers() const { return offers_.load(); }
  std::vector<Sample> samples() {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_;
  }
  /// The tags_version of each batch taken, in arrival order.
  std::vector<std::uint64_t> tagsVersions() {
    std::lock_guard<std::mutex> lock(mu_);
    return tags_versions_;
  }
  bool waitForSamples(std::size_t count,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (samples().size() >= count) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return samples().size() >= count;
  }

 private:
  std::atomic<bool> refuse_{false};
  std::atomic<int> offers_{0};
  std::mutex mu_;
  std::vector<Sample> samples_;
  std::vector<std::uint64_t> tags_versions_;
};

}  // namespace kubemetrics::testing
