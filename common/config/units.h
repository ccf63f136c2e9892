#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "kubemetrics/result.h"

namespace kubemetrics {

/// Longest duration the config accepts (8760h, one year): far beyond any
/// sensible interval or timeout, and small enough that adding it to a clock
/// in nanoseconds cannot overflow.
inline constexpr std::chrono::milliseconds kMaxConfigDuration{8760LL * 3600 * 1000};

/// Parses a Go-style duration: one or more `<number><unit>` parts, units ms,
/// s, m, h, decimals allowed ("500ms", "15s", "1m30s", "1.5h"). The result is
/// > 0, a whole number of milliseconds and at most kMaxConfigDuration. On
/// failure the Error message is a reason without the input ("missing unit
/// ..."); callers add the value. Pure function, thread-safe.
Result<std::chrono::milliseconds> parseDuration(std::string_view text);

/// True for the zero durations a user may write where 0 means "off" ("0",
/// "0s", "0ms", "0m", "0h"), which parseDuration refuses. Thread-safe.
bool isZeroDuration(std::string_view text);

/// Canonical form of a duration, the one parseDuration reads back: "15s",
/// "1m30s", "500ms", "1.5s", "2h". Zero prints as "0s". Thread-safe.
std::string formatDuration(std::chrono::milliseconds duration);

/// Parses a byte size: a plain integer (bytes) or `<number><unit>` with B,
/// KB/MB/GB/TB (powers of 1000) or KiB/MiB/GiB/TiB (powers of 1024; Ki, Mi,
/// Gi, Ti as in Kubernetes quantities are accepted too). Decimals allowed
/// when the result is a whole number of bytes ("1.5GiB"). The result is > 0
/// (or 0 too, with `allow_zero`) and fits in an int64. Thread-safe.
Result<std::uint64_t> parseBytes(std::string_view text, bool allow_zero = false);

/// Canonical form of a byte size, read back by parseBytes: the unit that
/// divides it exactly with the smallest number in front ("1GiB", "10MB",
/// "1536B"). Thread-safe.
std::string formatBytes(std::uint64_t bytes);

/// Splits "ADDR:PORT" ("0.0.0.0:9464", "127.0.0.1:0", "[::1]:9464"); false
/// when malformed or the port is out of range. Thread-safe.
bool splitListenAddress(std::string_view text, std::string* host, unsigned short* port);

}  // namespace kubemetrics
