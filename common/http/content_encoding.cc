#include "common/http/content_encoding.h"

#include <isa-l/igzip_lib.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>

namespace kubemetrics::http_internal {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// The weight of one list element's parameters ("q=0.5"); 1 when absent.
// RFC 9110 allows at most three decimals; anything unparsable is treated as
// 0 (not acceptable), the safe side.
double qValue(std::string_view params) {
  while (!params.empty()) {
    const std::size_t semi = params.find(';');
    std::string_view param = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    const std::size_t eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    if (!equalsIgnoreCase(trim(param.substr(0, eq)), "q")) continue;
    const std::string_view value = trim(param.substr(eq + 1));
    double q = 0;
    // std::from_chars for double is in libstdc++ 11+, so no locale surprises.
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), q);
    if (ec != std::errc() || end != value.data() + value.size() || !(q >= 0) || q > 1) return 0;
    return q;
  }
  return 1;
}

std::string_view inflateErrorText(int rc) {
  switch (rc) {
    case ISAL_INVALID_WRAPPER:
      return "not a gzip member";
    case ISAL_UNSUPPORTED_METHOD:
      return "unsupported compression method";
    case ISAL_INCORRECT_CHECKSUM:
      return "checksum mismatch";
    case ISAL_INVALID_LOOKBACK:
      return "invalid distance";
    case ISAL_NEED_DICT:
      return "needs a preset dictionary";
    default:
      return "invalid deflate data";
  }
}

}  // namespace

bool acceptsGzip(std::string_view accept_encoding) {
  double gzip_q = -1;  // -1: gzip not named
  double star_q = -1;
  while (!accept_encoding.empty()) {
    const std::size_t comma = accept_encoding.find(',');
    const std::string_view element = accept_encoding.substr(0, comma);
    accept_encoding =
        comma == std::string_view::npos ? std::string_view{} : accept_encoding.substr(comma + 1);
    const std::size_t semi = element.find(';');
    const std::string_view coding = trim(element.substr(0, semi));
    const double q = semi == std::string_view::npos ? 1.0 : qValue(element.substr(semi + 1));
    if (equalsIgnoreCase(coding, "gzip") || equalsIgnoreCase(coding, "x-gzip")) {
      gzip_q = std::max(gzip_q, q);
    } else if (coding == "*") {
      star_q = std::max(star_q, q);
    }
  }
  if (gzip_q >= 0) return gzip_q > 0;
  return star_q > 0;
}

Result<std::string> gzipCompress(std::string_view data) {
  z_stream zs{};
  // windowBits 15 + 16 asks zlib for the gzip wrapper instead of zlib's own.
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return makeError(ErrorCode::kInternal, "gzip: deflateInit2 failed");
  }
  // avail_in/avail_out are 32-bit, so a body past 4 GiB goes in slices.
  constexpr std::size_t kSlice = std::numeric_limits<uInt>::max();
  std::string out(std::max<std::size_t>(deflateBound(&zs, static_cast<uLong>(data.size())), 64),
                  '\0');
  std::size_t fed = 0;
  std::size_t produced = 0;
  int rc = Z_OK;
  do {
    if (zs.avail_in == 0 && fed < data.size()) {
      const std::size_t n = std::min(data.size() - fed, kSlice);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + fed));
      zs.avail_in = static_cast<uInt>(n);
      fed += n;
    }
    if (produced == out.size()) out.resize(out.size() * 2);
    const std::size_t room = std::min(out.size() - produced, kSlice);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(room);
    // Every call has input or output room, so each makes progress and the
    // loop ends; Z_BUF_ERROR only says "call again".
    rc = deflate(&zs, fed == data.size() ? Z_FINISH : Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      deflateEnd(&zs);
      return makeError(ErrorCode::kInternal, "gzip: deflate failed");
    }
  } while (rc != Z_STREAM_END);
  deflateEnd(&zs);
  out.resize(produced);
  return out;
}

