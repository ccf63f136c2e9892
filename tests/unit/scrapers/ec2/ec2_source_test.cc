#include "scrapers/ec2/ec2_source.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>

#include "support/manual_clock.h"
#include "unit/scrapers/ec2/fake_imds.h"

namespace kubemetrics::scrapers::ec2 {
namespace {

using std::chrono::milliseconds;
using testing::BlackholePort;
using testing::FakeImds;
using testing::readFixture;
using testing::RefusedPort;

// Counts the requests the source sends, whatever their outcome.
class CountingTransport : public ImdsTransport {
 public:
  CountingTransport(std::unique_ptr<ImdsTransport> inner, std::atomic<int>* count)
      : inner_(std::move(inner)), count_(count) {}
  Result<HttpClientResponse> send(const HttpClientRequest& request, Deadline deadline) override {
    ++*count_;
    return inner_->send(request, deadline);
  }

 private:
  std::unique_ptr<ImdsTransport> inner_;
  std::atomic<int>* count_;
};

// The source on a manual clock: the spot, identity and metadata intervals
// pass when the test says so. Requests to the fake IMDS are real.
struct Harness {
  explicit Harness(const std::string& endpoint, EnabledMode mode = EnabledMode::kAuto,
                   milliseconds timeout = milliseconds(1000)) {
    EXPECT_EQ(endpoint.rfind("http://127.0.0.1:", 0), 0u) << endpoint;
    Ec2Config config;
    config.enabled = mode;
    config.endpoint = config.configured_endpoint = endpoint;
    config.timeout = timeout;
    config.spot_interval = milliseconds(200);
    config.metadata_interval = milliseconds(400);
    source = std::make_unique<Ec2Source>(
        "ec2", config, std::make_unique<CountingTransport>(makeHttpTransport(timeout), &requests),
        &tags, &registry, nullptr, clock, &lifecycle);
    // Asserted before the first request is made.
    EXPECT_EQ(source->resolvedEndpoint(), endpoint);
  }

  Result<ScrapeStats> scrape(SampleBatch& batch) {
    batch = SampleBatch{};
    return source->scrape(batch, deadlineIn(milliseconds(5000)));
  }

  kubemetrics::testing::ManualClock clock;
  std::atomic<int> requests{0};
  RuntimeTags tags;
  prometheus::Registry registry;
  NodeLifecycle lifecycle;
  std::unique_ptr<Ec2Source> source;
};

const Sample* find(const SampleBatch& batch, std::string_view name) {
  for (const Sample& s : batch.samples) {
    if (s.name.view() == name) return &s;
  }
  return nullptr;
}

std::map<std::string, std::string> tagMap(const RuntimeTags& tags) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : *tags.tags()) out[k] = v;
  return out;
}

TEST(Ec2SourceTest, V2HappyPathSetsTagsAndInstanceInfo) {
  FakeImds imds;
  imds.setV1Allowed(false);
  Harness h(imds.endpoint());
  SampleBatch batch;
  auto r = h.scrape(batch);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(tagMap(h.tags),
            (std::map<std::string, std::string>{{"account_id", "123456789012"},
                                                {"availability_zone", "us-west-2b"},
                                                {"instance_id", "i-1234567890abcdef0"},
                                                {"instance_type", "t2.micro"},
                                                {"region", "us-west-2"}}));
  const Sample* info = find(batch, "ec2.instance_info");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->value, 1);
  EXPECT_EQ(info->labels.get("instance_id"), "i-1234567890abcdef0");
  EXPECT_EQ(info->labels.get("region"), "us-west-2");
  EXPECT_FALSE(info->labels.contains("image_id"));
  ASSERT_NE(find(batch, "ec2.spot.interruption_pending"), nullptr);
  EXPECT_EQ(find(batch, "ec2.spot.interruption_pending")->value, 0);
  EXPECT_EQ(find(batch, "ec2.spot.interruption_seconds_left"), nullptr);
  EXPECT_EQ(find(batch, "ec2.rebalance.recommended")->value, 0);
  EXPECT_EQ(find(batch, "ec2.maintenance.scheduled_events")->value, 0);
  EXPECT_EQ(r->samples, batch.samples.size());
  for (const MetricMetadata& m : batch.metadata) EXPECT_FALSE(m.help.empty());

  const auto status = h.source->status()->snapshot();
  EXPECT_EQ(status.presence, Ec2Presence::kPresent);
  EXPECT_EQ(status.version, ImdsVersion::kV2);
  const std::string page = h.source->status()->render();
  EXPECT_NE(page.find("imds IMDSv2"), std::string::npos) << page;
  EXPECT_NE(page.find("identity instance_id=i-1234567890abcdef0"), std::string::npos) << page;
  EXPECT_NE(page.find("spot none"), std::string::npos) << page;
  EXPECT_EQ(imds.getsWithoutToken(), 0);
}

