#include "exporters/remote_write/remote_write_encoder.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config_node.h"
#include "exporters/remote_write/config.h"
#include "remote_write/remote_write.pb.h"

namespace kubemetrics::remote_write {
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

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
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
  EXPECT_EQ(validUtf8("héllo", scratch), "héllo");
  EXPECT_EQ(validUtf8("\xC0\x80", scratch), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
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
}  // namespace kubemetrics::remote_write
