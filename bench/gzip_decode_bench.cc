// gzip decoding of scrape bodies: the agent's decoder (GzipDecoder, ISA-L's
// inflate, common/http/content_encoding.h) against zlib's inflate as the
// agent used it before, on the kube-state-metrics captures
// (../shared/fixtures/ksm/*.prom, concatenated: 1.9 MB) compressed by zlib
// at level 1 (what bench/e2e's targets serve) and 6 (a common server
// default). The compressed body is handed over in 16 KiB pieces, as socket
// reads arrive; MB/s counts decoded bytes. Both decoders check the CRC-32.
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "common/http/content_encoding.h"
#include "support/gzip.h"

namespace kubemetrics::http_internal {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kPiece = 16 * 1024;

fs::path fixturesDir() {
  if (const char* env = std::getenv("KM_FIXTURES_DIR")) return env;
  return KM_FIXTURES_DIR;
}

const std::string& ksmText() {
  static const std::string text = [] {
    std::string all;
    for (const auto& entry : fs::directory_iterator(fixturesDir() / "ksm")) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::ostringstream ss;
      ss << in.rdbuf();
      all += ss.str();
    }
    return all;
  }();
  return text;
}

void BM_GzipDecoder(benchmark::State& state) {
  const std::string body = testing::gzipByZlib(ksmText(), static_cast<int>(state.range(0)));
  std::size_t decoded = 0;
  for (auto _ : state) {
    GzipDecoder decoder;
    for (std::size_t at = 0; at < body.size(); at += kPiece) {
      auto fed = decoder.feed(std::string_view(body).substr(at, kPiece), [&](std::string_view s) {
        decoded += s.size();
        return Result<void>{};
      });
      if (!fed) std::abort();
    }
    if (!decoder.finish()) std::abort();
  }
  if (decoded != ksmText().size() * state.iterations()) std::abort();
  state.SetBytesProcessed(static_cast<std::int64_t>(decoded));
}
BENCHMARK(BM_GzipDecoder)->Arg(1)->Arg(6);

// The reference: zlib's streaming inflate into a 64 KiB buffer.
void BM_ZlibInflate(benchmark::State& state) {
  const std::string body = testing::gzipByZlib(ksmText(), static_cast<int>(state.range(0)));
  std::string out(64 * 1024, '\0');
  std::size_t decoded = 0;
  for (auto _ : state) {
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) std::abort();
    int rc = Z_OK;
    for (std::size_t at = 0; at < body.size() && rc != Z_STREAM_END; at += kPiece) {
      const std::string_view piece = std::string_view(body).substr(at, kPiece);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(piece.data()));
      zs.avail_in = static_cast<uInt>(piece.size());
      do {
        zs.next_out = reinterpret_cast<Bytef*>(out.data());
        zs.avail_out = static_cast<uInt>(out.size());
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) std::abort();
        decoded += out.size() - zs.avail_out;
      } while (zs.avail_out == 0);
    }
    if (rc != Z_STREAM_END) std::abort();
    inflateEnd(&zs);
  }
  if (decoded != ksmText().size() * state.iterations()) std::abort();
  state.SetBytesProcessed(static_cast<std::int64_t>(decoded));
}
BENCHMARK(BM_ZlibInflate)->Arg(1)->Arg(6);

}  // namespace
}  // namespace kubemetrics::http_internal
