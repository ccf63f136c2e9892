// The remote-write listener on loopback in front of a recording sink, fed
// by the agent's own remote-write encoder: what a sender gets back for each
// kind of request, per the remote write 1.0 specification
// (prometheus.io/docs/specs/remote_write_spec/: snappy, protobuf
// WriteRequest, version header 0.1.0; 2xx stored, 4xx not retried, 5xx
// retried), the samples that come out, back-pressure, tokens and the
// sender pod's tags.

#include "scrapers/listeners/remote_write_listener.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <bit>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "exporters/remote_write/remote_write_encoder.h"
#include "support/fake_kube_metadata.h"
#include "support/recording_sink.h"
#include "support/registry_value.h"

namespace kubemetrics::scrapers::listeners {
namespace {

using testing::RecordingSink;
using testing::registryValue;

Sample sample(std::string_view name,
              std::initializer_list<std::pair<const char*, const char*>> tags, double value,
              std::int64_t timestamp_ms) {
  LabelsBuilder builder;
  for (const auto& [key, tag_value] : tags) builder.set(key, tag_value);
  return Sample{Symbol::intern(name), builder.build(), value, timestamp_ms};
}

std::string writeRequest(const std::vector<Sample>& samples) {
  exporters::remote_write::RemoteWriteEncoder encoder;
  std::size_t dropped = 0;
  auto payload = encoder.encode(samples, &dropped);
  EXPECT_TRUE(payload);
  return payload ? payload->body : std::string();
}

class RemoteWriteListenerTest : public ::testing::Test {
 protected:
  void start(RemoteWriteListenerConfig config = {}, const KubeMetadata* kube = nullptr,
             const AgentTags* tags = nullptr) {
    config.enabled = true;
    config.listen = "127.0.0.1:0";
    auto auth = RequestAuth::create({config.token_file, config.basic_auth}, "listener");
    ASSERT_TRUE(auth);
    listener_ =
        std::make_unique<RemoteWriteListener>(config, registry_, std::move(*auth), kube, tags);
    ASSERT_TRUE(listener_->start(sink_));
  }
  // Loopback is the address of this node's pod monitoring/prometheus-0.
  void startAsSenderPod(const AgentTags* tags = nullptr) {
    KubePod pod;
    pod.namespace_name = "monitoring";
    pod.name = "prometheus-0";
    pod.pod_ip = "127.0.0.1";
    kube_.setPod(pod);
    kube_.setSynced(true);
    start({}, &kube_, tags);
  }
  /// Starts the listener as the sender pod's with `tags`, posts one series
  /// and expects the tags left to the pipeline: the sample (in the sink)
  /// lacks `cluster`, the batch is not stamped.
  void postOneSeriesExpectingNoTags(const AgentTags& tags) {
    startAsSenderPod(&tags);
    auto answer = post(writeRequest({sample("own", {{"job", "p"}}, 1, 1000)}));
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 204);
    ASSERT_EQ(sink_.samples().size(), 1u);
    EXPECT_FALSE(sink_.samples()[0].labels.contains("cluster"));
    EXPECT_EQ(sink_.tagsVersions(), (std::vector<std::uint64_t>{0}));
  }

  httplib::Result post(const std::string& body,
                       httplib::Headers headers = {
                           {"Content-Encoding", "snappy"},
                           {"X-Prometheus-Remote-Write-Version", "0.1.0"}}) {
    httplib::Client client("127.0.0.1", listener_->port());
    return client.Post("/api/v1/write", headers, body, "application/x-protobuf");
  }
  double refused(const std::string& reason) {
    return registryValue(registry_, "kubemetrics_listener_refused_requests_total",
                         {{"listener", "remote_write"}, {"reason", reason}});
  }

