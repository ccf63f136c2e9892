#include "exporters/remote_write/remote_write_encoder.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "common/compression/compression.h"
#include "common/config/config_document.h"
#include "common/text/utf8.h"
#include "exporters/remote_write/config.h"
#include "kubemetrics/config.h"
#include "remote_write/remote_write.pb.h"
#include "support/process.h"

namespace kubemetrics::exporters::remote_write {
namespace {

Labels labelsOf(std::vector<std::pair<std::string, std::string>> pairs) {
  LabelsBuilder b;
  for (auto& [k, v] : pairs) b.set(k, v);
  return b.build();
}

Sample sample(std::string name, Labels labels, double value, std::int64_t ts) {
  return Sample{Symbol::intern(name), std::move(labels), value, ts};
}

pb::WriteRequest decode(const push::EncodedPayload& payload) {
  std::string raw;
  EXPECT_TRUE(snappy::Uncompress(payload.body.data(), payload.body.size(), &raw));
  EXPECT_EQ(raw.size(), payload.raw_bytes);
  pb::WriteRequest request;
  EXPECT_TRUE(request.ParseFromString(raw));
  return request;
}

std::vector<std::pair<std::string, std::string>> labelsOf(const pb::TimeSeries& ts) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& l : ts.labels()) out.emplace_back(l.name(), l.value());
  return out;
}

using kubemetrics::testing::readFile;

// Our bytes are what protobuf itself writes for the message they parse to.
void expectCanonical(const std::string& raw) {
  pb::WriteRequest request;
  ASSERT_TRUE(request.ParseFromString(raw));
  EXPECT_EQ(raw, request.SerializeAsString());
}

TEST(RemoteWriteEncoderTest, GroupsBySeriesSortsByTimeAndMapsNames) {
  RemoteWriteEncoder encoder(
      std::vector<std::pair<std::string, std::string>>{{"cluster", "prod"}, {"replica", "a"}});
  const Labels pod = labelsOf({{"namespace_name", "default"}, {"pod.name", "web-1"}});
  const Labels other = labelsOf({{"namespace_name", "kube-system"}});
  std::vector<Sample> samples = {
      sample("kubernetes.pod.cpu.usage_rate", pod, 3, 3000),
      sample("kubernetes.pod.cpu.usage_rate", other, 9, 1000),
      sample("kubernetes.pod.cpu.usage_rate", pod, 1, 1000),
      sample("kubernetes.pod.cpu.usage_rate", pod, 2, 2000),
      sample("up", labelsOf({{"cluster", "mine"}}), 1, 1000),
  };
  std::size_t dropped = 0;
  auto payload = encoder.encode(samples, &dropped);
  ASSERT_TRUE(payload);
  EXPECT_EQ(dropped, 0u);
  EXPECT_EQ(payload->samples, 5u);
  EXPECT_EQ(payload->content_encoding, "snappy");
  EXPECT_EQ(encoder.contentEncoding(), "snappy");
  const pb::WriteRequest request = decode(*payload);
  ASSERT_EQ(request.timeseries_size(), 3);
  const auto& first = request.timeseries(0);
  EXPECT_EQ(labelsOf(first), (std::vector<std::pair<std::string, std::string>>{
                                 {"__name__", "kubernetes_pod_cpu_usage_rate"},
                                 {"cluster", "prod"},
                                 {"namespace_name", "default"},
                                 {"pod_name", "web-1"},
                                 {"replica", "a"}}));
  ASSERT_EQ(first.samples_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(first.samples(i).timestamp(), 1000 * (i + 1));
    EXPECT_EQ(first.samples(i).value(), i + 1);
  }
  EXPECT_EQ(request.timeseries(1).samples_size(), 1);
  // The series' own label wins over an external label of the same name.
  EXPECT_EQ(labelsOf(request.timeseries(2)),
            (std::vector<std::pair<std::string, std::string>>{
                {"__name__", "up"}, {"cluster", "mine"}, {"replica", "a"}}));
}

