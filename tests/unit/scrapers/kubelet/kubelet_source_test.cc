// The kubelet source over real HTTPS: an in-process fake kubelet
// (httplib::SSLServer, certificates from support/tls_certs.h) requiring the
// bearer token and serving the captures in ../shared/fixtures/kubelet.
#include "scrapers/kubelet/kubelet_source.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <simdjson.h>

#include <set>

#include "fake_kubelet.h"
#include "summary_support.h"
#include "support/registry_value.h"
#include "support/tls_certs.h"

namespace kubemetrics::scrapers::kubelet {
namespace {

using namespace std::chrono_literals;
using ::kubemetrics::testing::registryValue;
using ::kubemetrics::testing::TempDir;
using ::kubemetrics::testing::TlsCerts;
using testing::FakeKubelet;
using testing::find;
using testing::fixture;
using testing::summaryFixtures;
using testing::value;

constexpr char kToken[] = "s3cr3t-token";

class KubeletSourceTest : public ::testing::Test {
 protected:
  static const TlsCerts& certs() { return TlsCerts::shared(); }

  void SetUp() override {
    kubelet_ = std::make_unique<FakeKubelet>(certs().server_cert, certs().server_key, kToken);
    ASSERT_TRUE(kubelet_->valid());
    token_file_ = dir_.write("token", std::string(kToken) + "\n");
  }

  KubeletConfig config() const {
    KubeletConfig c;
    c.enabled = true;
    c.url = kubelet_->url();
    c.interval = 10s;
    c.timeout = 5s;
    c.bearer_token_file = token_file_;
    c.ca_file = certs().ca_cert;
    return c;
  }

  std::unique_ptr<KubeletSummarySource> source(KubeletConfig c) {
    return std::make_unique<KubeletSummarySource>("kubelet", std::move(c), "agent-node",
                                                  &registry_);
  }

  static Result<ScrapeStats> scrape(KubeletSummarySource& s, SampleBatch& out) {
    return s.scrape(out, deadlineIn(10s));
  }

  double errors(const std::string& reason) {
    return registryValue(registry_, "kubemetrics_kubelet_errors_total", {{"reason", reason}});
  }

