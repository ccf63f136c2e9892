#include "common/compression/compression.h"

#include <zlib.h>
#include <zstd.h>

#include <cstddef>

namespace kubemetrics::push {

namespace {

// Makes `scratch` at least `n` bytes long; only grows, so a scratch at its
// working size is neither reallocated nor zero-filled again.
void growScratch(std::string& scratch, std::size_t n) {
  if (scratch.size() < n) scratch.resize(n);
}

}  // namespace

Result<std::string> zstdCompress(std::string_view data, int level) {
  std::string scratch;
  return zstdCompress(data, level, scratch);
}

Result<std::string> zstdCompress(std::string_view data, int level, std::string& scratch) {
  growScratch(scratch, ZSTD_compressBound(data.size()));
  const std::size_t n =
      ZSTD_compress(scratch.data(), scratch.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) {
    return makeError(ErrorCode::kInternal, std::string("zstd: ") + ZSTD_getErrorName(n));
  }
  return std::string(scratch.data(), n);
}

Result<std::string> zstdDecompress(std::string_view data, std::size_t max_bytes) {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  if (ctx == nullptr) return makeError(ErrorCode::kInternal, "zstd: out of memory");
  std::string out;
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  std::string chunk(ZSTD_DStreamOutSize(), '\0');
  std::size_t ret = 1;
  while (in.pos < in.size) {
    ZSTD_outBuffer o{chunk.data(), chunk.size(), 0};
    ret = ZSTD_decompressStream(ctx, &o, &in);
    if (ZSTD_isError(ret)) {
      ZSTD_freeDCtx(ctx);
      return makeError(ErrorCode::kDataLoss, std::string("zstd: ") + ZSTD_getErrorName(ret));
    }
    out.append(chunk.data(), o.pos);
    if (out.size() > max_bytes) {
      ZSTD_freeDCtx(ctx);
      return makeError(ErrorCode::kResourceExhausted, "zstd: output too large");
    }
  }
  ZSTD_freeDCtx(ctx);
  if (ret != 0) return makeError(ErrorCode::kDataLoss, "zstd: truncated frame");
  return out;
}

namespace {

// windowBits 15 + 16 selects the gzip wrapper in zlib.
constexpr int kGzipWindowBits = 15 + 16;

}  // namespace

Result<std::string> gzipCompress(std::string_view data, int level) {
  std::string scratch;
  return gzipCompress(data, level, scratch);
}

Result<std::string> gzipCompress(std::string_view data, int level, std::string& scratch) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return makeError(ErrorCode::kInternal, "zlib: deflateInit2 failed");
  }
  growScratch(scratch, deflateBound(&zs, static_cast<uLong>(data.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(scratch.data());
  zs.avail_out = static_cast<uInt>(scratch.size());
  const int rc = deflate(&zs, Z_FINISH);
  const std::size_t produced = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return makeError(ErrorCode::kInternal, "zlib: deflate failed");
  return std::string(scratch.data(), produced);
}

Result<std::string> gzipDecompress(std::string_view data, std::size_t max_bytes) {
  z_stream zs{};
  if (inflateInit2(&zs, kGzipWindowBits) != Z_OK) {
    return makeError(ErrorCode::kInternal, "zlib: inflateInit2 failed");
  }
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char chunk[16384];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof(chunk);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return makeError(ErrorCode::kDataLoss, "gzip: corrupt or truncated body");
    }
    out.append(chunk, sizeof(chunk) - zs.avail_out);
    if (out.size() > max_bytes) {
      inflateEnd(&zs);
      return makeError(ErrorCode::kResourceExhausted, "gzip: output too large");
    }
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace kubemetrics::push
