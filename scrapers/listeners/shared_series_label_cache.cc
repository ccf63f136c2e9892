#include "shared_series_label_cache.h"

#include <algorithm>
#include <bit>
#include <random>

namespace kubemetrics::scrapers::listeners {
namespace {

// Below this many entries a shard's bound is reached by chance (a skewed
// split of the keys) long before the cache is full: fewer shards instead.
constexpr std::size_t kMinShardEntries = 1024;

std::uint64_t randomSeed() {
  std::random_device random;
  return (std::uint64_t{random()} << 32) ^ random();
}

std::size_t shardCount(std::size_t max_entries, std::size_t wanted) {
  std::size_t shards = std::bit_ceil(std::max<std::size_t>(wanted, 1));
  while (shards > 1 && max_entries / shards < kMinShardEntries) shards /= 2;
  return shards;
}

}  // namespace

SharedSeriesLabelCache::SharedSeriesLabelCache(std::size_t max_entries, std::size_t max_key_bytes,
                                               std::size_t shards)
    : enabled_(max_entries != 0), hasher_(0, 0, randomSeed()) {
  const std::size_t count = shardCount(max_entries, shards);
  // 64 - log2(count); with one shard a shift by 64 would be undefined.
  shift_ = count == 1 ? 63 : static_cast<unsigned>(64 - std::countr_zero(count));
  // The shards are handed hasher_'s hash of each key; their own seed is unused.
  for (std::size_t i = 0; i < count; ++i) {
    shards_.push_back(std::make_unique<Shard>(max_entries / count, max_key_bytes / count, 0));
  }
}

void SharedSeriesLabelCache::insert(std::string_view key, std::uint64_t hash, std::uint64_t version,
                                    const Symbol& name, const Labels& labels) {
  if (!enabled_) return;
  Shard& shard = shardOf(hash);
  MutexLock lock(shard.mu);
  if (version < shard.version) return;
  if (version > shard.version) {
    shard.cache.clear();
    shard.version = version;
  }
  shard.cache.insert(key, hash, name, labels);
  shard.slots.store(shard.cache.slotsData(), std::memory_order_relaxed);
  shard.mask.store(shard.cache.slotMask(), std::memory_order_relaxed);
}

std::size_t SharedSeriesLabelCache::size() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) {
    MutexLock lock(shard->mu);
    total += shard->cache.size();
  }
  return total;
}

}  // namespace kubemetrics::scrapers::listeners
