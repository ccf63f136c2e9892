#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kubemetrics::push {

/// A map from an address (an interned Symbol's or Labels' id) to a small
/// number, for the batch journal's dictionary: open addressing with linear
/// probing, at most half full, so a lookup is one or two slot reads and an
/// insert allocates nothing until the table doubles. std::unordered_map
/// allocated a node per label set, once per series per batch.
///
/// clear() empties it and keeps its slots, so a table sized by one batch
/// serves the next without allocating; it costs one pass over the slots.
/// Keys are addresses chosen by the allocator, not by any input, so the
/// probe runs stay short without a seeded hash.
///
/// Not thread-safe.
class PointerIndex {
 public:
  /// The value stored for `key` (never null), or stores `value` for it:
  /// (value, true) when it was added.
  std::pair<std::uint32_t, bool> findOrAdd(const void* key, std::uint32_t value) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t at = slotOf(key, mask);; at = (at + 1) & mask) {
      Slot& slot = slots_[at];
      if (slot.key == key) return {slot.value, false};
      if (slot.key == nullptr) {
        slot = Slot{key, value};
        ++size_;
        return {value, true};
      }
    }
  }

  void clear() {
    if (size_ == 0) return;
    for (Slot& slot : slots_) slot = Slot{};
    size_ = 0;
  }

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return slots_.size(); }

 private:
  struct Slot {
    const void* key = nullptr;
    std::uint32_t value = 0;
  };

  static std::size_t slotOf(const void* key, std::size_t mask) {
    // Fibonacci hashing; ids are 8- or 16-byte aligned, so the low bits
    // alone would leave most slots unused.
    return static_cast<std::size_t>(
               (reinterpret_cast<std::uintptr_t>(key) * 0x9E3779B97F4A7C15ULL) >> 20) &
           mask;
  }

  void grow() {
    std::vector<Slot> old(slots_.empty() ? 256 : slots_.size() * 2);
    old.swap(slots_);
    const std::size_t mask = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.key == nullptr) continue;
      std::size_t at = slotOf(slot.key, mask);
      while (slots_[at].key != nullptr) at = (at + 1) & mask;
      slots_[at] = slot;
    }
  }

  std::vector<Slot> slots_;  // a power of two, or empty before the first add
  std::size_t size_ = 0;
};

}  // namespace kubemetrics::push
