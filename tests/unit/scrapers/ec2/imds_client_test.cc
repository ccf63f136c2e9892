#include "scrapers/ec2/imds_client.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <thread>

#include "unit/scrapers/ec2/fake_imds.h"

namespace kubemetrics::scrapers::ec2 {
namespace {

using std::chrono::milliseconds;
using testing::BlackholePort;
using testing::FakeImds;
using testing::RefusedPort;

constexpr std::string_view kIdentity = "/latest/dynamic/instance-identity/document";

ImdsClient makeClient(const std::string& endpoint, milliseconds timeout = milliseconds(1000),
                      std::chrono::seconds ttl = std::chrono::seconds(21600),
                      prometheus::Registry* registry = nullptr) {
  // Every test talks to loopback only.
  EXPECT_EQ(endpoint.rfind("http://127.0.0.1:", 0), 0u) << endpoint;
  return ImdsClient(ImdsClientOptions{endpoint, timeout, ttl}, makeHttpTransport(timeout),
                    registry);
}

Deadline soon() { return deadlineIn(std::chrono::seconds(5)); }

TEST(ImdsClientTest, V2HappyPathUsesOneTokenForEveryGet) {
  FakeImds imds;
  imds.setV1Allowed(false);  // v2 required: a GET without a token would get 401
  prometheus::Registry registry;
  ImdsClient client =
      makeClient(imds.endpoint(), milliseconds(1000), std::chrono::seconds(21600), &registry);
  EXPECT_EQ(client.version(), ImdsVersion::kUnknown);
  for (int i = 0; i < 3; ++i) {
    auto r = client.get(kIdentity, soon());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("i-1234567890abcdef0"), std::string::npos);
  }
  auto missing = client.get("/latest/meta-data/spot/instance-action", soon());
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(client.version(), ImdsVersion::kV2);
  EXPECT_EQ(imds.puts(), 1);
  EXPECT_EQ(imds.lastTtl(), 21600);
  EXPECT_EQ(imds.getsWithToken(), 4);
  EXPECT_EQ(imds.getsWithoutToken(), 0);
  EXPECT_EQ(imds.unauthorized(), 0);
  EXPECT_EQ(client.fallbackReason(), "");
}

TEST(ImdsClientTest, RenewsTheTokenBeforeItExpires) {
  FakeImds imds;
  imds.setV1Allowed(false);
  ImdsClient client = makeClient(imds.endpoint(), milliseconds(1000), std::chrono::seconds(1));
  // 1 s tokens, a GET every 100 ms for 2.5 s: renewed ahead of expiry
  // (at 750 ms), so the service never has to refuse one.
  const auto end = SteadyClock::now() + milliseconds(2500);
  int gets = 0;
  while (SteadyClock::now() < end) {
    auto r = client.get(kIdentity, soon());
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r->status, 200);
    ++gets;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_GE(imds.puts(), 3);
  EXPECT_LE(imds.puts(), 5);
  EXPECT_EQ(imds.lastTtl(), 1);
  EXPECT_EQ(imds.unauthorized(), 0);
  EXPECT_EQ(imds.getsWithToken(), gets);
}

TEST(ImdsClientTest, RefreshesAtOnceWhenATokenIsRefused) {
  FakeImds imds;
  imds.setV1Allowed(false);
  ImdsClient client = makeClient(imds.endpoint());
  ASSERT_EQ(client.get(kIdentity, soon())->status, 200);
  imds.invalidateTokens();  // the service restarted
  auto r = client.get(kIdentity, soon());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(imds.puts(), 2);
  EXPECT_EQ(imds.unauthorized(), 1);
  EXPECT_EQ(client.version(), ImdsVersion::kV2);
}

TEST(ImdsClientTest, FallsBackToV1WhenThePutIsRefused) {
  for (auto mode : {FakeImds::PutMode::kForbidden, FakeImds::PutMode::kMethodNotAllowed}) {
    FakeImds imds;
    imds.setPutMode(mode);
    ImdsClient client = makeClient(imds.endpoint());
    for (int i = 0; i < 3; ++i) {
      auto r = client.get(kIdentity, soon());
      ASSERT_TRUE(r) << r.error().message();
      EXPECT_EQ(r->status, 200);
    }
    EXPECT_EQ(client.version(), ImdsVersion::kV1);
    EXPECT_NE(client.fallbackReason().find(mode == FakeImds::PutMode::kForbidden ? "HTTP 403"
                                                                                 : "HTTP 405"),
              std::string::npos)
        << client.fallbackReason();
    EXPECT_EQ(imds.puts(), 1);  // v1 sticks: no token request per GET
    EXPECT_EQ(imds.getsWithoutToken(), 3);
  }
}

TEST(ImdsClientTest, FallsBackToV1WhenThePutHangsAsWithHopLimitOne) {
  FakeImds imds;
  imds.setPutMode(FakeImds::PutMode::kHang);
  ImdsClient client = makeClient(imds.endpoint(), milliseconds(300));
  const auto began = SteadyClock::now();
  auto r = client.get(kIdentity, soon());
  const auto took = SteadyClock::now() - began;
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(client.version(), ImdsVersion::kV1);
  EXPECT_NE(client.fallbackReason().find("timed out after 300 ms"), std::string::npos);
  EXPECT_GE(took, milliseconds(290));
  EXPECT_LT(took, milliseconds(1500));
  ASSERT_EQ(client.get(kIdentity, soon())->status, 200);
  EXPECT_EQ(imds.puts(), 1);
}

TEST(ImdsClientTest, V2RequiredBehindHopLimitOneIsAClearError) {
  FakeImds imds;
  imds.setPutMode(FakeImds::PutMode::kForbidden);
  imds.setV1Allowed(false);
  ImdsClient client = makeClient(imds.endpoint());
  auto r = client.get(kIdentity, soon());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(r.error().message().find("IMDSv2 is required"), std::string::npos);
  EXPECT_NE(r.error().message().find("--http-put-response-hop-limit 2"), std::string::npos);
  EXPECT_NE(r.error().message().find("hostNetwork"), std::string::npos);
}

TEST(ImdsClientTest, BackToV2WhenV1StopsBeingAllowed) {
  FakeImds imds;
  imds.setPutMode(FakeImds::PutMode::kForbidden);
  ImdsClient client = makeClient(imds.endpoint());
  ASSERT_EQ(client.get(kIdentity, soon())->status, 200);
  EXPECT_EQ(client.version(), ImdsVersion::kV1);
  imds.setPutMode(FakeImds::PutMode::kOk);
  imds.setV1Allowed(false);
  auto r = client.get(kIdentity, soon());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(client.version(), ImdsVersion::kV2);
}

TEST(ImdsClientTest, ConnectionRefusedIsUnavailableAtOnce) {
  RefusedPort port;
  ImdsClient client = makeClient(port.endpoint(), milliseconds(300));
  const auto began = SteadyClock::now();
  auto r = client.get(kIdentity, soon());
  const auto took = SteadyClock::now() - began;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable) << r.error().message();
  EXPECT_LT(took, milliseconds(300));
  EXPECT_EQ(client.version(), ImdsVersion::kUnknown);
}

TEST(ImdsClientTest, BlackholeTimesOutWithinTwoTimeouts) {
  BlackholePort port;
  ImdsClient client = makeClient(port.endpoint(), milliseconds(200));
  const auto began = SteadyClock::now();
  auto r = client.get(kIdentity, soon());
  const auto took = SteadyClock::now() - began;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout) << r.error().message();
  // PUT (200 ms) then the v1 GET (200 ms).
  EXPECT_GE(took, milliseconds(390));
  EXPECT_LT(took, milliseconds(1000));
  EXPECT_EQ(client.version(), ImdsVersion::kUnknown);  // nothing answered: no v1 verdict
}

TEST(ImdsClientTest, HonoursTheCallersDeadline) {
  BlackholePort port;
  ImdsClient client = makeClient(port.endpoint(), milliseconds(1000));
  const auto began = SteadyClock::now();
  auto r = client.get(kIdentity, deadlineIn(milliseconds(150)));
  EXPECT_FALSE(r);
  EXPECT_LT(SteadyClock::now() - began, milliseconds(700));
}

}  // namespace
}  // namespace kubemetrics::scrapers::ec2
