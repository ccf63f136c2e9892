#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kubemetrics::scrape {

/// The shard of a discovered target among `total_shards` replicas of the
/// cluster role: FNV-1a (64 bit) of `key` (the target's URL) modulo
/// total_shards. Deterministic across processes, builds and machines (not
/// std::hash), so every replica computes the same split without talking to
/// the others. total_shards <= 1: shard 0. Pure function.
int shardOf(std::string_view key, int total_shards);

/// The ordinal of a StatefulSet pod name ("kubemetrics-cluster-2" -> 2), or
/// a plain non-negative number ("2" -> 2); nullopt when `text` is neither.
std::optional<int> parseShardOrdinal(std::string_view text);

}  // namespace kubemetrics::scrape