  prometheus::Registry registry_;
  RecordingSink sink_;
  testing::FakeKubeMetadata kube_;
  std::unique_ptr<RemoteWriteListener> listener_;
};

TEST_F(RemoteWriteListenerTest, AWriteRequestBecomesSamplesBitForBit) {
  start();
  const std::vector<Sample> sent = {
      sample("http_requests_total", {{"job", "api"}, {"code", "200"}}, 1027, 1700000000000),
      sample("http_requests_total", {{"job", "api"}, {"code", "200"}}, 1030, 1700000015000),
      sample("up", {{"job", "api"}}, kStaleNaN, 1700000015000),
  };
  auto answer = post(writeRequest(sent));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 204);
  const auto got = sink_.samples();
  ASSERT_EQ(got.size(), 3u);
  // The encoder groups by series, so the order may differ; each sent sample
  // must come out once, identical.
  for (const Sample& want : sent) {
    const auto same = std::count_if(got.begin(), got.end(), [&](const Sample& s) {
      return s.name == want.name && s.labels == want.labels &&
             s.timestamp_ms == want.timestamp_ms &&
             std::bit_cast<std::uint64_t>(s.value) == std::bit_cast<std::uint64_t>(want.value);
    });
    EXPECT_EQ(same, 1) << want.name.view() << " at " << want.timestamp_ms;
  }
  EXPECT_EQ(registryValue(registry_, "kubemetrics_listener_received_samples_total",
                          {{"listener", "remote_write"}}),
            3);
}

TEST_F(RemoteWriteListenerTest, RequestsThatCannotBeTakenGetTheRightStatus) {
  RemoteWriteListenerConfig config;
  config.max_samples_per_request = 2;
  config.max_request_body = 64 * 1024;
  start(config);
  const std::string body = writeRequest({sample("a", {}, 1, 1000)});

  auto garbage = post("this is not snappy");
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->status, 400);  // the sender drops it: retrying cannot help
  auto gzip = post(body, {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(gzip);
  EXPECT_EQ(gzip->status, 415);
  auto v2 =
      post(body, {{"Content-Encoding", "snappy"}, {"X-Prometheus-Remote-Write-Version", "2.0.0"}});
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->status, 400);
  auto three = post(
      writeRequest({sample("a", {}, 1, 1000), sample("b", {}, 1, 1000), sample("c", {}, 1, 1000)}));
  ASSERT_TRUE(three);
  EXPECT_EQ(three->status, 413);  // over max_samples_per_request
  auto huge = post(std::string(128 * 1024, 'x'));
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);  // over max_request_body, refused by the server
  httplib::Client client("127.0.0.1", listener_->port());
  auto get = client.Get("/api/v1/write");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  EXPECT_TRUE(sink_.samples().empty());
  EXPECT_EQ(refused("bad_request"), 2);  // garbage, GET
  EXPECT_EQ(refused("unsupported"), 2);  // gzip, version 2
  // Only the sample count: the server refuses a body over the limit before
  // the listener sees it (kubemetrics_http_requests_total counts that 413).
  EXPECT_EQ(refused("too_large"), 1);

  // A missing version header is accepted (older senders).
  auto fine = post(body, {{"Content-Encoding", "snappy"}});
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->status, 204);
}

TEST_F(RemoteWriteListenerTest, AFullPipelineAnswers503WithRetryAfterAndLosesNothing) {
  start();
  sink_.refuse(true);
  const std::string body = writeRequest({sample("queued", {{"a", "b"}}, 5, 1000)});
  auto refused_answer = post(body);
  ASSERT_TRUE(refused_answer);
  EXPECT_EQ(refused_answer->status, 503);
  EXPECT_EQ(refused_answer->get_header_value("Retry-After"), "1");
  EXPECT_TRUE(sink_.samples().empty());
  sink_.refuse(false);
  auto retried = post(body);  // what the sender does
  ASSERT_TRUE(retried);
  EXPECT_EQ(retried->status, 204);
  ASSERT_EQ(sink_.samples().size(), 1u);
  EXPECT_EQ(refused("pipeline_full"), 1);
}

