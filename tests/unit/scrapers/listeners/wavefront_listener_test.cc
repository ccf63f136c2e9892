// The Wavefront listener on loopback, in front of a recording sink: TCP
// lines and HTTP POST /report on one port, as the Wavefront proxy serves
// 2878 (docs.wavefront.com/proxies_direct_ingestion.html for /report),
// rejected lines counted by reason, the sender's pod found by address,
// back-pressure and tokens.

#include "scrapers/listeners/wavefront_listener.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/compression/compression.h"
#include "support/fake_kube_metadata.h"
#include "support/loopback.h"
#include "support/recording_sink.h"
#include "support/registry_value.h"

namespace kubemetrics::scrapers::listeners {
namespace {

using namespace std::chrono_literals;
using testing::RecordingSink;
using testing::registryValue;

/// "name value source k=v ..." of a sample, labels in order, for comparing.
std::string describe(const Sample& sample) {
  std::string out = std::string(sample.name.view()) + " " + std::to_string(sample.value);
  for (const Label& label : sample.labels) {
    out += " " + std::string(label.name.view()) + "=" + std::string(label.value.view());
  }
  return out;
}

class WavefrontListenerTest : public ::testing::Test {
 protected:
  void start(WavefrontListenerConfig config = {}, const KubeMetadata* kube = nullptr) {
    config.enabled = true;
    config.listen = "127.0.0.1:0";
    auto auth = RequestAuth::create({config.token_file, config.basic_auth}, "listener");
    ASSERT_TRUE(auth);
    listener_ = std::make_unique<WavefrontListener>(config, registry_, std::move(*auth), kube,
                                                    systemClock());
    ASSERT_TRUE(listener_->start(sink_));
  }
  int connect() { return testing::connectToLoopback(listener_->port()); }
  httplib::Result post(const std::string& body, const std::string& encoding = "",
                       const std::string& token = "") {
    httplib::Client client("127.0.0.1", listener_->port());
    httplib::Headers headers;
    if (!encoding.empty()) headers.emplace("Content-Encoding", encoding);
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return client.Post("/report?f=wavefront", headers, body, "text/plain");
  }
  double rejected(const std::string& reason) {
    return registryValue(registry_, "kubemetrics_listener_rejected_total",
                         {{"listener", "wavefront"}, {"reason", reason}});
  }

  prometheus::Registry registry_;
  RecordingSink sink_;
  std::unique_ptr<WavefrontListener> listener_;
};

TEST_F(WavefrontListenerTest, TcpLinesBecomeSamplesAndBadLinesAreCountedAlone) {
  start();
  const int fd = connect();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::sendAll(fd,
                               "cpu.load 0.5 1700000000 source=web-1 env=prod\n"
                               "\"quoted/name,x\" 2 source=\"a b\" \"tag.key\"=\"v \\\"q\\\"\"\n"
                               "no.value source=x\n"
                               "bad.number abc source=x\n"
                               "unterminated 1 source=\"x\n"
                               "last.one 3 1700000000123 host=h1\n"));
  ASSERT_TRUE(sink_.waitForSamples(3));
  ::close(fd);
  const auto samples = sink_.samples();
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(describe(samples[0]), "cpu.load 0.500000 env=prod source=web-1");
  EXPECT_EQ(samples[0].timestamp_ms, 1700000000000);
  EXPECT_EQ(describe(samples[1]), "quoted/name,x 2.000000 source=a b tag.key=v \"q\"");
  EXPECT_EQ(describe(samples[2]), "last.one 3.000000 source=h1");
  EXPECT_EQ(samples[2].timestamp_ms, 1700000000123);
  EXPECT_EQ(rejected("missing_value"), 1);
  EXPECT_EQ(rejected("bad_value"), 1);
  EXPECT_EQ(rejected("unterminated_quote"), 1);
  // Counted once the sink took the batch, so after the samples are there.
  auto received = [&] {
    return registryValue(registry_, "kubemetrics_listener_received_samples_total",
                         {{"listener", "wavefront"}});
  };
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (received() != 3 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_EQ(received(), 3);
}

TEST_F(WavefrontListenerTest, OverlongLinesAndTooManyTagsAreRejected) {
  WavefrontListenerConfig config;
  config.max_line_bytes = 100;
  config.max_tags = 2;
  start(config);
  const int fd = connect();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::sendAll(fd, "long 1 source=x t=" + std::string(200, 'v') +
                                       "\nmany 1 source=x a=1 b=2 c=3\nok 1 source=x a=1 b=2\n"));
  ASSERT_TRUE(sink_.waitForSamples(1));
  ::close(fd);
  EXPECT_EQ(describe(sink_.samples().at(0)), "ok 1.000000 a=1 b=2 source=x");
  EXPECT_EQ(rejected("line_too_long"), 1);
  EXPECT_EQ(rejected("too_many_tags"), 1);
}

TEST_F(WavefrontListenerTest, ALineWithoutSourceGetsTheSendingPod) {
  testing::FakeKubeMetadata kube;
  KubePod pod;
  pod.namespace_name = "shop";
  pod.name = "checkout-7d4b9";
  pod.pod_ip = "127.0.0.1";  // the test's own address: it is the pod
  kube.setPod(pod);
  kube.setSynced(true);
  start({}, &kube);
  const int fd = connect();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::sendAll(fd, "orders.count 7\norders.failed 1 source=explicit\n"));
  ASSERT_TRUE(sink_.waitForSamples(2));
  ::close(fd);
  const auto samples = sink_.samples();
  EXPECT_EQ(describe(samples[0]),
            "orders.count 7.000000 namespace=shop pod=checkout-7d4b9 source=checkout-7d4b9");
  EXPECT_EQ(describe(samples[1]),
            "orders.failed 1.000000 namespace=shop pod=checkout-7d4b9 source=explicit");
}

