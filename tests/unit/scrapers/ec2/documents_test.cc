#include "scrapers/ec2/documents.h"

#include <gtest/gtest.h>

#include "unit/scrapers/ec2/fake_imds.h"

namespace kubemetrics::scrapers::ec2 {
namespace {

using testing::readFixture;

TEST(Ec2DocumentsTest, ParsesTheAwsDocsIdentityDocument) {
  auto id = parseIdentityDocument(readFixture("awsdocs_instance-identity-document.json"));
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(id->instance_id, "i-1234567890abcdef0");
  EXPECT_EQ(id->instance_type, "t2.micro");
  EXPECT_EQ(id->availability_zone, "us-west-2b");
  EXPECT_EQ(id->region, "us-west-2");
  EXPECT_EQ(id->account_id, "123456789012");
  EXPECT_EQ(id->image_id, "ami-5fb8c835");
  EXPECT_EQ(id->private_ip, "10.158.112.84");
  const auto tags = id->tags({"instance_id", "region", "image_id"});
  ASSERT_EQ(tags.size(), 3u);
  EXPECT_EQ(tags[0], (std::pair<std::string, std::string>{"instance_id", "i-1234567890abcdef0"}));
  EXPECT_EQ(tags[2], (std::pair<std::string, std::string>{"image_id", "ami-5fb8c835"}));
}

TEST(Ec2DocumentsTest, RejectsMalformedIdentityWithAClearError) {
  for (const char* text :
       {"{\"instanceId\": \"i-1\", ", "not json", "[1,2]", "{}", "{\"instanceId\": null}", ""}) {
    auto id = parseIdentityDocument(text);
    ASSERT_FALSE(id) << text;
    EXPECT_EQ(id.error().code(), ErrorCode::kDataLoss);
    EXPECT_EQ(id.error().message().rfind("identity document: ", 0), 0u) << id.error().message();
  }
  EXPECT_NE(parseIdentityDocument("{\"instanceId\": 3").error().message().find("invalid JSON"),
            std::string::npos);
}

TEST(Ec2DocumentsTest, ParsesSpotActions) {
  auto stop = parseSpotAction(readFixture("awsdocs_spot_instance-action_stop.json"));
  ASSERT_TRUE(stop) << stop.error().message();
  EXPECT_EQ(stop->action, "stop");
  EXPECT_EQ(stop->time_unix, 1505722920);  // 2017-09-18T08:22:00Z
  auto terminate = parseSpotAction(readFixture("aemm_readme_spot_instance-action.json"));
  ASSERT_TRUE(terminate) << terminate.error().message();
  EXPECT_EQ(terminate->action, "terminate");
  EXPECT_EQ(terminate->time, "2020-04-24T17:11:44Z");
  EXPECT_FALSE(parseSpotAction("{\"action\": \"stop\", \"time\": \"soon\"}"));
  EXPECT_FALSE(parseSpotAction("{\"time\": \"2017-09-18T08:22:00Z\"}"));
}

TEST(Ec2DocumentsTest, ParsesRebalanceNotices) {
  auto a = parseRebalanceNotice(readFixture("awsdocs_rebalance-recommendation.json"));
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, 1603786920);  // 2020-10-27T08:22:00Z
  auto b = parseRebalanceNotice(readFixture("aemm_readme_rebalance-recommendation.json"));
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, 1602875904);  // 2020-10-16T19:18:24Z
  EXPECT_FALSE(parseRebalanceNotice("{}"));
}

TEST(Ec2DocumentsTest, ParsesMaintenanceEvents) {
  auto list = parseMaintenanceEvents(readFixture("awsdocs_events_maintenance_scheduled.json"));
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].code, "system-reboot");
  EXPECT_EQ((*list)[0].event_id, "instance-event-0d59937288b749b32");
  EXPECT_EQ((*list)[0].state, "active");
  EXPECT_EQ((*list)[0].not_before_unix, 1548061243);  // 21 Jan 2019 09:00:43 GMT
  auto history = parseMaintenanceEvents(readFixture("awsdocs_events_maintenance_history.json"));
  ASSERT_TRUE(history);
  EXPECT_EQ(history->size(), 2u);
  // The mock's README shows a bare object: taken as one event.
  auto single =
      parseMaintenanceEvents(readFixture("aemm_readme_events_maintenance_scheduled_object.json"));
  ASSERT_TRUE(single);
  ASSERT_EQ(single->size(), 1u);
  EXPECT_EQ((*single)[0].code, "instance-reboot");
  EXPECT_EQ((*single)[0].not_before_unix, 1577840627);  // 1 Jan 2020 01:03:47 GMT
  EXPECT_TRUE(parseMaintenanceEvents("[]")->empty());
  EXPECT_TRUE(parseMaintenanceEvents("  ")->empty());
  EXPECT_FALSE(parseMaintenanceEvents("[1]"));
  EXPECT_FALSE(parseMaintenanceEvents("[{"));
}

TEST(Ec2DocumentsTest, ParsesTimes) {
  EXPECT_EQ(parseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parseRfc3339("2017-09-18T08:22:00.123Z"), 1505722920);
  EXPECT_EQ(parseRfc3339("2017-09-18T10:22:00+02:00"), 1505722920);
  EXPECT_EQ(parseRfc3339(readFixture("awsdocs_spot_termination-time.txt")), 1420480920);
  EXPECT_FALSE(parseRfc3339("2017-09-18 08:22"));
  EXPECT_FALSE(parseRfc3339("2017-13-18T08:22:00Z"));
  EXPECT_EQ(parseImdsEventTime("29 Jan 2019 09:17:23 GMT"), 1548753443);
  EXPECT_FALSE(parseImdsEventTime("29 Foo 2019 09:17:23 GMT"));
  EXPECT_FALSE(parseImdsEventTime(""));
}

}  // namespace
}  // namespace kubemetrics::scrapers::ec2