TEST_F(RemoteWriteListenerTest, ATokenFileGuardsTheEndpoint) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("km-rw-token-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "token") << "abc123\n";
  RemoteWriteListenerConfig config;
  config.token_file = (dir / "token").string();
  start(config);
  const std::string body = writeRequest({sample("a", {}, 1, 1000)});
  auto missing = post(body);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(missing->get_header_value("WWW-Authenticate"), "Bearer");
  auto right = post(body, {{"Content-Encoding", "snappy"}, {"Authorization", "Bearer abc123"}});
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 204);
  EXPECT_EQ(refused("unauthorized"), 1);
  EXPECT_EQ(sink_.samples().size(), 1u);
  std::filesystem::remove_all(dir);
}

TEST_F(RemoteWriteListenerTest, SamplesOfAPodOfThisNodeGetItsNamespaceAndName) {
  startAsSenderPod();
  auto answer =
      post(writeRequest({sample("own", {{"job", "p"}}, 1, 1000),
                         sample("others", {{"namespace", "shop"}, {"pod", "web-1"}}, 2, 1000)}));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 204);
  const auto got = sink_.samples();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].labels.get("namespace"), "monitoring");
  EXPECT_EQ(got[0].labels.get("pod"), "prometheus-0");
  // A series about another pod keeps its own tags.
  EXPECT_EQ(got[1].labels.get("namespace"), "shop");
  EXPECT_EQ(got[1].labels.get("pod"), "web-1");
}

TEST_F(RemoteWriteListenerTest, TheListenerAddsTheAgentsTagsAndStampsTheirVersion) {
  const AgentTags tags({{"cluster", "prod"}, {"node", "n1"}});
  startAsSenderPod(&tags);
  const std::string body = writeRequest(
      {sample("own", {{"job", "p"}}, 1, 1000), sample("named", {{"cluster", "other"}}, 2, 1000)});
  // The second request's series come from the listener's cache, tagged.
  for (int request = 0; request < 2; ++request) {
    auto answer = post(body);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 204);
  }
  const auto got = sink_.samples();
  ASSERT_EQ(got.size(), 4u);
  for (std::size_t i = 0; i < got.size(); ++i) {
    const std::string_view cluster = got[i].name.view() == "own" ? "prod" : "other";
    EXPECT_EQ(got[i].labels.get("cluster"), cluster) << i;
    EXPECT_EQ(got[i].labels.get("node"), "n1") << i;
    EXPECT_EQ(got[i].labels.get("namespace"), "monitoring") << i;
    EXPECT_EQ(got[i].labels.get("pod"), "prometheus-0") << i;
  }
  // So the pipeline's Tagger leaves these batches alone.
  EXPECT_EQ(sink_.tagsVersions(), (std::vector<std::uint64_t>{tags.version(), tags.version()}));
}

TEST_F(RemoteWriteListenerTest, TagsNamingAPodAreLeftToThePipeline) {
  // The sender pod's own `pod` must win over a static `pod` tag, as when the
  // Tagger runs after the listener: the listener does not add such tags.
  const AgentTags tags({{"cluster", "prod"}, {"pod", "static"}});
  ASSERT_NO_FATAL_FAILURE(postOneSeriesExpectingNoTags(tags));
  EXPECT_EQ(sink_.samples()[0].labels.get("pod"), "prometheus-0");
}

TEST_F(RemoteWriteListenerTest, PipelineOnlyTagsAreLeftToThePipeline) {
  // A static `phase` with enrichment on: the pod's phase, added by the
  // pipeline's Enricher before the Tagger, must win over it.
  const AgentTags tags({{"cluster", "prod"}, {"phase", "unknown"}}, nullptr,
                       [](std::string_view name) { return name == "phase"; });
  ASSERT_NO_FATAL_FAILURE(postOneSeriesExpectingNoTags(tags));
  EXPECT_FALSE(sink_.samples()[0].labels.contains("phase"));
}

}  // namespace
}  // namespace kubemetrics::scrapers::listeners
