#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "kubemetrics/mutex.h"

namespace kubemetrics::detail {

/// A sharded pool of reference-counted, immutable nodes, the storage behind
/// Symbol and Labels. Lookups take one shard's mutex; copying and dropping
/// handles is a lock-free refcount change.
///
/// Nodes are freed only by sweep(), under the shard mutex, when their count
/// is zero. A count rises from zero only inside intern(), under that same
/// mutex, so a swept node can never be in use: this is what makes a lock-free
/// release safe without a free-on-last-release race.
///
/// `Traits` describes the entries:
///   using Ref = ...;         // what the pool stores and hands out for a node: a
///                            // pointer or an id; Ref{} is never a node
///   using Key = ...;         // what intern() looks a node up by
///   using ShardState = ...;  // per-shard state for the node factory and
///                            // destroy(), guarded by the shard mutex
///   static std::atomic<std::uint32_t>& refs(Ref);  // the node's reference count
///   static std::uint64_t hash(Ref);                // the hash intern() got for its key
///   static bool equals(Ref, const Key&);
///   static void destroy(Ref, ShardState&);
/// Nodes never move, so a Ref stays valid until sweep() destroys it.
///
/// Memory is the point of this layout (a pool holds one entry per series):
/// each shard is an open-addressing hash set of Refs with linear probing and
/// one control byte per slot (0 for empty, else 7 bits of the hash), so a
/// probe dereferences a node only when its byte matches. That is 9 bytes a
/// slot (5 for 32-bit ids) at a load factor between 0.53 and 0.8, where a
/// node-based map costs a separate allocation and a bucket per entry. Nodes
/// do not store their hash (a word each): the table recomputes it from the
/// node when it grows and when a sweep shifts entries back.
template <class Traits>
class InternPool {
 public:
  using Ref = typename Traits::Ref;
  using Key = typename Traits::Key;
  using ShardState = typename Traits::ShardState;

  static constexpr std::size_t kShards = 64;  // the low 6 bits of the hash pick one

  /// Returns the node for `key` with one more reference. When there is none,
  /// `make(ShardState&, shard index)` creates it (under the shard mutex).
  /// `hash` is the key's hash, the same that Traits::hash() gives for its node.
  template <class MakeNode>
  Ref intern(const Key& key, std::uint64_t hash, MakeNode&& make) {
    const std::size_t index = hash % kShards;
    Shard& shard = shards_[index];
    MutexLock lock(shard.mu);
    Table& table = shard.table;
    if (const Ref* found = table.find(key, hash)) {
      Traits::refs(*found).fetch_add(1, std::memory_order_relaxed);
      return *found;
    }
    table.reserveOneMore();
    const Ref ref = make(shard.state, index);
    Traits::refs(ref).store(1, std::memory_order_relaxed);
    table.insert(ref, hash);
    count_.fetch_add(1, std::memory_order_relaxed);
    return ref;
  }

  static void acquire(Ref ref) {
    if (ref) Traits::refs(ref).fetch_add(1, std::memory_order_relaxed);
  }
  static void release(Ref ref) {
    if (ref) Traits::refs(ref).fetch_sub(1, std::memory_order_release);
  }

  /// Frees every node no handle references; returns how many.
  std::size_t sweep() {
    std::size_t freed = 0;
    for (Shard& shard : shards_) {
      MutexLock lock(shard.mu);
      freed += shard.table.sweep(shard.state);
    }
    count_.fetch_sub(freed, std::memory_order_relaxed);
    return freed;
  }

  std::size_t size() const { return count_.load(std::memory_order_relaxed); }

 private:
  static constexpr std::uint8_t kEmpty = 0;

  // Open addressing, linear probing, no tombstones (erase shifts entries
  // back). A slot's home is the high bits of the hash scaled to the capacity,
  // its control byte bits 6..12 (independent of the shard bits).
  class Table {
   public:
    const Ref* find(const Key& key, std::uint64_t hash) const {
      if (capacity_ == 0) return nullptr;
      const std::uint8_t tag = tagOf(hash);
      for (std::size_t i = home(hash);; i = next(i)) {
        const std::uint8_t c = ctrl_[i];
        if (c == kEmpty) return nullptr;  // the load is < 1: there is always one
        if (c == tag && Traits::equals(slots_[i], key)) return &slots_[i];
      }
    }

    /// Grows, if needed, so that insert() can add one entry.
    void reserveOneMore() {
      if ((size_ + 1) * 5 > capacity_ * 4) rebuild(std::max(kMinCapacity, capacity_ * 3 / 2));
    }