  TempDir dir_;
  std::string token_file_;
  std::unique_ptr<FakeKubelet> kubelet_;
  prometheus::Registry registry_;
};

TEST_F(KubeletSourceTest, ServesEveryFixtureOverHttpsWithTheToken) {
  auto s = source(config());
  for (const std::string& name : summaryFixtures()) {
    SCOPED_TRACE(name);
    const std::string text = fixture(name);
    kubelet_->setBody(text);
    SampleBatch out;
    Result<ScrapeStats> r = scrape(*s, out);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->samples, out.samples.size());

    simdjson::dom::parser dom;
    simdjson::dom::element doc;
    ASSERT_EQ(dom.parse(text).get(doc), simdjson::SUCCESS);
    std::size_t pods = 0, containers = 0;
    simdjson::dom::array pod_array;
    if (doc["pods"].get(pod_array) == simdjson::SUCCESS) {
      for (simdjson::dom::element pod : pod_array) {
        ++pods;
        std::set<std::string_view> names;
        simdjson::dom::array list;
        if (pod["containers"].get(list) == simdjson::SUCCESS) {
          for (simdjson::dom::element c : list) names.insert(c["name"].get_string().value());
        }
        containers += names.size();
      }
    }
    EXPECT_EQ(s->lastEmitStats().pods, pods);
    EXPECT_EQ(s->lastEmitStats().containers, containers);
    EXPECT_EQ(registryValue(registry_, "kubemetrics_kubelet_pods"), static_cast<double>(pods));

    // A handful of named fields equal the JSON.
    const std::map<std::string, std::string> node{{"type", "node"}, {"interface_name", ""}};
    double ws = 0;
    if (doc.at_pointer("/node/memory/workingSetBytes").get(ws) == simdjson::SUCCESS) {
      EXPECT_EQ(value(out, "kubernetes.node.memory.working_set", node), ws);
    }
    double rx = 0;
    if (doc.at_pointer("/node/network/rxBytes").get(rx) == simdjson::SUCCESS) {
      EXPECT_EQ(value(out, "kubernetes.node.network.rx", node), rx);
    } else {
      EXPECT_TRUE(find(out, "kubernetes.node.network.rx", node).empty());
    }
    if (pods > 0) {
      simdjson::dom::element pod = pod_array.at(0);
      double pod_ws = 0;
      if (pod.at_pointer("/memory/workingSetBytes").get(pod_ws) == simdjson::SUCCESS) {
        EXPECT_EQ(value(out, "kubernetes.pod.memory.working_set",
                        {{"pod_name", std::string(pod["podRef"]["name"].get_string().value())},
                         {"namespace_name",
                          std::string(pod["podRef"]["namespace"].get_string().value())}}),
                  pod_ws);
      }
    }
  }
  EXPECT_EQ(errors("unauthorized"), 0);
  EXPECT_GT(registryValue(registry_, "kubemetrics_kubelet_rate_cache_series"), 0);
}

TEST_F(KubeletSourceTest, RereadsTheTokenOnEveryScrape) {
  kubelet_->setBody(fixture("summary_small_nri_response_ok.json"));
  auto s = source(config());
  SampleBatch out;
  ASSERT_TRUE(scrape(*s, out).has_value());
  // The token rotates: the kubelet now only accepts the new one.
  kubelet_->setToken("rotated");
  dir_.write("token", "rotated");
  SampleBatch again;
  Result<ScrapeStats> r = scrape(*s, again);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_FALSE(again.samples.empty());
}

TEST_F(KubeletSourceTest, MissingOrWrongTokenIs401NamingNodesStats) {
  kubelet_->setBody(fixture("summary_small_nri_response_ok.json"));
  KubeletConfig no_token = config();
  no_token.bearer_token_file.clear();
  auto s = source(no_token);
  SampleBatch out;
  Result<ScrapeStats> r = scrape(*s, out);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(r.error().message().find("401"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("nodes/stats"), std::string::npos) << r.error().message();
  EXPECT_TRUE(out.samples.empty());

  dir_.write("token", "wrong");
  auto wrong = source(config());
  r = scrape(*wrong, out);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("401"), std::string::npos);
  EXPECT_NE(r.error().message().find("nodes/stats"), std::string::npos);
  EXPECT_NE(r.error().message().find(token_file_), std::string::npos);
  EXPECT_EQ(wrong->failures(FailureReason::kUnauthorized), 1u);
  EXPECT_EQ(errors("unauthorized"), 2);

  // Fixed: the next scrape succeeds.
  dir_.write("token", kToken);
  EXPECT_TRUE(scrape(*wrong, out).has_value());

  // An unreadable token file is its own reason.
  KubeletConfig missing = config();
  missing.bearer_token_file = dir_.path() + "/absent";
  r = scrape(*source(missing), out);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("absent"), std::string::npos);
  EXPECT_EQ(errors("token_file"), 1);
}

TEST_F(KubeletSourceTest, ForbiddenNamesTheRbacPermission) {
  kubelet_->setStatus(403);
  auto s = source(config());
  SampleBatch out;
  Result<ScrapeStats> r = scrape(*s, out);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("403"), std::string::npos);
  EXPECT_NE(r.error().message().find("nodes/stats"), std::string::npos);
  EXPECT_EQ(errors("forbidden"), 1);
  kubelet_->setStatus(500);
  r = scrape(*s, out);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("500"), std::string::npos);
  EXPECT_EQ(errors("http_status"), 1);
}

TEST_F(KubeletSourceTest, WrongCaFailsNamingTheCaProblem) {
  kubelet_->setBody(fixture("summary_small_nri_response_ok.json"));
  KubeletConfig c = config();
  c.ca_file = certs().other_ca_cert;
  auto s = source(c);
  SampleBatch out;
  Result<ScrapeStats> r = scrape(*s, out);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("unknown CA"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("ca_file"), std::string::npos) << r.error().message();
  EXPECT_EQ(s->failures(FailureReason::kTls), 1u);
  EXPECT_EQ(errors("tls"), 1);
  EXPECT_EQ(kubelet_->requests(), 0);  // the token never left the agent
}

TEST_F(KubeletSourceTest, ExpiredAndWrongNameCertificatesSaySo) {
  for (const auto& [cert, key, expected] :
       {std::tuple{certs().expired_cert, certs().expired_key, "expired"},
        std::tuple{certs().wrong_host_cert, certs().wrong_host_key, "mismatch"}}) {
    FakeKubelet bad(cert, key, kToken);
    ASSERT_TRUE(bad.valid());
    KubeletConfig c = config();
    c.url = bad.url();
    SampleBatch out;
    Result<ScrapeStats> r = scrape(*source(c), out);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message().find(expected), std::string::npos) << r.error().message();
  }
  EXPECT_EQ(errors("tls"), 2);
}

