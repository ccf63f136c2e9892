#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kubemetrics/labels.h"
#include "kubemetrics/symbol.h"

namespace kubemetrics::scrapers::listeners {

/// The interned name and labels of a series, by the exact wire bytes of its
/// labels: a remote-write sender sends the same series again every few
/// seconds, and a lookup (hash plus memcmp of ~150 bytes) costs a fraction
/// of parsing, validating and interning the labels again.
///
/// Keys are compared byte for byte (never by hash alone), so no input can
/// make one series take another's labels. The hash is seeded per cache and
/// probes are bounded (kMaxProbes): a flood of colliding keys only makes
/// them miss, never makes a lookup slow. Bounded in entries and key bytes;
/// when either bound is reached the cache is emptied and refills (the
/// senders' series come back within one send interval). Entries hold their
/// Symbol and Labels handles, keeping them interned while cached.
///
/// Not thread-safe: owned by one RemoteWriteDecoder.
class SeriesLabelCache {
 public:
  /// `max_entries` 0 disables the cache. `max_key_bytes` bounds the stored
  /// keys in total. The hash seed is random unless given (shards of one
  /// SharedSeriesLabelCache share the seed that picked their shard).
  SeriesLabelCache(std::size_t max_entries, std::size_t max_key_bytes);
  SeriesLabelCache(std::size_t max_entries, std::size_t max_key_bytes, std::uint64_t seed);

  struct Entry {
    Symbol name;
    Labels labels;
  };

  /// The entry stored for exactly `key`, or null.
  const Entry* find(std::string_view key) const { return find(key, hashOf(key)); }
  /// Stores `key` -> (name, labels), unless the cache is disabled or the
  /// key's probe window is full of other keys. May empty the cache first.
  void insert(std::string_view key, const Symbol& name, const Labels& labels) {
    insert(key, hashOf(key), name, labels);
  }
  /// The same, with `hash` = hashOf(key) computed once by the caller.
  const Entry* find(std::string_view key, std::uint64_t hash) const;
  void insert(std::string_view key, std::uint64_t hash, const Symbol& name, const Labels& labels);
  /// The seeded hash of `key`.
  std::uint64_t hashOf(std::string_view key) const;
  void clear();

  std::size_t size() const { return size_; }
  bool enabled() const { return max_entries_ != 0; }

  /// The slot table's address and index mask (null and 0 before the first
  /// insert): with them a caller that cannot take the owner's lock can
  /// still prefetch the slot a hash starts at (SharedSeriesLabelCache).
  /// They change only in insert() and clear().
  const void* slotsData() const { return slots_.data(); }
  std::size_t slotMask() const { return slots_.empty() ? 0 : slots_.size() - 1; }
  static constexpr std::size_t kSlotBytes = 32;

 private:
  static constexpr std::size_t kMaxProbes = 8;
  static constexpr std::size_t kInitialSlots = 256;
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t key_offset = 0;  // into keys_
    std::uint32_t key_size = 0;    // 0: free (keys are never empty)
    Entry entry;
  };
  static_assert(sizeof(Slot) == kSlotBytes);

  // Stores the entry in the first free slot of its window; false when none.
  bool place(std::uint64_t hash, std::uint32_t key_offset, std::size_t key_size, Entry&& entry);
  // Doubles the table (keeping the key bytes where they are).
  void grow();

  std::size_t max_entries_;
  std::size_t max_key_bytes_;
  std::uint64_t seed_;
  // A power of two, at most half full, grown with use; allocated on the
  // first insert, kept at its size by clear().
  std::vector<Slot> slots_;
  std::string keys_;  // every stored key, back to back
  std::size_t size_ = 0;
};

}  // namespace kubemetrics::scrapers::listeners