TEST_F(WavefrontListenerTest, WithoutAPodTheSourceIsTheSendersAddress) {
  start();
  auto answer = post("orders.count 7\n");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 202);
  ASSERT_TRUE(sink_.waitForSamples(1));
  EXPECT_EQ(describe(sink_.samples().at(0)), "orders.count 7.000000 source=127.0.0.1");
}

TEST_F(WavefrontListenerTest, ReportTakesPlainGzipAndZstdBodies) {
  start();
  const std::string body = "a.b 1 source=x\nbroken\na.c 2 source=x\n";
  auto plain = post(body);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 202);
  EXPECT_EQ(plain->body, "accepted 2 points\n");
  auto gzip = post(*push::gzipCompress(body), "gzip");
  ASSERT_TRUE(gzip);
  EXPECT_EQ(gzip->status, 202);
  auto zstd = post(*push::zstdCompress(body), "zstd");
  ASSERT_TRUE(zstd);
  EXPECT_EQ(zstd->status, 202);
  EXPECT_EQ(sink_.samples().size(), 6u);
  EXPECT_EQ(rejected("missing_value"), 3);

  auto unknown = post(body, "br");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400);
  auto corrupt = post("not gzip at all", "gzip");
  ASSERT_TRUE(corrupt);
  EXPECT_EQ(corrupt->status, 400);
  httplib::Client client("127.0.0.1", listener_->port());
  auto histogram = client.Post("/report?f=histogram", "!M 1 #1 2.0 h source=x\n", "text/plain");
  ASSERT_TRUE(histogram);
  EXPECT_EQ(histogram->status, 400);
  EXPECT_EQ(sink_.samples().size(), 6u);
}

TEST_F(WavefrontListenerTest, ACompressedBodyDecodesToAtMostMaxRequestBody) {
  WavefrontListenerConfig config;
  config.max_request_body = 64 * 1024;
  start(config);
  // Valid lines that fit once decoded go through...
  std::string fits;
  while (fits.size() < 60 * 1024) fits += "a.b 1 source=x\n";
  auto ok = post(*push::gzipCompress(fits), "gzip");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 202);
  // ... a small body that decodes beyond it (a compression bomb in small:
  // 512 KiB of one line repeated, a few KiB compressed; the limit was once
  // 16 times max_request_body) is refused, gzip and zstd alike, and nothing
  // of it is forwarded.
  std::string bomb;
  while (bomb.size() < (512u << 10)) bomb += "a.b 1 source=x\n";
  const std::string gzip_bomb = *push::gzipCompress(bomb);
  ASSERT_LT(gzip_bomb.size(), config.max_request_body);
  const std::size_t forwarded = sink_.samples().size();
  auto gzip = post(gzip_bomb, "gzip");
  ASSERT_TRUE(gzip);
  EXPECT_EQ(gzip->status, 413);
  auto zstd = post(*push::zstdCompress(bomb), "zstd");
  ASSERT_TRUE(zstd);
  EXPECT_EQ(zstd->status, 413);
  EXPECT_EQ(sink_.samples().size(), forwarded);
  EXPECT_EQ(registryValue(registry_, "kubemetrics_listener_refused_requests_total",
                          {{"listener", "wavefront"}, {"reason", "too_large"}}),
            2);
}