TEST_F(KubeletSourceTest, SkipVerifyWorksAndWarnsOnce) {
  kubelet_->setBody(fixture("summary_small_nri_response_ok.json"));
  KubeletConfig c = config();
  c.ca_file = certs().other_ca_cert;  // would fail if verified
  c.insecure_skip_verify = true;
  ::testing::internal::CaptureStderr();
  auto s = source(c);
  SampleBatch out;
  Result<ScrapeStats> first = scrape(*s, out);
  Result<ScrapeStats> second = scrape(*s, out);
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(first.has_value()) << first.error().message();
  ASSERT_TRUE(second.has_value()) << second.error().message();
  const std::size_t at = log.find("insecure_skip_verify");
  ASSERT_NE(at, std::string::npos) << log;
  EXPECT_EQ(log.find("insecure_skip_verify", at + 1), std::string::npos) << log;
  EXPECT_NE(log.find("warn"), std::string::npos) << log;
}

TEST_F(KubeletSourceTest, TimeoutIsCountedAndRetried) {
  kubelet_->setBody(fixture("summary_small_nri_response_ok.json"));
  kubelet_->setDelay(1500ms);
  KubeletConfig c = config();
  c.timeout = 300ms;
  auto s = source(c);
  SampleBatch out;
  const auto began = SteadyClock::now();
  Result<ScrapeStats> r = scrape(*s, out);
  EXPECT_LT(SteadyClock::now() - began, 1400ms);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout);
  EXPECT_NE(r.error().message().find("timed out"), std::string::npos) << r.error().message();
  EXPECT_EQ(errors("timeout"), 1);
  kubelet_->setDelay(0ms);
  std::this_thread::sleep_for(1500ms);  // let the slow handler finish
  EXPECT_TRUE(scrape(*s, out).has_value());
}

TEST_F(KubeletSourceTest, TruncatedOrInvalidJsonIsCountedAndEmitsNothing) {
  const std::string text = fixture("summary_k8s-1.26_containerd_nri.json");
  auto s = source(config());
  for (const std::string& body :
       {text.substr(0, text.size() / 2), std::string("<html>oops</html>"), std::string()}) {
    kubelet_->setBody(body);
    SampleBatch out;
    Result<ScrapeStats> r = scrape(*s, out);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss);
    EXPECT_NE(r.error().message().find("invalid summary JSON"), std::string::npos)
        << r.error().message();
    EXPECT_TRUE(out.samples.empty());
  }
  EXPECT_EQ(errors("invalid_json"), 3);
  kubelet_->setBody(text);
  SampleBatch out;
  EXPECT_TRUE(scrape(*s, out).has_value());
}

TEST_F(KubeletSourceTest, RatesAcrossTwoScrapesOverHttps) {
  const std::string first = fixture("summary_wavefront_collector.json");
  std::string second = testing::shiftTimes(first, 10);
  second = testing::replaceAll(second, "\"usageCoreNanoSeconds\": 61164665840393",
                               "\"usageCoreNanoSeconds\": 61166665840393");
  auto s = source(config());
  kubelet_->setBody(first);
  SampleBatch one;
  ASSERT_TRUE(scrape(*s, one).has_value());
  kubelet_->setBody(second);
  SampleBatch two;
  ASSERT_TRUE(scrape(*s, two).has_value());
  // 2 core-seconds in 10 s = 200 millicores.
  EXPECT_DOUBLE_EQ(value(two, "kubernetes.node.cpu.usage_rate", {{"type", "node"}}), 200.0);
  EXPECT_EQ(registryValue(registry_, "kubemetrics_kubelet_rate_cache_series"),
            static_cast<double>(s->rateCacheSize()));
}

TEST_F(KubeletSourceTest, ConnectionRefusedIsUnavailable) {
  KubeletConfig c = config();
  c.url = "https://127.0.0.1:" + std::to_string(::kubemetrics::testing::freeLoopbackPort()) +
          "/stats/summary";
  SampleBatch out;
  Result<ScrapeStats> r = scrape(*source(c), out);
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error().retryable());
  EXPECT_EQ(errors("unavailable"), 1);
}

}  // namespace
}  // namespace kubemetrics::scrapers::kubelet
