#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "kubemetrics/mutex.h"

namespace kubemetrics {

/// Spare request-body strings, handed from one request to the next so a
/// large body (a remote-write request of 10,000 samples is 0.2-1.5 MB) is
/// read into memory that is already mapped: a fresh allocation of 1 MiB or
/// more is its own mapping, so each such body cost a page fault per 4 KiB
/// and an munmap, about 12% of the agent's CPU as a remote-write proxy
/// (bench/RESULTS.md, proxy role).
///
/// Bounded: at most `max_buffers` strings, each kept only when its capacity
/// is between kMinKeptBytes (smaller ones cost nothing to allocate) and
/// `max_bytes`; so at most max_buffers x max_bytes stays allocated while
/// idle.
///
/// Thread-safe.
class BodyBufferPool {
 public:
  static constexpr std::size_t kMinKeptBytes = 64 * 1024;

  BodyBufferPool(std::size_t max_buffers, std::size_t max_bytes)
      : max_buffers_(max_buffers), max_bytes_(max_bytes) {}

  /// An empty string, with the capacity of a body read before when one is
  /// spare.
  std::string take() {
    MutexLock lock(mu_);
    if (spare_.empty()) return {};
    std::string buffer = std::move(spare_.back());
    spare_.pop_back();
    return buffer;
  }

  /// Keeps `buffer`'s memory for a later take(), or frees it (see bounds).
  void give(std::string&& buffer) {
    if (buffer.capacity() < kMinKeptBytes || buffer.capacity() > max_bytes_) return;
    buffer.clear();
    MutexLock lock(mu_);
    if (spare_.size() < max_buffers_) spare_.push_back(std::move(buffer));
  }

  std::size_t spare() {
    MutexLock lock(mu_);
    return spare_.size();
  }

 private:
  const std::size_t max_buffers_;
  const std::size_t max_bytes_;
  Mutex mu_;
  std::vector<std::string> spare_ KM_GUARDED_BY(mu_);
};

}  // namespace kubemetrics
