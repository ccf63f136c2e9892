// The hand-written remote-write decoder against libprotobuf's generated
// WriteRequest (exporters/remote_write/remote_write.proto) on real request
// bodies, and against the agent's own encoder in a round trip. Here, not in
// tests/unit/, because the unit tests of scrapers/listeners link only that
// folder's library, and these need the exporter's generated code.
#include <gtest/gtest.h>
#include <snappy.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "exporters/remote_write/remote_write_encoder.h"
#include "remote_write/remote_write.pb.h"
#include "scrapers/listeners/remote_write_decoder.h"
#include "support/process.h"

namespace kubemetrics::scrapers::listeners {
namespace {

namespace pb = exporters::remote_write::pb;
using kubemetrics::testing::readFile;

// One sample as plain data: name, labels (without __name__, sorted, empty
// values dropped), value bits, timestamp.
using Flat = std::tuple<std::string, std::vector<std::pair<std::string, std::string>>,
                        std::uint64_t, std::int64_t>;

std::vector<Flat> flatten(const std::vector<Sample>& samples) {
  std::vector<Flat> out;
  for (const Sample& s : samples) {
    std::vector<std::pair<std::string, std::string>> labels;
    for (const Label& l : s.labels) labels.emplace_back(l.name.str(), l.value.str());
    out.emplace_back(s.name.str(), std::move(labels), std::bit_cast<std::uint64_t>(s.value),
                     s.timestamp_ms);
  }
  return out;
}

// What libprotobuf reads, in the decoder's terms.
std::vector<Flat> flatten(const pb::WriteRequest& request) {
  std::vector<Flat> out;
  for (const pb::TimeSeries& ts : request.timeseries()) {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;
    for (const pb::Label& l : ts.labels()) {
      if (l.name() == "__name__") {
        name = l.value();
      } else if (!l.value().empty()) {
        labels.emplace_back(l.name(), l.value());
      }
    }
    std::sort(labels.begin(), labels.end());
    for (const pb::Sample& s : ts.samples()) {
      out.emplace_back(name, labels, std::bit_cast<std::uint64_t>(s.value()), s.timestamp());
    }
  }
  return out;
}

std::string compress(const std::string& raw) {
  std::string body;
  snappy::Compress(raw.data(), raw.size(), &body);
  return body;
}

struct FixtureCase {
  const char* file;
  int series;  // from ../shared/fixtures/README.md
};

class RemoteWriteDecoderFixtureTest : public ::testing::TestWithParam<FixtureCase> {};

TEST_P(RemoteWriteDecoderFixtureTest, DecodesWhatLibprotobufParses) {
  const std::string raw =
      readFile(std::string(KM_FIXTURES_DIR) + "/remote-write/" + GetParam().file);
  ASSERT_FALSE(raw.empty());
  pb::WriteRequest expected;
  ASSERT_TRUE(expected.ParseFromString(raw));
  ASSERT_EQ(expected.timeseries_size(), GetParam().series);
  std::size_t expected_samples = 0;
  for (const auto& ts : expected.timeseries()) expected_samples += ts.samples_size();

  RemoteWriteDecoder decoder;
  std::vector<Sample> out;
  auto stats = decoder.decode(compress(raw), out);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->series, static_cast<std::size_t>(GetParam().series));
  EXPECT_EQ(stats->samples, expected_samples);
  EXPECT_EQ(stats->rejected_series, 0u) << stats->first_rejection;
  EXPECT_EQ(stats->ignored_histograms, 0u);
  ASSERT_EQ(out.size(), expected_samples);
  EXPECT_EQ(flatten(out), flatten(expected));

  // A second decode with the same decoder (scratch reused) gives the same
  // samples, appended after the first ones.
  auto again = decoder.decode(compress(raw), out);
  ASSERT_TRUE(again);
  ASSERT_EQ(out.size(), 2 * expected_samples);
  EXPECT_EQ(flatten(std::vector<Sample>(out.begin() + static_cast<std::ptrdiff_t>(expected_samples),
                                        out.end())),
            flatten(expected));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RemoteWriteDecoderFixtureTest,
                         ::testing::Values(FixtureCase{"node_exporter_writerequest.pb", 2000},
                                           FixtureCase{"k8s_sample_writerequest.pb", 30}),
                         [](const auto& info) {
                           return std::string(info.param.file).substr(0, 4) == "node"
                                      ? std::string("NodeExporter")
                                      : std::string("K8sSample");
                         });

TEST(RemoteWriteDecoderRoundTripTest, DecodesWhatTheEncoderWrites) {
  LabelsBuilder b;
  const auto labels = [&b](std::vector<std::pair<std::string, std::string>> pairs) {
    b.clear();
    for (auto& [k, v] : pairs) b.set(k, v);
    return b.build();
  };
  const Labels pod = labels({{"namespace", "default"}, {"pod", "web-1"}, {"unicode", "grüß"}});
  const Labels node = labels({{"node", "ip-10-0-0-1"}});
  const double values[] = {kStaleNaN,
                           std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           0.0,
                           -0.0,
                           1e-300,
                           42};
  // In the encoder's order: series by first sample, then by time.
  std::vector<Sample> samples;
  // Never 0: the encoder stamps unstamped samples with the encode time.
  std::int64_t ts = -2500;
  for (double v : values) {
    samples.push_back(Sample{Symbol::intern("container_cpu_usage_seconds_total"), pod, v, ts});
    ts += 1000;  // crosses 0: negative, then positive timestamps
  }
  samples.push_back(Sample{Symbol::intern("node_load1"), node, 0.5, 1764000000000});
  samples.push_back(Sample{Symbol::intern("up"), Labels(), 1, -1});

  exporters::remote_write::RemoteWriteEncoder encoder;
  std::size_t dropped = 0;
  auto payload = encoder.encode(samples, &dropped);
  ASSERT_TRUE(payload);
  ASSERT_EQ(payload->content_encoding, "snappy");

  RemoteWriteDecoder decoder;
  std::vector<Sample> out;
  auto stats = decoder.decode(payload->body, out);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->series, 3u);
  EXPECT_EQ(stats->samples, samples.size());
  ASSERT_EQ(out.size(), samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    EXPECT_EQ(out[i].name, samples[i].name) << i;
    EXPECT_EQ(out[i].labels, samples[i].labels) << i;  // the same interned set
    EXPECT_EQ(std::bit_cast<std::uint64_t>(out[i].value),
              std::bit_cast<std::uint64_t>(samples[i].value))
        << i;
    EXPECT_EQ(out[i].timestamp_ms, samples[i].timestamp_ms) << i;
  }
  EXPECT_TRUE(isStaleMarker(out[0].value));
}

}  // namespace
}  // namespace kubemetrics::scrapers::listeners