// ISA-L's inflate (igzip) instead of zlib's: the same RFC 1951/1952
// decoding at about 3x zlib's speed on x86-64 (SIMD Huffman decoding and a
// carry-less-multiply CRC-32), and gzip-compressed scrape bodies are the
// agent's largest single CPU cost. With crc_flag ISAL_GZIP it parses each
// member's header and checks its CRC-32 and length trailer itself.
struct GzipDecoder::State {
  inflate_state zs{};
  bool any_input = false;
  bool member_done = false;  // the last member ended; more input starts another
  bool failed = false;
  std::array<char, 64 * 1024> out{};

  void startMember() {
    isal_inflate_reset(&zs);
    zs.crc_flag = ISAL_GZIP;  // the gzip wrapper only (no zlib or raw deflate)
  }
};

GzipDecoder::GzipDecoder() : state_(std::make_unique<State>()) {
  isal_inflate_init(&state_->zs);
  state_->startMember();
}

GzipDecoder::~GzipDecoder() = default;

Result<void> GzipDecoder::feed(std::string_view encoded, const Sink& sink) {
  State& st = *state_;
  if (st.failed) return makeError(ErrorCode::kDataLoss, "gzip: corrupt data");
  if (encoded.empty()) return {};
  st.any_input = true;
  // avail_in is 32-bit, so a piece past 4 GiB goes in slices.
  constexpr std::size_t kSlice = std::numeric_limits<std::uint32_t>::max();
  while (!encoded.empty()) {
    const std::size_t n = std::min(encoded.size(), kSlice);
    st.zs.next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(encoded.data()));
    st.zs.avail_in = static_cast<std::uint32_t>(n);
    encoded.remove_prefix(n);
    for (;;) {
      if (st.member_done) {
        if (st.zs.avail_in == 0) break;
        // Another member follows (or garbage, which the header check rejects).
        st.startMember();
        st.member_done = false;
      }
      st.zs.next_out = reinterpret_cast<std::uint8_t*>(st.out.data());
      st.zs.avail_out = static_cast<std::uint32_t>(st.out.size());
      const int rc = isal_inflate(&st.zs);
      const std::size_t produced = st.out.size() - st.zs.avail_out;
      if (rc != ISAL_DECOMP_OK) {
        st.failed = true;
        return makeError(ErrorCode::kDataLoss,
                         "gzip: corrupt data (" + std::string(inflateErrorText(rc)) + ")");
      }
      if (produced > 0) {
        if (auto sunk = sink(std::string_view(st.out.data(), produced)); !sunk) return sunk;
      }
      if (st.zs.block_state == ISAL_BLOCK_FINISH) {
        st.member_done = true;
        continue;
      }
      // All input consumed and the output buffer not filled: inflate has
      // nothing more to give until more input comes.
      if (st.zs.avail_in == 0 && st.zs.avail_out != 0) break;
    }
  }
  return {};
}

Result<void> GzipDecoder::finish() const {
  const State& st = *state_;
  if (st.failed) return makeError(ErrorCode::kDataLoss, "gzip: corrupt data");
  if (st.any_input && !st.member_done) {
    return makeError(ErrorCode::kDataLoss,
                     "gzip: data truncated (the stream ended inside a member)");
  }
  return {};
}

Result<std::string> gzipDecompress(std::string_view data, std::size_t max_bytes) {
  std::string out;
  GzipDecoder decoder;
  auto fed = decoder.feed(data, [&](std::string_view piece) -> Result<void> {
    if (piece.size() > max_bytes - out.size()) {
      return makeError(ErrorCode::kResourceExhausted,
                       "gzip: decoded data exceeds " + std::to_string(max_bytes) + " bytes");
    }
    out.append(piece);
    return {};
  });
  if (!fed) return tl::unexpected(std::move(fed.error()));
  if (auto done = decoder.finish(); !done) return tl::unexpected(done.error());
  return out;
}

}  // namespace kubemetrics::http_internal
