// Staleness markers through the remote write encoder: the value goes on the
// wire bit for bit (Prometheus and VictoriaMetrics recognise the marker by
// its exact NaN payload, 0x7ff0000000000002; any other NaN is a value).
#include <gtest/gtest.h>
#include <snappy.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "exporters/remote_write/remote_write_encoder.h"
#include "remote_write/remote_write.pb.h"

namespace kubemetrics::exporters::remote_write {
namespace {

TEST(RemoteWriteStaleMarkerTest, MarkerBitsReachTheWire) {
  LabelsBuilder builder;
  builder.set("job", "app").set("pod", "web-1");
  const Labels labels = builder.build();
  const Symbol name = Symbol::intern("http_requests_total");
  const double quiet_nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<Sample> samples = {
      Sample{name, labels, 7, 1000},
      Sample{name, labels, kStaleNaN, 2000},
      Sample{Symbol::intern("plain_nan"), labels, quiet_nan, 2000},
  };
  RemoteWriteEncoder encoder;
  std::size_t dropped = 0;
  auto payload = encoder.encode(samples, &dropped);
  ASSERT_TRUE(payload) << payload.error().message();
  EXPECT_EQ(dropped, 0u);
  EXPECT_EQ(payload->samples, 3u);

  std::string raw;
  ASSERT_TRUE(snappy::Uncompress(payload->body.data(), payload->body.size(), &raw));
  // On the wire: Sample.value is field 1, a little-endian fixed64 (tag 0x09).
  const unsigned char marker_field[] = {0x09, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x7f};
  EXPECT_NE(std::string_view(raw).find(
                std::string_view(reinterpret_cast<const char*>(marker_field), sizeof marker_field)),
            std::string_view::npos);

  pb::WriteRequest request;
  ASSERT_TRUE(request.ParseFromString(raw));
  int markers = 0;
  int nans = 0;
  for (const auto& series : request.timeseries()) {
    std::string series_name;
    for (const auto& l : series.labels()) {
      if (l.name() == "__name__") series_name = l.value();
    }
    for (const auto& s : series.samples()) {
      const auto bits = std::bit_cast<std::uint64_t>(s.value());
      if (series_name == "http_requests_total" && s.timestamp() == 2000) {
        EXPECT_EQ(bits, kStaleNaNBits);
        ++markers;
      } else if (series_name == "plain_nan") {
        // An ordinary NaN stays one: it must not turn into a marker.
        EXPECT_TRUE(std::isnan(s.value()));
        EXPECT_NE(bits, kStaleNaNBits);
        ++nans;
      } else {
        EXPECT_EQ(s.value(), 7);
      }
    }
  }
  EXPECT_EQ(markers, 1);
  EXPECT_EQ(nans, 1);
}

}  // namespace
}  // namespace kubemetrics::exporters::remote_write