TEST(Ec2SourceTest, SpotActionAppearsWithinOneSpotInterval) {
  FakeImds imds;
  Harness h(imds.endpoint());
  SampleBatch batch;
  ASSERT_TRUE(h.scrape(batch));
  EXPECT_EQ(find(batch, "ec2.spot.interruption_seconds_left"), nullptr);
  // Two minutes' notice, as EC2 gives.
  const auto in_two_minutes = h.clock.wallNow() + std::chrono::seconds(120);
  const std::time_t t = std::chrono::system_clock::to_time_t(in_two_minutes);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  imds.setSpotAction(std::string("{\"action\": \"terminate\", \"time\": \"") + when + "\"}");
  // The next scrape (one spot interval later) shows it.
  ASSERT_TRUE(h.scrape(batch));
  const Sample* left = find(batch, "ec2.spot.interruption_seconds_left");
  ASSERT_NE(left, nullptr);
  EXPECT_EQ(left->labels.get("action"), "terminate");
  EXPECT_EQ(left->value, 120);
  EXPECT_EQ(find(batch, "ec2.spot.interruption_pending")->value, 1);
  EXPECT_NE(h.source->status()->render().find("spot terminate at "), std::string::npos);
  // The node's lifecycle hears of it (the exporters flush).
  const auto notice = h.lifecycle.termination();
  ASSERT_TRUE(notice.has_value());
  EXPECT_EQ(std::chrono::system_clock::to_time_t(notice->at), t);
  EXPECT_EQ(notice->reason, "spot interruption (terminate)");
  imds.setSpotAction(std::nullopt);  // interruption withdrawn
  ASSERT_TRUE(h.scrape(batch));
  EXPECT_EQ(find(batch, "ec2.spot.interruption_seconds_left"), nullptr);
  EXPECT_EQ(find(batch, "ec2.spot.interruption_pending")->value, 0);
}

TEST(Ec2SourceTest, MaintenanceEventsAndRebalanceOnTheirInterval) {
  FakeImds imds;
  Harness h(imds.endpoint());
  SampleBatch batch;
  ASSERT_TRUE(h.scrape(batch));
  EXPECT_EQ(find(batch, "ec2.maintenance.scheduled_events")->value, 0);
  imds.setMaintenance(readFixture("awsdocs_events_maintenance_scheduled.json"));
  imds.setRebalance(readFixture("awsdocs_rebalance-recommendation.json"));
  // Polled every metadata_interval (400 ms), not every scrape.
  h.clock.advance(milliseconds(399));
  ASSERT_TRUE(h.scrape(batch));
  EXPECT_EQ(find(batch, "ec2.maintenance.scheduled_events")->value, 0);
  h.clock.advance(milliseconds(1));
  ASSERT_TRUE(h.scrape(batch));
  EXPECT_EQ(find(batch, "ec2.maintenance.scheduled_events")->value, 1);
  const Sample* until = find(batch, "ec2.maintenance.event_seconds_until");
  ASSERT_NE(until, nullptr);
  EXPECT_EQ(until->labels.get("code"), "system-reboot");
  EXPECT_EQ(until->labels.get("event_id"), "instance-event-0d59937288b749b32");
  EXPECT_EQ(until->labels.get("state"), "active");
  EXPECT_LT(until->value, 0);  // 2019: long past
  EXPECT_EQ(find(batch, "ec2.rebalance.recommended")->value, 1);
  EXPECT_EQ(find(batch, "ec2.rebalance.notice_timestamp_seconds")->value, 1603786920);
  const std::string page = h.source->status()->render();
  EXPECT_NE(page.find("maintenance 1 scheduled: [system-reboot"), std::string::npos) << page;
  EXPECT_NE(page.find("rebalance recommended at 2020-10-27T08:22:00Z"), std::string::npos);
  // A reboot brings the node back with its disk: no termination notice.
  EXPECT_FALSE(h.lifecycle.termination().has_value());
  // A scheduled stop takes it away: announced for its NotBefore.
  std::string stop = readFixture("awsdocs_events_maintenance_scheduled.json");
  stop.replace(stop.find("system-reboot"), 13, "instance-stop");
  imds.setMaintenance(stop);
  h.clock.advance(milliseconds(400));
  ASSERT_TRUE(h.scrape(batch));
  const auto notice = h.lifecycle.termination();
  ASSERT_TRUE(notice.has_value());
  EXPECT_EQ(std::chrono::system_clock::to_time_t(notice->at), 1548061243);  // 21 Jan 2019 09:00:43
  EXPECT_EQ(notice->reason, "scheduled instance-stop instance-event-0d59937288b749b32");
}

