#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "kubemetrics/labels.h"
#include "kubemetrics/mutex.h"
#include "kubemetrics/symbol.h"
#include "series_label_cache.h"

namespace kubemetrics::scrapers::listeners {

/// One series cache (SeriesLabelCache) for every decoder of a listener.
/// Requests borrow whichever decoder is idle, so with a cache per decoder
/// each one learns every series of every sender: n decoders hold n copies,
/// and once the senders' series outnumber one decoder's bound its cache is
/// emptied every few requests and nearly nothing hits (bench/RESULTS.md,
/// proxy role, finding 1). Shared, one bound covers the listener.
///
/// The key space is split into `shards` (a power of two) by the top bits of
/// the key's hash, each a SeriesLabelCache of max_entries / shards entries
/// and max_key_bytes / shards key bytes under its own mutex, so concurrent
/// decoders rarely wait for each other. A shard that reaches its bound is
/// emptied alone (its series are parsed again on their next request); the
/// hash is seeded per cache, so no sender can aim its series at one shard
/// to empty it faster than its own series count allows.
///
/// Entries belong to a version: the AgentTags version whose tags their
/// labels carry (0: none). A lookup finds only an entry of its own version;
/// a shard handed an insert of a newer version empties first (its entries
/// carry old tags), and drops an insert of an older one (a request decoded
/// while the tags changed). Versions only grow, so no shard flips back and
/// forth.
///
/// Thread-safe.
class SharedSeriesLabelCache {
 public:
  /// `max_entries` 0 disables the cache; `shards` is rounded up to a power
  /// of two and lowered so each shard holds at least 1,024 entries.
  SharedSeriesLabelCache(std::size_t max_entries, std::size_t max_key_bytes,
                         std::size_t shards = 16);

  /// True and (name, labels) set to the version-0 entry stored for exactly
  /// `key` (copies of the handles, taken under the shard's lock).
  bool find(std::string_view key, Symbol& name, Labels& labels) const {
    return enabled_ && visit(key, hashOf(key), 0, [&](const Symbol& n, const Labels& l) {
             name = n;
             labels = l;
           });
  }
  /// Calls use(name, labels) with the entry of `version` stored for exactly
  /// `key`, `hash` = hashOf(key), under the shard's lock (the references die
  /// with it: copy what is kept), and returns true; false when there is
  /// none. Spares the copies find() makes when `use` copies the handles
  /// anyway.
  template <typename Use>
  bool visit(std::string_view key, std::uint64_t hash, std::uint64_t version, Use&& use) const {
    if (!enabled_) return false;
    Shard& shard = shardOf(hash);
    MutexLock lock(shard.mu);
    if (shard.version != version) return false;
    const SeriesLabelCache::Entry* entry = shard.cache.find(key, hash);
    if (entry == nullptr) return false;
    use(entry->name, entry->labels);
    return true;
  }
  /// As SeriesLabelCache::insert, in the key's shard, as version 0.
  void insert(std::string_view key, const Symbol& name, const Labels& labels) {
    if (enabled_) insert(key, hashOf(key), 0, name, labels);
  }
  /// The same, with `hash` = hashOf(key), as `version`.
  void insert(std::string_view key, std::uint64_t hash, std::uint64_t version, const Symbol& name,
              const Labels& labels);

  /// The seeded hash visit() and insert() take.
  std::uint64_t hashOf(std::string_view key) const { return hasher_.hashOf(key); }
  /// Asks the CPU to start loading the slot where a lookup of `hash` will
  /// begin, without the shard's lock: a decoder calls it a few series
  /// ahead, so the cache miss on the slot (the cost of a lookup once the
  /// series outnumber the CPU's caches) overlaps other work. The table's
  /// address is read from a copy kept in relaxed atomics; when a
  /// concurrent insert has just moved it, the hint is for a stale address,
  /// which a prefetch may name (it never faults): only the speed-up is lost.
  void prefetch(std::uint64_t hash) const {
    if (!enabled_) return;
    const Shard& shard = shardOf(hash);
    // As an integer: the address may be of a table freed since.
    const auto slots =
        reinterpret_cast<std::uintptr_t>(shard.slots.load(std::memory_order_relaxed));
    const std::size_t mask = shard.mask.load(std::memory_order_relaxed);
    if (slots != 0) {
      __builtin_prefetch(
          reinterpret_cast<const void*>(slots + (hash & mask) * SeriesLabelCache::kSlotBytes));
    }
  }

  bool enabled() const { return enabled_; }
  std::size_t shards() const { return shards_.size(); }
  /// Entries over every shard (each read under its lock; for tests and
  /// metrics, not a consistent snapshot while decoders run).
  std::size_t size() const;

 private:
  struct Shard {
    Shard(std::size_t max_entries, std::size_t max_key_bytes, std::uint64_t seed)
        : cache(max_entries, max_key_bytes, seed) {}
    mutable Mutex mu;
    SeriesLabelCache cache KM_GUARDED_BY(mu);
    std::uint64_t version KM_GUARDED_BY(mu) = 0;  // of every entry of `cache`
    // cache.slotsData() and slotMask(), stored under mu after each insert,
    // read by prefetch() without it.
    std::atomic<const void*> slots{nullptr};
    std::atomic<std::size_t> mask{0};
  };
  Shard& shardOf(std::uint64_t hash) const {
    return shards_.size() == 1 ? *shards_.front() : *shards_[hash >> shift_];
  }

  bool enabled_;
  // Never holds entries: it only hashes, with the seed every shard uses.
  SeriesLabelCache hasher_;
  unsigned shift_;  // 64 - log2(shard count)
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace kubemetrics::scrapers::listeners
