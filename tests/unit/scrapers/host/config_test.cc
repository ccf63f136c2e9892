#include "scrapers/host/config.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <string>

#include "common/config/config_document.h"
#include "scrapers/host/host_source.h"
#include "support/component_context.h"
#include "support/config_errors.h"

namespace kubemetrics::scrapers::host {
namespace {

struct Parsed {
  std::shared_ptr<ConfigDocument> doc;
  HostConfig config;
};

Parsed parse(std::string_view yaml) {
  Parsed p{ConfigDocument::parse(yaml, "test.yaml"), {}};
  ConfigNode node = p.doc->root().child("sources").child("host");
  p.config = parseHostConfig(node);
  return p;
}

using testing::errorTexts;

TEST(HostConfigTest, DefaultsWhenAbsent) {
  const Parsed p = parse("cluster: c\n");
  EXPECT_TRUE(p.doc->errors().empty()) << ::testing::PrintToString(errorTexts(*p.doc));
  EXPECT_TRUE(p.config.enabled);
  EXPECT_EQ(p.config.interval, std::chrono::seconds(15));
  EXPECT_EQ(p.config.proc_path, "/proc");
  EXPECT_EQ(p.config.rootfs_path, "/");
  EXPECT_EQ(p.config.exclude_fs_types, defaultExcludedFsTypes());
  EXPECT_EQ(defaultExcludedFsTypes().size(), 30u);
  // A dead NFS/EFS server would block statvfs() without a timeout.
  for (const char* network : {"nfs", "nfs4", "cifs"}) {
    EXPECT_NE(std::find(defaultExcludedFsTypes().begin(), defaultExcludedFsTypes().end(), network),
              defaultExcludedFsTypes().end())
        << network;
  }
  for (const char* type : {"overlay", "cgroup2", "tracefs", "nsfs", "squashfs"}) {
    EXPECT_NE(std::find(p.config.exclude_fs_types.begin(), p.config.exclude_fs_types.end(), type),
              p.config.exclude_fs_types.end())
        << type;
  }
}

TEST(HostConfigTest, ReadsEveryKey) {
  const Parsed p = parse(R"(
sources:
  host:
    enabled: false
    interval: 1m30s
    proc_path: /host/proc
    rootfs_path: /host
    exclude_fs_types: [tmpfs, overlay]
)");
  EXPECT_TRUE(p.doc->errors().empty()) << ::testing::PrintToString(errorTexts(*p.doc));
  EXPECT_FALSE(p.config.enabled);
  EXPECT_EQ(p.config.interval, std::chrono::seconds(90));
  EXPECT_EQ(p.config.proc_path, "/host/proc");
  EXPECT_EQ(p.config.rootfs_path, "/host");
  EXPECT_EQ(p.config.exclude_fs_types, (std::vector<std::string>{"tmpfs", "overlay"}));
}

TEST(HostConfigTest, MountPointPrefixesDefaultToPodVolumesAndMustBeAbsolute) {
  const Parsed defaults = parse("sources:\n  host: {}\n");
  EXPECT_EQ(defaults.config.exclude_mount_points, defaultExcludedMountPoints());
  EXPECT_NE(std::find(defaults.config.exclude_mount_points.begin(),
                      defaults.config.exclude_mount_points.end(), "/var/lib/kubelet/pods/"),
            defaults.config.exclude_mount_points.end());
  const Parsed bad = parse("sources:\n  host:\n    exclude_mount_points: [/mnt/, relative/]\n");
  ASSERT_EQ(errorTexts(*bad.doc).size(), 1u);
  EXPECT_NE(errorTexts(*bad.doc)[0].find(
                "sources.host.exclude_mount_points: each entry must be an absolute path prefix"),
            std::string::npos)
      << errorTexts(*bad.doc)[0];
}

TEST(HostConfigTest, EmptyExclusionListExcludesNothing) {
  const Parsed p = parse("sources:\n  host:\n    exclude_fs_types: []\n");
  EXPECT_TRUE(p.doc->errors().empty());
  EXPECT_TRUE(p.config.exclude_fs_types.empty());
}

TEST(HostConfigTest, ReportsEveryBadKeyWithItsPath) {
  const Parsed p = parse(R"(
sources:
  host:
    interval: 0s
    proc_path: proc
    rootfs_path: ""
    exclude_fs_types: overlay
    colour: blue
)");
  const std::vector<std::string> errors = errorTexts(*p.doc);
  auto mentions = [&](std::string_view prefix) {
    return std::any_of(errors.begin(), errors.end(),
                       [&](const std::string& e) { return e.starts_with(prefix); });
  };
  EXPECT_TRUE(mentions("sources.host.interval: ")) << ::testing::PrintToString(errors);
  EXPECT_TRUE(mentions("sources.host.proc_path: must be an absolute path"));
  EXPECT_TRUE(mentions("sources.host.rootfs_path: must be an absolute path"));
  EXPECT_TRUE(mentions("sources.host.exclude_fs_types: "));
  EXPECT_TRUE(mentions("sources.host.colour: unknown key"));
  EXPECT_EQ(errors.size(), 5u) << ::testing::PrintToString(errors);
  // Bad values fall back to the defaults.
  EXPECT_EQ(p.config.interval, std::chrono::seconds(15));
  EXPECT_EQ(p.config.proc_path, "/proc");
  EXPECT_EQ(p.config.rootfs_path, "/");
}

class HostFactoryTest : public ::testing::Test {
 protected:
  Result<std::vector<SourcePtr>> build(std::string_view yaml, bool with_context) {
    doc_ = ConfigDocument::parse(yaml, "test.yaml");
    ConfigNode node = doc_->root().child("sources").child("host");
    return buildSources(node, with_context ? &context_.context : nullptr);
  }

