#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <unordered_map>

#include "kubemetrics/mutex.h"

namespace kubemetrics::detail {

/// A sharded pool of reference-counted, immutable nodes, the storage behind
/// Symbol and Labels. `Node` has `std::atomic<uint32_t> refs`, `size_t hash`
/// and a `key()` returning a `Key` view into itself (stable: nodes are never
/// moved). Lookups take one shard's mutex; copying and dropping handles is a
/// lock-free refcount change.
///
/// Nodes are freed only by sweep(), under the shard mutex, when their count
/// is zero. A count rises from zero only inside intern(), under that same
/// mutex, so a swept node can never be in use: this is what makes a lock-free
/// release safe without a free-on-last-release race.
template <class Node, class Key, class KeyHash>
class InternPool {
 public:
  template <class MakeNode>
  Node* intern(const Key& key, std::size_t hash, MakeNode&& make) {
    Shard& shard = shards_[hash % kShards];
    MutexLock lock(shard.mu);
    auto it = shard.nodes.find(key);
    if (it != shard.nodes.end()) {
      it->second->refs.fetch_add(1, std::memory_order_relaxed);
      return it->second;
    }
    Node* node = make();
    node->hash = hash;
    node->refs.store(1, std::memory_order_relaxed);
    shard.nodes.emplace(node->key(), node);
    count_.fetch_add(1, std::memory_order_relaxed);
    return node;
  }

  static void acquire(Node* node) {
    if (node) node->refs.fetch_add(1, std::memory_order_relaxed);
  }
  static void release(Node* node) {
    if (node) node->refs.fetch_sub(1, std::memory_order_release);
  }

  /// Frees every node no handle references; returns how many.
  std::size_t sweep() {
    std::size_t freed = 0;
    for (Shard& shard : shards_) {
      MutexLock lock(shard.mu);
      for (auto it = shard.nodes.begin(); it != shard.nodes.end();) {
        Node* node = it->second;
        if (node->refs.load(std::memory_order_acquire) == 0) {
          it = shard.nodes.erase(it);
          delete node;
          ++freed;
        } else {
          ++it;
        }
      }
    }
    count_.fetch_sub(freed, std::memory_order_relaxed);
    return freed;
  }

  std::size_t size() const { return count_.load(std::memory_order_relaxed); }

 private:
  static constexpr std::size_t kShards = 64;
  struct Shard {
    Mutex mu;
    std::unordered_map<Key, Node*, KeyHash> nodes KM_GUARDED_BY(mu);
  };
  std::array<Shard, kShards> shards_;
  std::atomic<std::size_t> count_{0};
};

}  // namespace kubemetrics::detail
