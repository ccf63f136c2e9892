#pragma once

#include <cstdint>
#include <string_view>

namespace kubemetrics::push {

/// CRC-32C (Castagnoli, the iSCSI/ext4 polynomial 0x1EDC6F41, reflected),
/// continuing from `crc` (0 to start): the CPU's crc32 instruction where it
/// has one (x86-64 SSE 4.2), else crc32cPortable(). Pure and thread-safe.
/// crc32c("123456789") == 0xE3069283.
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0);
/// The same in software (slicing-by-8), on every CPU; the tests check the
/// two agree.
std::uint32_t crc32cPortable(std::string_view data, std::uint32_t crc = 0);

}  // namespace kubemetrics::push
