#include "exporters/wavefront/wavefront_encoder.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "common/compression/compression.h"
#include "kubemetrics/labels.h"

namespace kubemetrics::exporters::wavefront {
namespace {

std::vector<Sample> samples() {
  std::vector<Sample> out;
  for (int i = 0; i < 100; ++i) {
    Sample s;
    s.name = Symbol::intern("kube_pod_info");
    s.labels = LabelsBuilder()
                   .set("namespace", "ns" + std::to_string(i % 7))
                   .set("pod", "pod-" + std::to_string(i))
                   .set("node", "node-a")
                   .build();
    s.value = i;
    s.timestamp_ms = 1700000000000 + i;
    out.push_back(s);
  }
  Sample nan = out[0];
  nan.value = std::nan("");
  out.push_back(nan);
  return out;
}

std::string expectedLines(const std::vector<Sample>& in) {
  LineFormatter f(LineFormatOptions{"", "agent"});
  FormatStats stats;
  std::string out;
  for (const Sample& s : in) f.format(s, out, stats);
  return out;
}

double counterValue(prometheus::Registry& registry, const std::string& name,
                    const std::string& reason) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.name == "reason" && label.value == reason) return metric.counter.value;
      }
    }
  }
  return -1;
}

TEST(WavefrontEncoderTest, EncodesEachCompression) {
  const auto in = samples();
  const std::string lines = expectedLines(in);
  ASSERT_EQ(std::count(lines.begin(), lines.end(), '\n'), 100);
  for (const Compression c : {Compression::kNone, Compression::kZstd, Compression::kGzip}) {
    WavefrontEncoder encoder(LineFormatOptions{"", "agent"}, c, 0, nullptr);
    std::size_t dropped = 0;
    auto payload = encoder.encode(in, &dropped);
    ASSERT_TRUE(payload) << payload.error().message();
    EXPECT_EQ(dropped, 1u);
    EXPECT_EQ(payload->samples, 100u);
    EXPECT_EQ(payload->raw_bytes, lines.size());
    EXPECT_EQ(payload->content_encoding, encoder.contentEncoding());
    std::string body = payload->body;
    if (c == Compression::kZstd) {
      EXPECT_EQ(encoder.contentEncoding(), "zstd");
      body = push::zstdDecompress(payload->body).value();
      EXPECT_LT(payload->body.size(), lines.size() / 3);
    } else if (c == Compression::kGzip) {
      EXPECT_EQ(encoder.contentEncoding(), "gzip");
      body = push::gzipDecompress(payload->body).value();
      EXPECT_LT(payload->body.size(), lines.size() / 3);
    } else {
      EXPECT_EQ(encoder.contentEncoding(), "");
    }
    EXPECT_EQ(body, lines);
    // The buffer is reused: a second call gives the same result.
    std::size_t dropped2 = 0;
    EXPECT_EQ(encoder.encode(in, &dropped2).value().body, payload->body);
    EXPECT_EQ(encoder.totals().lines, 200u);
  }
}

// As the exporter fills a batch, one send() at a time: the lines appended,
// invalid samples counted, then the same body as encode().
TEST(WavefrontEncoderTest, AppendsLinesAndCompressesThemLikeEncode) {
  const auto in = samples();
  const std::string lines = expectedLines(in);
  WavefrontEncoder encoder(LineFormatOptions{"", "agent"}, Compression::kZstd, 0, nullptr);
  std::string raw;
  std::size_t dropped = 0;
  encoder.append(std::span(in).first(1), raw, &dropped);
  EXPECT_EQ(raw, lines.substr(0, lines.find('\n') + 1));
  encoder.append(std::span(in).subspan(1), raw, &dropped);
  EXPECT_EQ(raw, lines);
  EXPECT_EQ(dropped, 1u);  // the NaN
  auto payload = encoder.compress(raw, in.size() - dropped);
  ASSERT_TRUE(payload) << payload.error().message();
  EXPECT_EQ(payload->samples, 100u);
  EXPECT_EQ(payload->raw_bytes, lines.size());
  EXPECT_EQ(payload->content_encoding, "zstd");
  EXPECT_EQ(push::zstdDecompress(payload->body).value(), lines);
  EXPECT_EQ(encoder.totals().lines, 100u);
}

