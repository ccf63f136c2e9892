// libFuzzer target for the gzip decoder of scrape and request bodies
// (common/http/content_encoding.h, ISA-L's inflate), checked against zlib,
// the reference implementation of RFC 1952: for every input both must
// accept or both reject, and when they accept they must decode the same
// bytes. Inputs whose first byte is odd are gzip-compressed by zlib first
// (two members, at a level the input picks), so valid streams, not only
// garbage, are fuzzed; even ones are decoded as they are. The decoder gets
// its input in pieces of a size the input picks (a network hands over a
// body in arbitrary pieces). Any crash, sanitizer report or disagreement is
// a bug.
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "common/http/content_encoding.h"
#include "support/gzip.h"

namespace {

using kubemetrics::testing::gzipByZlib;

// zlib's reading of `data` under the decoder's contract: gzip members back
// to back, each whole and valid; no input is an empty body.
std::optional<std::string> zlibGunzip(std::string_view data) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) std::abort();
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char chunk[16384];
  bool in_member = false;
  bool ok = true;
  while (zs.avail_in != 0 || in_member) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - zs.avail_out);
    if (rc == Z_STREAM_END) {
      in_member = false;
      if (inflateReset(&zs) != Z_OK) std::abort();
      continue;
    }
    in_member = true;
    if (rc != Z_OK) {  // corrupt, or no progress possible: the input ended inside a member
      ok = false;
      break;
    }
  }
  inflateEnd(&zs);
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::string> decodeInPieces(std::string_view data, std::size_t piece) {
  kubemetrics::http_internal::GzipDecoder decoder;
  std::string out;
  const auto sink = [&](std::string_view decoded) {
    if (decoded.size() > 64 * 1024) std::abort();  // the Sink's promise
    out.append(decoded);
    return kubemetrics::Result<void>{};
  };
  while (!data.empty()) {
    const std::size_t n = std::min(piece, data.size());
    if (!decoder.feed(data.substr(0, n), sink)) {
      if (decoder.finish()) std::abort();  // a failure sticks
      return std::nullopt;
    }
    data.remove_prefix(n);
  }
  if (!decoder.finish()) return std::nullopt;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  constexpr std::size_t kPieces[] = {1, 3, 64, 4096, SIZE_MAX};
  const std::size_t piece = kPieces[data[1] % std::size(kPieces)];
  std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::string input;
  if (data[0] % 2 == 1) {
    const int level = (data[0] >> 1) % 10;
    const std::size_t half = rest.size() / 2;
    input = gzipByZlib(rest.substr(0, half), level) + gzipByZlib(rest.substr(half), level);
  } else {
    input = rest;
  }
  const std::optional<std::string> ours = decodeInPieces(input, piece);
  const std::optional<std::string> reference = zlibGunzip(input);
  if (ours.has_value() != reference.has_value()) std::abort();
  if (ours && *ours != *reference) std::abort();
  if (data[0] % 2 == 1 && (!ours || *ours != rest)) std::abort();
  return 0;
}