TEST(RemoteWriteEncoderTest, RepairsUtf8AndStampsUnstampedSamples) {
  RemoteWriteEncoder encoder;
  std::vector<Sample> samples = {
      sample("m", labelsOf({{"bad", std::string("a\xff") + "b"}, {"__name__", "x"}}), 1, 0)};
  std::size_t dropped = 0;
  auto payload = encoder.encode(samples, &dropped);
  ASSERT_TRUE(payload);
  const auto request = decode(*payload);
  ASSERT_EQ(request.timeseries_size(), 1);
  EXPECT_EQ(labelsOf(request.timeseries(0)),
            (std::vector<std::pair<std::string, std::string>>{{"__name__", "m"},
                                                              {"bad",
                                                               "a\xEF\xBF\xBD"
                                                               "b"}}));
  EXPECT_GT(request.timeseries(0).samples(0).timestamp(), 1700000000000);
  std::string scratch;
  EXPECT_EQ(text::toValidUtf8("héllo", scratch), "héllo");
  EXPECT_EQ(text::toValidUtf8("\xC0\x80", scratch), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
}

TEST(RemoteWriteEncoderTest, MatchesGeneratedSerializationOfFixtures) {
  // The fixtures are real WriteRequests: our schema must parse them, and
  // re-encoding their samples must give the same series and samples back.
  for (const char* name : {"k8s_sample_writerequest.pb", "node_exporter_writerequest.pb"}) {
    SCOPED_TRACE(name);
    pb::WriteRequest original;
    ASSERT_TRUE(
        original.ParseFromString(readFile(std::string(KM_FIXTURES_DIR) + "/remote-write/" + name)));
    ASSERT_GT(original.timeseries_size(), 0);
    std::vector<Sample> samples;
    std::size_t points = 0;
    for (const auto& ts : original.timeseries()) {
      LabelsBuilder b;
      std::string metric;
      for (const auto& l : ts.labels()) {
        if (l.name() == "__name__") {
          metric = l.value();
        } else {
          b.set(l.name(), l.value());
        }
      }
      const Labels labels = b.build();
      for (const auto& s : ts.samples()) {
        samples.push_back(sample(metric, labels, s.value(), s.timestamp()));
        ++points;
      }
    }
    RemoteWriteEncoder encoder;
    std::size_t dropped = 0;
    auto payload = encoder.encode(samples, &dropped);
    ASSERT_TRUE(payload);
    const auto again = decode(*payload);
    std::size_t again_points = 0;
    for (const auto& ts : again.timeseries()) again_points += ts.samples_size();
    EXPECT_EQ(again_points, points);
    // Same series set, labels byte for byte (the fixtures are already valid
    // Prometheus names).
    std::set<std::string> want, got;
    for (const auto& ts : original.timeseries()) {
      auto l = labelsOf(ts);
      std::sort(l.begin(), l.end());
      std::string key;
      // An empty value means "no such label" (Prometheus and Labels agree).
      for (auto& [k, v] : l) {
        if (!v.empty()) key += k + "=" + v + ",";
      }
      want.insert(key);
    }
    for (const auto& ts : again.timeseries()) {
      std::string key;
      auto l = labelsOf(ts);
      EXPECT_TRUE(std::is_sorted(l.begin(), l.end()));
      for (auto& [k, v] : l) key += k + "=" + v + ",";
      got.insert(key);
    }
    EXPECT_EQ(got, want);
    // Our hand-written wire bytes equal protobuf's own serialization.
    EXPECT_EQ(encoder.serializeForTest(samples), again.SerializeAsString());
    // Appended in one call (one send() into a batch): the same bytes.
    std::string raw;
    encoder.append(samples, raw, &dropped);
    EXPECT_EQ(raw, again.SerializeAsString());
    auto compressed = encoder.compress(raw, samples.size());
    ASSERT_TRUE(compressed);
    EXPECT_EQ(compressed->samples, samples.size());
    EXPECT_EQ(compressed->raw_bytes, raw.size());
    EXPECT_EQ(compressed->body, payload->body);
    EXPECT_EQ(dropped, 0u);
  }
}

// append() groups each call's samples by series, in time order, as
// encode() does; a series that comes back in a later call (a later send()
// into the same batch) is a TimeSeries of its own, after the first.
TEST(RemoteWriteEncoderTest, AppendGroupsEachCallsSamplesBySeries) {
  RemoteWriteEncoder encoder(std::vector<std::pair<std::string, std::string>>{{"cluster", "c"}});
  const Labels pod = labelsOf({{"pod", "web-1"}});
  const Labels other = labelsOf({{"pod", "web-2"}});
  const std::vector<Sample> first_send = {
      sample("m", pod, 3, 3000),
      sample("m", other, 9, 500),
      sample("m", pod, 1, 1000),
      sample("m", pod, 2, 2000),
  };
  const std::vector<Sample> second_send = {sample("m", pod, 4, 4000)};
  std::string raw;
  std::size_t dropped = 0;
  encoder.append(first_send, raw, &dropped);
  EXPECT_EQ(raw, encoder.serializeForTest(first_send));
  encoder.append(second_send, raw, &dropped);
  expectCanonical(raw);
  auto payload = encoder.compress(raw, 5);
  ASSERT_TRUE(payload);
  EXPECT_EQ(payload->samples, 5u);
  const pb::WriteRequest request = decode(*payload);
  ASSERT_EQ(request.timeseries_size(), 3);
  const auto& grouped = request.timeseries(0);
  EXPECT_EQ(labelsOf(grouped), (std::vector<std::pair<std::string, std::string>>{
                                   {"__name__", "m"}, {"cluster", "c"}, {"pod", "web-1"}}));
  ASSERT_EQ(grouped.samples_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(grouped.samples(i).timestamp(), 1000 * (i + 1));
    EXPECT_EQ(grouped.samples(i).value(), i + 1);
  }
  EXPECT_EQ(labelsOf(request.timeseries(1)).back().second, "web-2");
  EXPECT_EQ(request.timeseries(1).samples(0).timestamp(), 500);
  EXPECT_EQ(labelsOf(request.timeseries(2)), labelsOf(grouped));
  ASSERT_EQ(request.timeseries(2).samples_size(), 1);
  EXPECT_EQ(request.timeseries(2).samples(0).timestamp(), 4000);
  EXPECT_EQ(dropped, 0u);
}

TEST(RemoteWriteEncoderTest, EdgeCasesMatchProtobufSerialization) {
  // External labels: one clashing with a series label, one sorting before
  // __name__ (upper case), one trying to be __name__, two mapping to one.
  RemoteWriteEncoder encoder(std::vector<std::pair<std::string, std::string>>{
      {"pod", "external"}, {"Zone", "z1"}, {"__name__", "nope"}, {"e.x", "1"}, {"e_x", "2"}});
  const std::string long_value(300, 'v');    // 2-byte length varint
  const std::string huge_value(20000, 'w');  // 3-byte length varint
  std::string bad_late(40, 'a');
  bad_late[37] = '\xff';  // invalid byte in the last word of the ASCII check
  const Labels clash = labelsOf({{"pod", "mine"}, {"a.b", "dot"}, {"a_b", "underscore"}});
  // "a-z" < "a0" as given, but mapped "a0" < "a_z": mapping reorders.
  const Labels reorder = labelsOf({{"a-z", "1"}, {"a0", "2"}, {"0lead", "3"}, {"Upper", "4"}});
  const Labels utf8 = labelsOf({{"ok", "h\xC3\xA9llo w\xC3\xB6rld \xE6\x97\xA5\xE6\x9C\xAC"},
                                {"emoji", "\xF0\x9F\x98\x80"},
                                {"bad", bad_late},
                                {"truncated", "abc\xE6\x97"},
                                {"surrogate", "\xED\xA0\x80"},
                                {"toobig", "\xF4\x90\x80\x80"},
                                {"lone", "\x80"}});
  const Labels sizes = labelsOf({{"long", long_value}, {"huge", huge_value}});
  std::vector<Sample> samples = {
      sample("multi.sample", clash, 3, 3000),
      sample("multi.sample", clash, 0.0, 1000),   // zero value: field left out
      sample("multi.sample", clash, -0.0, 2000),  // -0.0 is not the default
      sample("reorder", reorder, std::numeric_limits<double>::quiet_NaN(), -5),
      sample("utf8", utf8, std::numeric_limits<double>::infinity(), 1),
      sample("sizes", sizes, 1e300, std::numeric_limits<std::int64_t>::max()),
      sample("renamed", labelsOf({{"__name__", "other"}, {"x", "y"}}), 1, 0),  // stamped
      sample("multi.sample", clash, 4, 1000),  // equal timestamps keep their order
  };
  const std::string raw = encoder.serializeForTest(samples);
  expectCanonical(raw);
  pb::WriteRequest request;
  ASSERT_TRUE(request.ParseFromString(raw));
  ASSERT_EQ(request.timeseries_size(), 5);

  const auto& multi = request.timeseries(0);
  EXPECT_EQ(labelsOf(multi),
            (std::vector<std::pair<std::string, std::string>>{{"Zone", "z1"},
                                                              {"__name__", "multi_sample"},
                                                              {"a_b", "dot"},
                                                              {"e_x", "1"},
                                                              {"pod", "mine"}}));
  ASSERT_EQ(multi.samples_size(), 4);
  EXPECT_EQ(multi.samples(0).timestamp(), 1000);
  EXPECT_EQ(multi.samples(0).value(), 0.0);
  EXPECT_EQ(multi.samples(1).timestamp(), 1000);
  EXPECT_EQ(multi.samples(1).value(), 4);
  EXPECT_EQ(multi.samples(2).timestamp(), 2000);
  EXPECT_TRUE(std::signbit(multi.samples(2).value()));
  EXPECT_EQ(multi.samples(3).value(), 3);

  EXPECT_EQ(labelsOf(request.timeseries(1)),
            (std::vector<std::pair<std::string, std::string>>{{"Upper", "4"},
                                                              {"Zone", "z1"},
                                                              {"_0lead", "3"},
                                                              {"__name__", "reorder"},
                                                              {"a0", "2"},
                                                              {"a_z", "1"},
                                                              {"e_x", "1"},
                                                              {"pod", "external"}}));
  EXPECT_TRUE(std::isnan(request.timeseries(1).samples(0).value()));
  EXPECT_EQ(request.timeseries(1).samples(0).timestamp(), -5);

  std::map<std::string, std::string> values;
  for (const auto& l : request.timeseries(2).labels()) values[l.name()] = l.value();
  std::string bad_fixed = bad_late.substr(0, 37) + "\xEF\xBF\xBD" + bad_late.substr(38);
  EXPECT_EQ(values["ok"], "h\xC3\xA9llo w\xC3\xB6rld \xE6\x97\xA5\xE6\x9C\xAC");
  EXPECT_EQ(values["emoji"], "\xF0\x9F\x98\x80");
  EXPECT_EQ(values["bad"], bad_fixed);
  EXPECT_EQ(values["truncated"], "abc\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(values["surrogate"], "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(values["toobig"], "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(values["lone"], "\xEF\xBF\xBD");

  std::map<std::string, std::string> big;
  for (const auto& l : request.timeseries(3).labels()) big[l.name()] = l.value();
  EXPECT_EQ(big["long"], long_value);
  EXPECT_EQ(big["huge"], huge_value);
  EXPECT_EQ(request.timeseries(3).samples(0).timestamp(), std::numeric_limits<std::int64_t>::max());

  // A label named __name__ never replaces the metric name.
  const auto& renamed = request.timeseries(4);
  EXPECT_EQ(
      labelsOf(renamed),
      (std::vector<std::pair<std::string, std::string>>{
          {"Zone", "z1"}, {"__name__", "renamed"}, {"e_x", "1"}, {"pod", "external"}, {"x", "y"}}));
  EXPECT_GT(renamed.samples(0).timestamp(), 1700000000000);

  // Encoding again reuses every scratch buffer and gives the same bytes
  // (up to the stamped timestamp: leave that sample out).
  samples.erase(samples.begin() + 6);
  const std::string first = encoder.serializeForTest(samples);
  EXPECT_EQ(encoder.serializeForTest(samples), first);
  // An empty batch is an empty WriteRequest.
  EXPECT_EQ(encoder.serializeForTest({}), "");
  std::size_t dropped = 0;
  auto empty = encoder.encode({}, &dropped);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->raw_bytes, 0u);
  EXPECT_EQ(decode(*empty).timeseries_size(), 0);
}

TEST(RemoteWriteEncoderTest, ValidUtf8AsciiFastPathAtEveryOffset) {
  std::string scratch;
  for (std::size_t n = 0; n <= 24; ++n) {
    const std::string ascii(n, 'x');
    EXPECT_EQ(text::toValidUtf8(ascii, scratch).data(), ascii.data()) << n;
    for (std::size_t at = 0; at < n; ++at) {
      SCOPED_TRACE(::testing::Message() << "n=" << n << " at=" << at);
      std::string bad = ascii;
      bad[at] = '\xfe';
      EXPECT_EQ(text::toValidUtf8(bad, scratch),
                ascii.substr(0, at) + "\xEF\xBF\xBD" + ascii.substr(at + 1));
      if (at + 2 <= n) {  // a valid two-byte sequence is kept as it is
        std::string good = ascii;
        good[at] = '\xC3';
        good[at + 1] = '\xA9';
        EXPECT_EQ(text::toValidUtf8(good, scratch).data(), good.data());
      }
    }
  }
}

TEST(RemoteWriteEncoderTest, GroupsLargeInterleavedBatchesAcrossCalls) {
  // Many series, each sample of a series far from the previous one, and
  // batch sizes that shrink and grow between calls (the series index is
  // resized and reused).
  std::vector<Labels> labels;
  for (int i = 0; i < 3000; ++i) labels.push_back(labelsOf({{"i", std::to_string(i)}}));
  RemoteWriteEncoder encoder;
  for (const std::size_t series : {3000u, 10u, 1500u, 3000u}) {
    SCOPED_TRACE(series);
    std::vector<Sample> samples;
    for (int round = 3; round > 0; --round) {
      for (std::size_t i = 0; i < series; ++i) {
        samples.push_back(sample(i % 2 ? "odd" : "even", labels[i], round, round * 1000));
      }
    }
    const std::string raw = encoder.serializeForTest(samples);
    expectCanonical(raw);
    pb::WriteRequest request;
    ASSERT_TRUE(request.ParseFromString(raw));
    ASSERT_EQ(request.timeseries_size(), static_cast<int>(series));
    for (std::size_t i = 0; i < series; ++i) {
      const auto& ts = request.timeseries(static_cast<int>(i));
      ASSERT_EQ(ts.samples_size(), 3);
      EXPECT_EQ(ts.labels(1).value(), std::to_string(i));
      for (int k = 0; k < 3; ++k) {
        EXPECT_EQ(ts.samples(k).timestamp(), (k + 1) * 1000);
        EXPECT_EQ(ts.samples(k).value(), k + 1);
      }
    }
  }
}

TEST(RemoteWriteEncoderTest, PayloadBodyHoldsNoSlack) {
  // A queued payload must not keep the compressor's worst-case buffer
  // (~1.17x the uncompressed size for snappy) while its content is a
  // fraction of it.
  std::vector<Sample> samples;
  for (int i = 0; i < 20000; ++i) {
    samples.push_back(sample("kube_pod_info",
                             labelsOf({{"namespace", "team-" + std::to_string(i % 40)},
                                       {"pod", "web-" + std::to_string(i) + "-7d9f8c6b5"},
                                       {"node", "ip-10-0-3-" + std::to_string(i % 50)}}),
                             1, 1764000000000));
  }
  for (const char* compression : {"snappy", "zstd", "gzip", ""}) {
    SCOPED_TRACE(compression);
    RemoteWriteEncoder encoder({}, compression);
    const std::string raw = encoder.serializeForTest(samples);
    for (int call = 0; call < 2; ++call) {  // fresh, then with warm scratch buffers
      std::size_t dropped = 0;
      auto payload = encoder.encode(samples, &dropped);
      ASSERT_TRUE(payload);
      const std::string& body = payload->body;
      EXPECT_EQ(payload->raw_bytes, raw.size());
      EXPECT_LE(body.capacity(), body.size() + body.size() / 8 + 64);
      if (std::strcmp(compression, "") != 0) {
        EXPECT_LT(body.size(), raw.size() / 4);
      }
      std::string back;
      if (std::strcmp(compression, "snappy") == 0) {
        ASSERT_TRUE(snappy::Uncompress(body.data(), body.size(), &back));
      } else if (std::strcmp(compression, "zstd") == 0) {
        back = push::zstdDecompress(body).value();
      } else if (std::strcmp(compression, "gzip") == 0) {
        back = push::gzipDecompress(body).value();
      } else {
        back = body;
      }
      EXPECT_EQ(back, raw);
    }
  }
}

TEST(RemoteWriteConfigTest, ParsesAndValidates) {
  auto doc = ConfigDocument::parse(R"yaml(
exporters:
  remote_write:
    enabled: true
    url: "ftp://x"
    batch: {max_samples: 0, max_wait: 1s}
    basic_auth: {username: u}
    bearer_token_file: /t
    external_labels: {"bad-name": v, ok: "1"}
    retry: {initial_backoff: 1s, max_backoff: 100ms}
    tls: {insecure_skip_verify: true}
    bogus: 1
)yaml",
                                   "test");
  ConfigNode root = doc->root();
  ConfigNode exporters = root.child("exporters");
  ConfigNode node = exporters.child("remote_write");
  RemoteWriteConfig config = parseConfig(node);
  std::set<std::string> paths;
  for (const auto& e : doc->errors()) paths.insert(e.path);
  EXPECT_TRUE(paths.count("exporters.remote_write.url"));
  EXPECT_TRUE(paths.count("exporters.remote_write.batch.max_samples"));
  EXPECT_TRUE(paths.count("exporters.remote_write.basic_auth.password_file"));
  EXPECT_TRUE(paths.count("exporters.remote_write.bearer_token_file"));
  EXPECT_TRUE(paths.count("exporters.remote_write.external_labels.bad-name"));
  EXPECT_TRUE(paths.count("exporters.remote_write.retry.max_backoff"));
  EXPECT_TRUE(paths.count("exporters.remote_write.bogus"));
  EXPECT_FALSE(paths.count("exporters.remote_write.external_labels.ok"));
  EXPECT_TRUE(config.tls.insecure_skip_verify);

  auto good = ConfigDocument::parse("exporters: {remote_write: {enabled: true}}", "test");
  ConfigNode groot = good->root();
  ConfigNode gexp = groot.child("exporters");
  ConfigNode gnode = gexp.child("remote_write");
  RemoteWriteConfig defaults = parseConfig(gnode);
  for (const auto& e : good->errors()) ADD_FAILURE() << e.toString();
  EXPECT_EQ(defaults.url, "http://prometheus:9090/api/v1/write");
  EXPECT_EQ(defaults.push.batch.max_samples, 10000u);
}

}  // namespace
}  // namespace kubemetrics::exporters::remote_write
