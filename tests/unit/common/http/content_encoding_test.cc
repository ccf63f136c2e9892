#include "common/http/content_encoding.h"

#include <gtest/gtest.h>

#include <string>

#include "support/gzip.h"

namespace kubemetrics::http_internal {
namespace {

using kubemetrics::testing::gunzip;

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

}  // namespace
}  // namespace kubemetrics::http_internal
