#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "kubemetrics/labels.h"

namespace kubemetrics {

/// The Tagger's memo: an input label set -> the same set with the agent's
/// tags added. Open addressing with linear probing on the input's interned
/// address, at most half full, so a lookup is one slot read (plus a
/// neighbour or two) where std::unordered_map read a bucket and then a node
/// elsewhere in memory: with a proxy's 100,000 series per send interval
/// both are cache misses, per sample.
///
/// Bounded: an insert that would pass `max_entries` empties the table
/// first (the series come back within one interval). Holding an entry
/// holds both handles, so an input's address keeps its meaning while
/// cached. The empty label set (null address) has a slot of its own.
///
/// Not thread-safe: owned by one Tagger.
class TaggedLabelsCache {
 public:
  explicit TaggedLabelsCache(std::size_t max_entries) : max_entries_(max_entries) {}

  /// The tagged set stored for `input`, or null.
  const Labels* find(const Labels& input) const {
    if (input.id() == nullptr) return has_empty_ ? &empty_tagged_ : nullptr;
    if (size_ == 0) return nullptr;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t at = slotOf(input.id(), mask);; at = (at + 1) & mask) {
      const Slot& slot = slots_[at];
      if (slot.input == input) return &slot.tagged;
      if (slot.input.id() == nullptr) return nullptr;
    }
  }

  /// Stores input -> tagged (input not stored yet, not empty).
  void insert(const Labels& input, const Labels& tagged) {
    if (max_entries_ == 0) return;
    if (input.id() == nullptr) {
      empty_tagged_ = tagged;
      has_empty_ = true;
      return;
    }
    if (size_ >= max_entries_) clear();
    if (2 * (size_ + 1) > slots_.size()) grow();
    const std::size_t mask = slots_.size() - 1;
    std::size_t at = slotOf(input.id(), mask);
    while (slots_[at].input.id() != nullptr) at = (at + 1) & mask;
    slots_[at] = Slot{input, tagged};
    ++size_;
  }

  /// Asks the CPU to load `input`'s slot: the Tagger calls it a few
  /// samples ahead, so the miss overlaps other samples' work.
  void prefetch(const Labels& input) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[slotOf(input.id(), slots_.size() - 1)]);
  }

  /// Empties the table, keeping its slots.
  void clear() {
    has_empty_ = false;
    empty_tagged_ = Labels();
    if (size_ == 0) return;
    for (Slot& slot : slots_) slot = Slot{};
    size_ = 0;
  }

  std::size_t size() const { return size_ + (has_empty_ ? 1 : 0); }

 private:
  struct Slot {
    Labels input;
    Labels tagged;
  };

  static std::size_t slotOf(const void* id, std::size_t mask) {
    // Fibonacci hashing: interned addresses are aligned, their low bits
    // alone would leave most slots unused.
    return static_cast<std::size_t>(
               (reinterpret_cast<std::uintptr_t>(id) * 0x9E3779B97F4A7C15ULL) >> 20) &
           mask;
  }

  void grow() {
    std::vector<Slot> old(slots_.empty() ? 256 : slots_.size() * 2);
    old.swap(slots_);
    const std::size_t mask = slots_.size() - 1;
    for (Slot& slot : old) {
      if (slot.input.id() == nullptr) continue;
      std::size_t at = slotOf(slot.input.id(), mask);
      while (slots_[at].input.id() != nullptr) at = (at + 1) & mask;
      slots_[at] = std::move(slot);
    }
  }

  std::size_t max_entries_;
  std::vector<Slot> slots_;  // a power of two, or empty before the first insert
  std::size_t size_ = 0;     // in slots_
  bool has_empty_ = false;
  Labels empty_tagged_;  // the empty set's entry, when has_empty_
};

}  // namespace kubemetrics