TEST(Ec2SourceTest, MalformedIdentityIsAClearErrorWithNoTags) {
  FakeImds imds;
  imds.setIdentity("{\"instanceId\": \"i-1\", \"region\": ");
  Harness h(imds.endpoint());
  SampleBatch batch;
  auto r = h.scrape(batch);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss);
  EXPECT_NE(r.error().message().find("identity document: invalid JSON"), std::string::npos)
      << r.error().message();
  EXPECT_EQ(h.tags.version(), 0u);
  EXPECT_TRUE(h.tags.tags()->empty());
  EXPECT_EQ(find(batch, "ec2.instance_info"), nullptr);
  // Spot polling goes on: the service is there.
  EXPECT_NE(find(batch, "ec2.spot.interruption_pending"), nullptr);
  EXPECT_EQ(h.source->status()->snapshot().presence, Ec2Presence::kPresent);
  EXPECT_NE(h.source->status()->render().find("last_error identity document"), std::string::npos);
  // Retried on the metadata interval once the document is fixed, not
  // before.
  imds.setIdentity(readFixture("awsdocs_instance-identity-document.json"));
  h.clock.advance(milliseconds(399));
  h.scrape(batch);
  EXPECT_TRUE(h.tags.tags()->empty());
  h.clock.advance(milliseconds(1));
  ASSERT_TRUE(h.scrape(batch));
  EXPECT_EQ(tagMap(h.tags)["instance_id"], "i-1234567890abcdef0");
}

TEST(Ec2SourceTest, FallsBackToV1AndSaysSoOnTheStatusPage) {
  FakeImds imds;
  imds.setPutMode(FakeImds::PutMode::kForbidden);
  Harness h(imds.endpoint());
  SampleBatch batch;
  ASSERT_TRUE(h.scrape(batch));
  EXPECT_EQ(tagMap(h.tags)["instance_id"], "i-1234567890abcdef0");
  EXPECT_NE(h.source->status()->render().find("imds IMDSv1 (fallback: token request"),
            std::string::npos)
      << h.source->status()->render();
}

struct AbsentCase {
  const char* what;
  bool blackhole;
};

TEST(Ec2SourceTest, AutoOffEc2GoesIdleAfterOneBoundedProbe) {
  for (const AbsentCase c : {AbsentCase{"refused", false}, AbsentCase{"blackhole", true}}) {
    SCOPED_TRACE(c.what);
    std::unique_ptr<RefusedPort> port =
        c.blackhole ? std::make_unique<BlackholePort>() : std::make_unique<RefusedPort>();
    const milliseconds timeout(300);
    Harness h(port->endpoint(), EnabledMode::kAuto, timeout);
    SampleBatch batch;
    auto r = h.scrape(batch);
    EXPECT_TRUE(r) << r.error().message();  // off EC2 is not an error in auto mode
    EXPECT_TRUE(batch.samples.empty());
    // At most the token PUT and one v1 GET, each bounded by the timeout
    // (HttpClient's own tests hold it to that).
    const int probes = h.requests.load();
    EXPECT_GE(probes, 1);
    EXPECT_LE(probes, 2);
    const auto status = h.source->status()->snapshot();
    EXPECT_EQ(status.presence, Ec2Presence::kAbsent);
    EXPECT_NE(status.presence_reason.find("not on EC2"), std::string::npos);
    // Idle for good: later scrapes send nothing, even after the identity
    // and metadata intervals have passed.
    h.clock.advance(std::chrono::minutes(10));
    EXPECT_TRUE(h.scrape(batch));
    EXPECT_EQ(h.requests.load(), probes);
    EXPECT_EQ(h.tags.version(), 0u);
  }
}

TEST(Ec2SourceTest, EnabledTrueOffEc2IsAScrapeError) {
  RefusedPort port;
  Harness h(port.endpoint(), EnabledMode::kTrue, milliseconds(300));
  SampleBatch batch;
  auto r = h.scrape(batch);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(h.source->status()->snapshot().presence, Ec2Presence::kAbsent);
}

}  // namespace
}  // namespace kubemetrics::scrapers::ec2