TEST_F(WavefrontListenerTest, AFullPipelineHoldsTcpLinesAndAnswers503OverHttp) {
  start();
  sink_.refuse(true);
  auto refused = post("a.b 1 source=x\n");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");

  const int fd = connect();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::sendAll(fd, "held.one 1 source=x\n"));
  const int offers = sink_.offers();
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (sink_.offers() < offers + 3 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_TRUE(testing::sendAll(fd, "held.two 2 source=x\n"));
  EXPECT_TRUE(sink_.samples().empty());
  sink_.refuse(false);
  ASSERT_TRUE(sink_.waitForSamples(2));
  ::close(fd);
  std::this_thread::sleep_for(50ms);  // nothing more, no duplicate
  const auto samples = sink_.samples();
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].name.view(), "held.one");
  EXPECT_EQ(samples[1].name.view(), "held.two");
  EXPECT_EQ(registryValue(registry_, "kubemetrics_listener_refused_requests_total",
                          {{"listener", "wavefront"}, {"reason", "pipeline_full"}}),
            1);
}

TEST_F(WavefrontListenerTest, ADisconnectInsideALineLosesOnlyThatLine) {
  start();
  const int fd = connect();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::sendAll(fd, "kept 1 source=x\ncut 2 sou"));
  ::close(fd);
  ASSERT_TRUE(sink_.waitForSamples(1));
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (registryValue(registry_, "kubemetrics_listener_lost_lines_total",
                       {{"listener", "wavefront"}, {"reason", "truncated"}}) != 1 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_EQ(registryValue(registry_, "kubemetrics_listener_lost_lines_total",
                          {{"listener", "wavefront"}, {"reason", "truncated"}}),
            1);
  EXPECT_EQ(sink_.samples().size(), 1u);
}

TEST_F(WavefrontListenerTest, ATokenFileGuardsReportAndRefusesPlainTcp) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("km-wf-token-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "token") << "s3cret\n";
  WavefrontListenerConfig config;
  config.token_file = (dir / "token").string();
  start(config);

  auto missing = post("a.b 1 source=x\n");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  auto wrong = post("a.b 1 source=x\n", "", "guess");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto right = post("a.b 1 source=x\n", "", "s3cret");
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 202);
  // Rotated: the new token works, the old one no longer does.
  std::ofstream(dir / "token.new") << "rotated\n";
  std::filesystem::rename(dir / "token.new", dir / "token");
  auto old_token = post("a.b 1 source=x\n", "", "s3cret");
  ASSERT_TRUE(old_token);
  EXPECT_EQ(old_token->status, 401);
  auto new_token = post("a.b 2 source=x\n", "", "rotated");
  ASSERT_TRUE(new_token);
  EXPECT_EQ(new_token->status, 202);
  EXPECT_EQ(registryValue(registry_, "kubemetrics_listener_refused_requests_total",
                          {{"listener", "wavefront"}, {"reason", "unauthorized"}}),
            3);

  const int fd = connect();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::sendAll(fd, "tcp.line 1 source=x\n"));
  char byte = 0;
  EXPECT_LE(::recv(fd, &byte, 1, 0), 0);  // closed by the listener
  ::close(fd);
  EXPECT_EQ(registryValue(registry_, "kubemetrics_listener_refused_requests_total",
                          {{"listener", "wavefront"}, {"reason", "tcp_needs_token"}}),
            1);
  EXPECT_EQ(sink_.samples().size(), 2u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kubemetrics::scrapers::listeners
