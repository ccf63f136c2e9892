#pragma once
// A gzip decoder for tests, written on zlib directly rather than on the
// agent's own decoder, so a test of what the agent compresses does not
// trust the code it checks.

#include <zlib.h>

#include <string>

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

}  // namespace kubemetrics::testing
