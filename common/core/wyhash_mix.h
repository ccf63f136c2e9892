#pragma once

#include <cstdint>
#include <cstring>

namespace kubemetrics {

// The building blocks of wyhash (github.com/wangyi-fudan/wyhash), shared by
// the hash functions of the series caches: each combines them its own way
// (one seeded lane, or two lanes for a 128-bit key). Pure, thread-safe.

/// wyhash's mixer: the 128-bit product of `a` and `b` folded to 64 bits.
inline std::uint64_t wyMix(std::uint64_t a, std::uint64_t b) {
  const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

/// 8 bytes at `p` as a native-endian word (any alignment).
inline std::uint64_t load64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace kubemetrics
