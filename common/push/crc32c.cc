#include "common/push/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace kubemetrics::push {
namespace {

constexpr std::uint32_t kPoly = 0x82F63B78u;  // 0x1EDC6F41 reflected

struct Tables {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  constexpr Tables() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
      t[0][i] = c;
    }
    for (std::size_t i = 0; i < 256; ++i) {
      for (std::size_t k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
    }
  }
};

constexpr Tables kTables;

#if defined(__x86_64__)
// One crc32 instruction waits for the previous one (3 cycles each), so a
// long input goes in blocks of three strides computed side by side, then
// joined: a CRC register is linear, so the register after A, B, C from `s`
// is shift(2 strides, after A from s) ^ shift(1 stride, after B from 0) ^
// (after C from 0), where shift(n, r) is r run over n zero bytes, itself
// linear in r and so a table lookup per byte of r.
constexpr std::size_t kStride = 2048;

struct ZeroShift {
  std::array<std::array<std::uint32_t, 256>, 4> t{};
  explicit ZeroShift(std::size_t zeros) {
    std::array<std::uint32_t, 32> bit{};  // shift(zeros, 1 << i)
    for (int i = 0; i < 32; ++i) {
      std::uint32_t r = 1u << i;
      for (std::size_t k = 0; k < zeros; ++k) r = kTables.t[0][r & 0xFF] ^ (r >> 8);
      bit[static_cast<std::size_t>(i)] = r;
    }
    for (std::size_t byte = 0; byte < 4; ++byte) {
      for (std::uint32_t v = 0; v < 256; ++v) {
        std::uint32_t r = 0;
        for (std::size_t b = 0; b < 8; ++b) {
          if (v & (1u << b)) r ^= bit[8 * byte + b];
        }
        t[byte][v] = r;
      }
    }
  }
  std::uint32_t operator()(std::uint32_t r) const {
    return t[0][r & 0xFF] ^ t[1][(r >> 8) & 0xFF] ^ t[2][(r >> 16) & 0xFF] ^ t[3][r >> 24];
  }
};

// SSE 4.2's crc32 instruction computes exactly this polynomial, about ten
// times faster than the tables; compiled for it alone and used only when
// the CPU has it (every x86-64 since 2008; the build targets baseline x86-64).
__attribute__((target("sse4.2"))) std::uint32_t crc32cSse42(std::string_view data,
                                                            std::uint32_t crc) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t n = data.size();
  std::uint64_t c = ~crc;
  if (n >= 3 * kStride) {
    static const ZeroShift by_one(kStride), by_two(2 * kStride);
    while (n >= 3 * kStride) {
      std::uint64_t a = c, b = 0, d = 0;
      for (std::size_t i = 0; i < kStride; i += 8) {
        std::uint64_t wa, wb, wd;
        std::memcpy(&wa, p + i, 8);
        std::memcpy(&wb, p + kStride + i, 8);
        std::memcpy(&wd, p + 2 * kStride + i, 8);
        a = _mm_crc32_u64(a, wa);
        b = _mm_crc32_u64(b, wb);
        d = _mm_crc32_u64(d, wd);
      }
      c = by_two(static_cast<std::uint32_t>(a)) ^ by_one(static_cast<std::uint32_t>(b)) ^
          static_cast<std::uint32_t>(d);
      p += 3 * kStride;
      n -= 3 * kStride;
    }
  }
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

const bool kHasSse42 = __builtin_cpu_supports("sse4.2");
#endif

}  // namespace

std::uint32_t crc32c(std::string_view data, std::uint32_t crc) {
#if defined(__x86_64__)
  if (kHasSse42) return crc32cSse42(data, crc);
#endif
  return crc32cPortable(data, crc);
}

std::uint32_t crc32cPortable(std::string_view data, std::uint32_t crc) {
  const auto& t = kTables.t;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t n = data.size();
  crc = ~crc;
  // Eight bytes at a time (little-endian loads, as on every target we build for).
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    word ^= crc;
    crc = t[7][word & 0xFF] ^ t[6][(word >> 8) & 0xFF] ^ t[5][(word >> 16) & 0xFF] ^
          t[4][(word >> 24) & 0xFF] ^ t[3][(word >> 32) & 0xFF] ^ t[2][(word >> 40) & 0xFF] ^
          t[1][(word >> 48) & 0xFF] ^ t[0][(word >> 56) & 0xFF];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF];
  return ~crc;
}

}  // namespace kubemetrics::push
