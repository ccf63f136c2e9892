#include "common/http/content_encoding.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "support/gzip.h"

namespace kubemetrics::http_internal {
namespace {

using kubemetrics::testing::gunzip;
using kubemetrics::testing::gzipByZlib;

// A gzip member at `level` with every optional header field (name,
// comment, extra field and header CRC), which a decoder must skip.
std::string gzipWithAllHeaderFields(std::string_view data, int level) {
  std::string name = "metrics.txt", comment = "made by zlib", extra = "xy\x02\0ab";
  gz_header header{};
  header.name = reinterpret_cast<Bytef*>(name.data());
  header.comment = reinterpret_cast<Bytef*>(comment.data());
  header.extra = reinterpret_cast<Bytef*>(extra.data());
  header.extra_len = static_cast<uInt>(extra.size());
  header.hcrc = 1;
  return gzipByZlib(data, level, &header);
}

// Text that deflate codes with dynamic Huffman blocks and back-references.
std::string metricText(int lines) {
  std::string text;
  std::uint32_t x = 7;
  for (int i = 0; i < lines; ++i) {
    x = x * 1664525u + 1013904223u;
    text += "kube_pod_info{pod=\"p" + std::to_string(x >> 20) + "\"} " + std::to_string(i) + "\n";
  }
  return text;
}

struct Decoded {
  std::string text;
  Result<void> status;
};

// Feeds `encoded` to a new decoder in pieces cut at `cuts` (ascending), then
// finishes it: the decoded text and the first error.
Decoded decodeInPieces(std::string_view encoded, std::initializer_list<std::size_t> cuts) {
  GzipDecoder decoder;
  Decoded out;
  const auto sink = [&](std::string_view piece) {
    out.text.append(piece);
    return Result<void>{};
  };
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    out.status = decoder.feed(encoded.substr(at, cut - at), sink);
    if (!out.status) return out;
    at = cut;
  }
  out.status = decoder.feed(encoded.substr(at), sink);
  if (out.status) out.status = decoder.finish();
  return out;
}

TEST(AcceptsGzipTest, NamedCodings) {
  EXPECT_TRUE(acceptsGzip("gzip"));
  EXPECT_TRUE(acceptsGzip("GZip"));
  EXPECT_TRUE(acceptsGzip("deflate, gzip"));
  EXPECT_TRUE(acceptsGzip("gzip, deflate, br"));
  EXPECT_TRUE(acceptsGzip("x-gzip"));
  EXPECT_TRUE(acceptsGzip(" br ;q=1.0 , gzip ; q=0.5"));
  EXPECT_FALSE(acceptsGzip(""));
  EXPECT_FALSE(acceptsGzip("identity"));
  EXPECT_FALSE(acceptsGzip("deflate, br"));
  EXPECT_FALSE(acceptsGzip("gzipped"));
}

TEST(AcceptsGzipTest, QZeroMeansNotAccepted) {
  EXPECT_FALSE(acceptsGzip("gzip;q=0"));
  EXPECT_FALSE(acceptsGzip("gzip; q=0.000"));
  EXPECT_FALSE(acceptsGzip("gzip;Q=0"));
  EXPECT_TRUE(acceptsGzip("gzip;q=0.001"));
  EXPECT_FALSE(acceptsGzip("gzip;q=0, *"));  // named beats the wildcard
  EXPECT_FALSE(acceptsGzip("*;q=0"));
}

TEST(AcceptsGzipTest, Wildcard) {
  EXPECT_TRUE(acceptsGzip("*"));
  EXPECT_TRUE(acceptsGzip("identity;q=1, *;q=0.1"));
}

TEST(AcceptsGzipTest, MalformedQIsNotAccepted) {
  EXPECT_FALSE(acceptsGzip("gzip;q=abc"));
  EXPECT_FALSE(acceptsGzip("gzip;q=2"));
  EXPECT_FALSE(acceptsGzip("gzip;q=-1"));
  EXPECT_FALSE(acceptsGzip("gzip;q="));
}

TEST(GzipCompressTest, RoundTrips) {
  std::string text;
  for (int i = 0; i < 20000; ++i)
    text += "kubernetes_pod_cpu_usage{pod=\"p" + std::to_string(i) + "\"} 1\n";
  auto compressed = gzipCompress(text);
  ASSERT_TRUE(compressed.has_value());
  ASSERT_GE(compressed->size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>((*compressed)[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>((*compressed)[1]), 0x8b);
  EXPECT_LT(compressed->size(), text.size() / 4);
  EXPECT_EQ(gunzip(*compressed), text);
}

TEST(GzipCompressTest, EmptyAndIncompressibleInput) {
  auto empty = gzipCompress("");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(gunzip(*empty), "");

  std::string noise(100000, '\0');
  std::uint32_t x = 12345;
  for (char& c : noise) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  auto compressed = gzipCompress(noise);
  ASSERT_TRUE(compressed.has_value());
  EXPECT_EQ(gunzip(*compressed), noise);
}

// --- GzipDecoder: what a target or a sender may send --------------------------

TEST(GzipDecoderTest, ConcatenatedMembersCutAnywhereDecodeWhole) {
  const std::string first = metricText(200), second = metricText(50);
  const std::string encoded = gzipByZlib(first) + gzipByZlib(second, 1);
  for (std::size_t cut = 0; cut <= encoded.size(); ++cut) {
    const Decoded decoded = decodeInPieces(encoded, {cut});
    ASSERT_TRUE(decoded.status.has_value())
        << "cut at " << cut << ": " << decoded.status.error().message();
    ASSERT_TRUE(decoded.text == first + second) << "cut at " << cut;
  }
}

TEST(GzipDecoderTest, StoredBlocksEmptyMembersAndHeaderFieldsDecode) {
  const std::string text = metricText(100);
  const std::string encoded =
      gzipByZlib(text, 0) + gzipByZlib("") + gzipWithAllHeaderFields(text, 9);
  const Decoded decoded = decodeInPieces(encoded, {5, 17, encoded.size() / 2});
  ASSERT_TRUE(decoded.status.has_value()) << decoded.status.error().message();
  EXPECT_TRUE(decoded.text == text + text);
  EXPECT_TRUE(decodeInPieces(gzipByZlib(""), {}).status.has_value());
}

TEST(GzipDecoderTest, AWrongTrailerIsDataLoss) {
  const std::string good = gzipByZlib(metricText(100));
  // The trailer: CRC-32 of the data, then its length mod 2^32.
  for (std::size_t from_end : {8u, 5u, 4u, 1u}) {
    std::string bad = good;
    bad[bad.size() - from_end] = static_cast<char>(bad[bad.size() - from_end] ^ 0x01);
    const Decoded decoded = decodeInPieces(bad, {bad.size() - 3});
    ASSERT_FALSE(decoded.status.has_value()) << "byte " << from_end << " from the end";
    EXPECT_EQ(decoded.status.error().code(), ErrorCode::kDataLoss);
    EXPECT_NE(decoded.status.error().message().find("gzip"), std::string::npos);
  }
}

TEST(GzipDecoderTest, TruncatedAnywhereIsDataLossAndNeverReportsSuccess) {
  const std::string good = gzipByZlib(metricText(100));
  for (std::size_t keep = 1; keep < good.size(); ++keep) {
    const Decoded decoded = decodeInPieces(good.substr(0, keep), {});
    ASSERT_FALSE(decoded.status.has_value()) << "kept " << keep << " of " << good.size();
    EXPECT_EQ(decoded.status.error().code(), ErrorCode::kDataLoss);
  }
}

TEST(GzipDecoderTest, BytesAfterAMemberThatStartNoMemberAreDataLossAndStick) {
  const std::string text = metricText(10);
  // Each at least a gzip header long (10 bytes), so it is judged, not waited on.
  const std::string method_9("\x1f\x8b\x09\0\0\0\0\0\0\x03", 10);
  for (const std::string& tail :
       {std::string("this is not gzip at all"), method_9, std::string(20, '\0')}) {
    GzipDecoder decoder;
    std::string out;
    const auto sink = [&](std::string_view piece) {
      out.append(piece);
      return Result<void>{};
    };
    auto fed = decoder.feed(gzipByZlib(text) + tail, sink);
    ASSERT_FALSE(fed.has_value()) << tail;
    EXPECT_EQ(fed.error().code(), ErrorCode::kDataLoss);
    EXPECT_EQ(out, text);  // the good member came through first
    EXPECT_FALSE(decoder.feed(gzipByZlib(text), sink).has_value());
    EXPECT_FALSE(decoder.finish().has_value());
  }
}

}  // namespace
}  // namespace kubemetrics::http_internal
