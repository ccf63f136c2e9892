#pragma once

#include <string>
#include <string_view>

#include "kubemetrics/result.h"

namespace kubemetrics::push {

/// Body compressions the push exporters share (snappy lives with
/// remote_write, the only format that uses it). Pure functions; thread-safe.

/// `data` as one zstd frame (RFC 8878) at `level` (1..19; 3 is zstd's
/// default). kInternal when zstd fails. The result's capacity is its size.
Result<std::string> zstdCompress(std::string_view data, int level = 3);
/// `data` as one gzip member (RFC 1952) at zlib `level` (1..9).
/// kInternal when zlib fails. The result's capacity is its size.
Result<std::string> gzipCompress(std::string_view data, int level = 6);

/// The same, compressing into `scratch`, which the caller keeps between
/// calls (grown to the worst-case size as needed, never shrunk), and
/// copying out exactly the compressed bytes. Compressing straight into the
/// result would leave it with the worst case's capacity (about the
/// uncompressed size) for as long as it is queued; the scratch also saves
/// allocating and zero-filling that worst case on every call.
Result<std::string> zstdCompress(std::string_view data, int level, std::string& scratch);
Result<std::string> gzipCompress(std::string_view data, int level, std::string& scratch);

/// Inverses (tests, fake backends, splitting a refused request): kDataLoss on corrupt input,
/// kResourceExhausted when the output would exceed `max_bytes`.
Result<std::string> zstdDecompress(std::string_view data, std::size_t max_bytes = 256 << 20);
Result<std::string> gzipDecompress(std::string_view data, std::size_t max_bytes = 256 << 20);

}  // namespace kubemetrics::push
