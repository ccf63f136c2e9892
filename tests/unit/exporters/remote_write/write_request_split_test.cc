#include "exporters/remote_write/write_request_split.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <string>
#include <vector>

#include "common/compression/compression.h"
#include "exporters/remote_write/remote_write_encoder.h"
#include "remote_write/remote_write.pb.h"

namespace kubemetrics::exporters::remote_write {
namespace {

pb::WriteRequest decode(const push::EncodedPayload& payload) {
  std::string raw;
  if (payload.content_encoding == "zstd") {
    raw = *push::zstdDecompress(payload.body);
  } else {
    EXPECT_TRUE(snappy::Uncompress(payload.body.data(), payload.body.size(), &raw));
  }
  EXPECT_EQ(raw.size(), payload.raw_bytes);
  pb::WriteRequest request;
  EXPECT_TRUE(request.ParseFromString(raw));
  return request;
}

// Series "s0".."s<n-1>", series i with i + 1 samples.
std::vector<Sample> series(int n) {
  std::vector<Sample> out;
  for (int i = 0; i < n; ++i) {
    const Labels labels = LabelsBuilder().set("series", "s" + std::to_string(i)).build();
    for (int k = 0; k <= i; ++k) {
      out.push_back(Sample{Symbol::intern("kmtest_split"), labels, static_cast<double>(k),
                           1700000000000 + k * 1000});
    }
  }
  return out;
}

std::vector<std::string> seriesNames(const pb::WriteRequest& request) {
  std::vector<std::string> names;
  for (const auto& ts : request.timeseries()) {
    for (const auto& label : ts.labels()) {
      if (label.name() == "series") names.push_back(label.value());
    }
  }
  return names;
}

class WriteRequestSplitTest : public ::testing::TestWithParam<std::string> {};

TEST_P(WriteRequestSplitTest, HalvesKeepEverySeriesWholeAndInOrder) {
  RemoteWriteEncoder encoder({{"cluster", "c"}}, GetParam());
  std::size_t dropped = 0;
  const auto payload = encoder.encode(series(5), &dropped);
  ASSERT_TRUE(payload);
  ASSERT_EQ(payload->samples, 15u);
  const std::vector<push::EncodedPayload> halves = encoder.splitter()(*payload);
  ASSERT_EQ(halves.size(), 2u);
  const pb::WriteRequest whole = decode(*payload);
  const pb::WriteRequest first = decode(halves[0]);
  const pb::WriteRequest second = decode(halves[1]);
  EXPECT_EQ(seriesNames(first), (std::vector<std::string>{"s0", "s1"}));
  EXPECT_EQ(seriesNames(second), (std::vector<std::string>{"s2", "s3", "s4"}));
  EXPECT_EQ(halves[0].samples, 3u);   // 1 + 2
  EXPECT_EQ(halves[1].samples, 12u);  // 3 + 4 + 5
  EXPECT_EQ(halves[0].content_encoding, GetParam());
  // Byte for byte the series of the whole request.
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(first.timeseries(i).SerializeAsString(), whole.timeseries(i).SerializeAsString());
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(second.timeseries(i).SerializeAsString(),
              whole.timeseries(i + 2).SerializeAsString());
  }
  // A half splits again, down to one series, which does not.
  const auto quarters = encoder.splitter()(halves[1]);
  ASSERT_EQ(quarters.size(), 2u);
  EXPECT_EQ(seriesNames(decode(quarters[0])), (std::vector<std::string>{"s2"}));
  EXPECT_TRUE(encoder.splitter()(quarters[0]).empty());
}

INSTANTIATE_TEST_SUITE_P(Encodings, WriteRequestSplitTest, ::testing::Values("snappy", "zstd"));

TEST(WriteRequestSplitTest, AnUnreadableBodyIsNotSplit) {
  push::EncodedPayload garbage;
  garbage.content_encoding = "snappy";
  garbage.body = "not snappy at all";
  EXPECT_TRUE(splitWriteRequest(garbage).empty());
  // Valid snappy around a truncated protobuf.
  RemoteWriteEncoder encoder;
  std::string raw = encoder.serializeForTest(series(3));
  raw.resize(raw.size() - 3);
  snappy::Compress(raw.data(), raw.size(), &garbage.body);
  EXPECT_TRUE(splitWriteRequest(garbage).empty());
}

}  // namespace
}  // namespace kubemetrics::exporters::remote_write
