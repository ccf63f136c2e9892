#pragma once
// gzip for tests, written on zlib directly rather than on the agent's own
// code, so a test of what the agent compresses or decodes does not trust
// the code it checks.

#include <zlib.h>

#include <cstdlib>
#include <string>
#include <string_view>

namespace kubemetrics::testing {

/// The decoded `gzip` member, or "<inflate failed>" (never equal to a real
/// expected body) when it is not a complete, valid gzip stream.
inline std::string gunzip(const std::string& gzip) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return "<inflate failed>";
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gzip.data()));
  zs.avail_in = static_cast<uInt>(gzip.size());
  std::string out;
  char chunk[16384];
  int rc = Z_OK;
  // Bounded: each round either makes progress or ends the stream.
  for (int i = 0; i < 1'000'000 && rc == Z_OK; ++i) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - zs.avail_out);
  }
  const bool complete = rc == Z_STREAM_END && zs.avail_in == 0;
  inflateEnd(&zs);
  return complete ? out : "<inflate failed>";
}

/// `data` as one gzip member made by zlib at `level` (0: stored blocks),
/// with the optional header fields `header` names (name, comment, extra
/// field, header CRC) when given.
inline std::string gzipByZlib(std::string_view data, int level = 6, gz_header* header = nullptr) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    std::abort();
  }
  if (header != nullptr && deflateSetHeader(&zs, header) != Z_OK) std::abort();
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())) + 256, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace kubemetrics::testing
