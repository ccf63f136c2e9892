#include "common/scrape/shard.h"

#include <charconv>

namespace kubemetrics::scrape {

int shardOf(std::string_view key, int total_shards) {
  if (total_shards <= 1) return 0;
  std::uint64_t hash = 14695981039346656037ULL;  // FNV-1a offset basis
  for (const char c : key) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;  // FNV prime
  }
  return static_cast<int>(hash % static_cast<std::uint64_t>(total_shards));
}

std::optional<int> parseShardOrdinal(std::string_view text) {
  // A StatefulSet names its pods <set>-<ordinal>.
  if (const std::size_t dash = text.rfind('-'); dash != std::string_view::npos) {
    text.remove_prefix(dash + 1);
  }
  int ordinal = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ordinal);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || ordinal < 0) {
    return std::nullopt;
  }
  return ordinal;
}

}  // namespace kubemetrics::scrape