    /// Adds `ref`, which must be absent; call reserveOneMore() first.
    void insert(Ref ref, std::uint64_t hash) {
      std::size_t i = home(hash);
      while (ctrl_[i] != kEmpty) i = next(i);
      ctrl_[i] = tagOf(hash);
      slots_[i] = ref;
      ++size_;
    }

    /// Removes and destroys every entry whose count is zero; returns how
    /// many. Shrinks the table when it is mostly empty.
    std::size_t sweep(ShardState& state) {
      std::size_t dropped = 0;
      for (std::size_t i = 0; i < capacity_;) {
        const Ref ref = slots_[i];
        if (ctrl_[i] != kEmpty && Traits::refs(ref).load(std::memory_order_acquire) == 0) {
          // A later entry may shift into slot i: look at it again. (One that
          // wraps around from the front is seen twice, which is harmless;
          // none from beyond i can land before it, so none is skipped.)
          erase(i);
          Traits::destroy(ref, state);
          ++dropped;
        } else {
          ++i;
        }
      }
      if (size_ == 0) {
        storage_.reset();
        slots_ = nullptr;
        ctrl_ = nullptr;
        capacity_ = 0;
      } else if (capacity_ > kMinCapacity && size_ * 5 < capacity_) {
        try {
          rebuild(std::max(kMinCapacity, size_ * 15 / 8 + 1));  // back to a load of ~0.53
        } catch (const std::bad_alloc&) {
          // Keep the larger table; the next sweep tries again.
        }
      }
      return dropped;
    }

   private:
    static constexpr std::size_t kMinCapacity = 16;

    static std::uint8_t tagOf(std::uint64_t hash) {
      return static_cast<std::uint8_t>(0x80 | ((hash >> 6) & 0x7f));
    }
    std::size_t home(std::uint64_t hash) const {
      return static_cast<std::size_t>((static_cast<unsigned __int128>(hash) * capacity_) >> 64);
    }
    std::size_t next(std::size_t i) const { return i + 1 == capacity_ ? 0 : i + 1; }

    // Backward-shift deletion: moves later entries of the probe run into the
    // hole unless that would put them before their home.
    void erase(std::size_t hole) {
      for (std::size_t j = next(hole); ctrl_[j] != kEmpty; j = next(j)) {
        const std::size_t h = home(Traits::hash(slots_[j]));
        // Entry j may fill the hole unless its home lies cyclically in (hole, j].
        const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
        if (stays) continue;
        ctrl_[hole] = ctrl_[j];
        slots_[hole] = slots_[j];
        hole = j;
      }
      ctrl_[hole] = kEmpty;
      slots_[hole] = Ref{};
      --size_;
    }

    // Moves every entry to a new array of `capacity` slots. Throws only
    // std::bad_alloc, before changing anything.
    void rebuild(std::size_t capacity) {
      // One allocation: the Refs, then the control bytes.
      static_assert(alignof(Ref) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
      static_assert(std::is_trivially_copyable_v<Ref>);
      auto fresh = std::make_unique<std::byte[]>(capacity * (sizeof(Ref) + 1));  // zeroed
      const std::unique_ptr<std::byte[]> old_storage = std::exchange(storage_, std::move(fresh));
      const Ref* old_slots = slots_;
      const std::uint8_t* old_ctrl = ctrl_;
      const std::size_t old_capacity = capacity_;
      slots_ = reinterpret_cast<Ref*>(storage_.get());
      ctrl_ = reinterpret_cast<std::uint8_t*>(storage_.get() + capacity * sizeof(Ref));
      capacity_ = capacity;
      size_ = 0;
      for (std::size_t i = 0; i < old_capacity; ++i) {
        if (old_ctrl[i] != kEmpty) insert(old_slots[i], Traits::hash(old_slots[i]));
      }
    }

    std::unique_ptr<std::byte[]> storage_;
    Ref* slots_ = nullptr;
    std::uint8_t* ctrl_ = nullptr;
    std::size_t capacity_ = 0;
    std::size_t size_ = 0;
  };

  // Aligned so that two shards' mutexes never share a cache line.
  struct alignas(64) Shard {
    Mutex mu;
    Table table KM_GUARDED_BY(mu);
    ShardState state KM_GUARDED_BY(mu);
  };
  std::array<Shard, kShards> shards_;
  std::atomic<std::size_t> count_{0};
};

}  // namespace kubemetrics::detail