  std::shared_ptr<ConfigDocument> doc_;
  testing::TestComponentContext context_;
};

TEST_F(HostFactoryTest, ValidationOnlyCreatesNothing) {
  auto sources = build("sources:\n  host: {interval: 5s}\n", false);
  ASSERT_TRUE(sources.has_value());
  EXPECT_TRUE(sources->empty());
  EXPECT_TRUE(doc_->errors().empty());
}

TEST_F(HostFactoryTest, DisabledCreatesNothing) {
  auto sources = build("sources:\n  host: {enabled: false}\n", true);
  ASSERT_TRUE(sources.has_value());
  EXPECT_TRUE(sources->empty());
}

TEST_F(HostFactoryTest, CreatesOneHostSource) {
  auto sources = build("sources:\n  host: {interval: 5s}\n", true);
  ASSERT_TRUE(sources.has_value()) << sources.error().message();
  ASSERT_EQ(sources->size(), 1u);
  Source& source = *sources->front();
  EXPECT_EQ(source.name(), "host");
  EXPECT_EQ(source.interval(), std::chrono::seconds(5));
  SampleBatch batch;
  ASSERT_TRUE(source.scrape(batch, deadlineIn(std::chrono::seconds(30))).has_value());
  EXPECT_FALSE(batch.samples.empty());
  // The self-metric family is registered in the agent's registry.
  bool registered = false;
  for (const auto& family : context_.registry.Collect()) {
    registered |= family.name == "kubemetrics_host_errors_total";
  }
  EXPECT_TRUE(registered);
}

TEST_F(HostFactoryTest, UnreadableProcPathFailsStartUp) {
  auto sources = build("sources:\n  host: {proc_path: /nonexistent/proc}\n", true);
  ASSERT_FALSE(sources.has_value());
  EXPECT_EQ(sources.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(sources.error().message().find("sources.host.proc_path"), std::string::npos);
}

}  // namespace
}  // namespace kubemetrics::scrapers::host