TEST(WavefrontEncoderTest, CountsInvalidSamplesByReason) {
  prometheus::Registry registry;
  WavefrontEncoder encoder(LineFormatOptions{"", "agent"}, Compression::kNone, 0,
                           std::make_unique<WavefrontFormatMetrics>(registry, "wavefront"));
  std::size_t dropped = 0;
  ASSERT_TRUE(encoder.encode(samples(), &dropped));
  EXPECT_EQ(
      counterValue(registry, "kubemetrics_wavefront_samples_invalid_total", "non_finite_value"), 1);
  EXPECT_EQ(counterValue(registry, "kubemetrics_wavefront_samples_invalid_total", "too_many_tags"),
            0);
}

TEST(WavefrontEncoderTest, CountsTrimmedTagsByReason) {
  prometheus::Registry registry;
  WavefrontEncoder encoder(LineFormatOptions{"", "agent", {"pod_id"}}, Compression::kNone, 0,
                           std::make_unique<WavefrontFormatMetrics>(registry, "wavefront"));
  LabelsBuilder builder;
  builder.set("pod_id", "0b6f").set("node", "node-a");
  for (int i = 0; i < 21; ++i) builder.set("label.k" + std::to_string(100 + i), "v");
  Sample s;
  s.name = Symbol::intern("kubernetes.pod.cpu.usage");
  s.labels = builder.build();
  s.value = 1;
  std::size_t dropped = 0;
  auto payload = encoder.encode(std::vector<Sample>{s}, &dropped);
  ASSERT_TRUE(payload);
  EXPECT_EQ(payload->samples, 1u);
  EXPECT_EQ(dropped, 0u);
  EXPECT_EQ(counterValue(registry, "kubemetrics_wavefront_trimmed_tags_total", "excluded"), 1);
  // node + 21 label.* tags: two label.* tags go, the first in key order.
  EXPECT_EQ(counterValue(registry, "kubemetrics_wavefront_trimmed_tags_total", "label_priority"),
            2);
  EXPECT_EQ(payload->body.find("label.k100"), std::string::npos);
  EXPECT_EQ(payload->body.find("label.k101"), std::string::npos);
  EXPECT_NE(payload->body.find("label.k102"), std::string::npos);
}

TEST(WavefrontEncoderTest, SkipsStaleMarkersCountingThem) {
  prometheus::Registry registry;
  WavefrontEncoder encoder(LineFormatOptions{"", "agent"}, Compression::kNone, 0,
                           std::make_unique<WavefrontFormatMetrics>(registry, "wavefront"));
  std::vector<Sample> in = samples();
  in.pop_back();  // the NaN
  Sample marker = in[3];
  marker.value = kStaleNaN;
  marker.timestamp_ms += 1000;
  in.push_back(marker);
  std::size_t dropped = 0;
  auto payload = encoder.encode(in, &dropped);
  ASSERT_TRUE(payload);
  EXPECT_EQ(dropped, 1u);
  EXPECT_EQ(payload->samples, 100u);
  EXPECT_EQ(payload->body, expectedLines(samples()));  // the 100 values, no marker line
  EXPECT_EQ(payload->body.find("NaN"), std::string::npos);
  EXPECT_EQ(counterValue(registry, "kubemetrics_wavefront_samples_invalid_total", "stale_marker"),
            1);
  EXPECT_EQ(
      counterValue(registry, "kubemetrics_wavefront_samples_invalid_total", "non_finite_value"), 0);
}

TEST(WavefrontEncoderTest, EstimateIsCloseToTheLine) {
  WavefrontEncoder encoder(LineFormatOptions{"", "agent"}, Compression::kNone, 0, nullptr);
  for (const Sample& s : samples()) {
    std::string line;
    FormatStats stats;
    LineFormatter(LineFormatOptions{"", "agent"}).format(s, line, stats);
    if (line.empty()) continue;
    EXPECT_GE(encoder.estimateBytes(s) * 2, line.size());
    EXPECT_LE(encoder.estimateBytes(s), line.size() * 2);
  }
}

}  // namespace
}  // namespace kubemetrics::exporters::wavefront
