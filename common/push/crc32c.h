#pragma once

#include <cstdint>
#include <string_view>

namespace kubemetrics::push {

/// CRC-32C (Castagnoli, the iSCSI/ext4 polynomial 0x1EDC6F41, reflected),
/// continuing from `crc` (0 to start). Software slicing-by-8; pure and
/// thread-safe. crc32c("123456789") == 0xE3069283.
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0);

}  // namespace kubemetrics::push
