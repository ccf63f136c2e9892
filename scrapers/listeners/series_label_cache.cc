#include "series_label_cache.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <random>

#include "common/core/wyhash_mix.h"

namespace kubemetrics::scrapers::listeners {
namespace {

// Keys (offsets and sizes) are 32-bit.
constexpr std::size_t kMaxKeyArena = std::size_t{1} << 31;

}  // namespace

SeriesLabelCache::SeriesLabelCache(std::size_t max_entries, std::size_t max_key_bytes)
    : SeriesLabelCache(max_entries, max_key_bytes,
                       (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()) {}

SeriesLabelCache::SeriesLabelCache(std::size_t max_entries, std::size_t max_key_bytes,
                                   std::uint64_t seed)
    : max_entries_(max_entries),
      max_key_bytes_(std::min(max_key_bytes, kMaxKeyArena)),
      seed_(seed) {}

std::uint64_t SeriesLabelCache::hashOf(std::string_view key) const {
  // wyhash-style, 16 bytes a step. Its weaknesses only cost collisions,
  // which the byte compare and the probe bound make harmless.
  constexpr std::uint64_t k0 = 0xa0761d6478bd642fULL, k1 = 0xe7037ed1a0b428dbULL;
  const char* p = key.data();
  std::size_t n = key.size();
  std::uint64_t h = wyMix(seed_ ^ k0 ^ n, k1);
  for (; n > 16; n -= 16, p += 16) h = wyMix(load64(p) ^ k1, load64(p + 8) ^ h);
  // The last 1 to 16 bytes, as two overlapping words (keys are >= 2 bytes:
  // one label field has a tag and a length).
  std::uint64_t a = 0, b = 0;
  if (n >= 8) {
    a = load64(p);
    b = load64(p + n - 8);
  } else if (n >= 4) {
    std::uint32_t x, y;
    std::memcpy(&x, p, 4);
    std::memcpy(&y, p + n - 4, 4);
    a = x;
    b = y;
  } else if (n > 0) {
    a = (std::uint64_t{static_cast<unsigned char>(p[0])} << 16) |
        (std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8) |
        static_cast<unsigned char>(p[n - 1]);
  }
  h = wyMix(a ^ k1, b ^ h);
  return wyMix(h ^ k0, k1);
}

const SeriesLabelCache::Entry* SeriesLabelCache::find(std::string_view key, std::uint64_t h) const {
  if (size_ == 0) return nullptr;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = 0, at = h & mask; i < kMaxProbes; ++i, at = (at + 1) & mask) {
    const Slot& slot = slots_[at];
    if (slot.key_size == 0) return nullptr;
    if (slot.hash == h && slot.key_size == key.size() &&
        std::memcmp(keys_.data() + slot.key_offset, key.data(), key.size()) == 0) {
      return &slot.entry;
    }
  }
  return nullptr;
}

void SeriesLabelCache::insert(std::string_view key, std::uint64_t hash, const Symbol& name,
                              const Labels& labels) {
  if (max_entries_ == 0 || key.empty() || key.size() > max_key_bytes_) return;
  if (size_ >= max_entries_ || keys_.size() + key.size() > max_key_bytes_) clear();
  // At most half full: short probe runs. Sized by use, not by the bound, so
  // a few thousand series stay in the CPU's caches (a slot is 32 bytes).
  if (slots_.empty()) {
    slots_.resize(kInitialSlots);
  } else if (2 * (size_ + 1) > slots_.size()) {
    grow();
  }
  if (place(hash, static_cast<std::uint32_t>(keys_.size()), key.size(), Entry{name, labels})) {
    keys_.append(key);
  }
}

bool SeriesLabelCache::place(std::uint64_t hash, std::uint32_t key_offset, std::size_t key_size,
                             Entry&& entry) {
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = 0, at = hash & mask; i < kMaxProbes; ++i, at = (at + 1) & mask) {
    Slot& slot = slots_[at];
    if (slot.key_size != 0) continue;
    slot.hash = hash;
    slot.key_offset = key_offset;
    slot.key_size = static_cast<std::uint32_t>(key_size);
    slot.entry = std::move(entry);
    ++size_;
    return true;
  }
  // The window is full of other keys (collisions): this one stays uncached.
  return false;
}

void SeriesLabelCache::grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  size_ = 0;
  // Keys stay where they are in keys_; an entry whose new window is full
  // is dropped (its key bytes stay until the next clear()).
  for (Slot& slot : old) {
    if (slot.key_size != 0) place(slot.hash, slot.key_offset, slot.key_size, std::move(slot.entry));
  }
}

void SeriesLabelCache::clear() {
  if (size_ == 0) return;
  for (Slot& slot : slots_) slot = Slot{};
  keys_.clear();
  size_ = 0;
}

}  // namespace kubemetrics::scrapers::listeners
