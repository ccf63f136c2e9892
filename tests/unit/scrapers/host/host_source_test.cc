#include "scrapers/host/host_source.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>

#include "unit/scrapers/host/host_test_util.h"

namespace kubemetrics::scrapers::host {
namespace {

using testing::countOf;
using testing::metadataOf;
using testing::TempDir;
using testing::valueOf;

const std::string kFakeProc = std::string(KM_TESTDATA_DIR) + "/host/proc";

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double ticks(double n) { return n / static_cast<double>(::sysconf(_SC_CLK_TCK)); }

Result<ScrapeStats> scrapeOnce(HostSource& source, SampleBatch& batch) {
  return source.scrape(batch, deadlineIn(std::chrono::seconds(30)));
}

// The fake tree's mounts, backed by directories of a temporary root so
// statvfs succeeds for all but /missing.
class HostSourceFakeProcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* dir : {"run", "data disk", "hidden", "proc", "sys"}) rootfs_.mkdir(dir);
    config_.proc_path = kFakeProc;
    config_.rootfs_path = rootfs_.str();
  }

  TempDir rootfs_;
  HostConfig config_;
};

// A pod without hostNetwork reading the host's /proc: net/dev (through
// /proc/self) is the pod's own namespace, pid 1's is the node's. The node's
// counters must be reported.
TEST_F(HostSourceFakeProcTest, NetworkCountersComeFromTheNodesNamespace) {
  TempDir proc;
  std::filesystem::copy(kFakeProc, proc.path(), std::filesystem::copy_options::recursive);
  const std::string header =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
      "drop fifo colls carrier compressed\n";
  proc.write("net/dev", header + "  eth0: 111 1 0 0 0 0 0 0 222 2 0 0 0 0 0 0\n");
  proc.write("1/net/dev", header +
                              "  ens5: 9000000 9000 0 0 0 0 0 0 8000000 8000 0 0 0 0 0 0\n"
                              "  eni3a1: 700 7 0 0 0 0 0 0 600 6 0 0 0 0 0 0\n");
  config_.proc_path = proc.str();
  HostSource source("host", config_);
  SampleBatch batch;
  ASSERT_TRUE(scrapeOnce(source, batch));
  EXPECT_EQ(valueOf(batch, "node_network_receive_bytes_total", {{"device", "ens5"}}), 9000000.0);
  EXPECT_EQ(valueOf(batch, "node_network_transmit_bytes_total", {{"device", "eni3a1"}}), 600.0);
  for (const Sample& sample : batch.samples) {
    EXPECT_NE(sample.labels.get("device"), "eth0") << "the pod's own interface was reported";
  }

  // A tree without pid 1 (a fixture, or a proc that hides it): net/dev.
  std::filesystem::remove_all(proc.path() / "1");
  HostSource fallback("host", config_);
  SampleBatch second;
  ASSERT_TRUE(scrapeOnce(fallback, second));
  EXPECT_EQ(valueOf(second, "node_network_receive_bytes_total", {{"device", "eth0"}}), 111.0);
}

TEST_F(HostSourceFakeProcTest, ExportsExactValues) {
  HostSource source("host", config_);
  SampleBatch batch;
  const std::int64_t before = nowMs();
  auto stats = scrapeOnce(source, batch);
  const std::int64_t after = nowMs();
  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  EXPECT_EQ(stats->samples, batch.samples.size());
  EXPECT_EQ(source.name(), "host");
  EXPECT_EQ(source.interval(), std::chrono::seconds(15));

  // /proc/stat: per-CPU lines only, ticks / USER_HZ.
  EXPECT_EQ(countOf(batch, "node_cpu_seconds_total"), 16u);
  EXPECT_EQ(valueOf(batch, "node_cpu_seconds_total", {{"cpu", "0"}, {"mode", "user"}}), ticks(500));
  EXPECT_EQ(valueOf(batch, "node_cpu_seconds_total", {{"cpu", "0"}, {"mode", "idle"}}),
            ticks(20000));
  EXPECT_EQ(valueOf(batch, "node_cpu_seconds_total", {{"cpu", "0"}, {"mode", "steal"}}), ticks(5));
  EXPECT_EQ(valueOf(batch, "node_cpu_seconds_total", {{"cpu", "1"}, {"mode", "softirq"}}),
            ticks(3));
  EXPECT_EQ(valueOf(batch, "node_cpu_seconds_total", {{"cpu", "1"}, {"mode", "nice"}}), ticks(10));
  EXPECT_EQ(valueOf(batch, "node_context_switches_total"), 987654321.0);
  EXPECT_EQ(valueOf(batch, "node_forks_total"), 424242.0);
  EXPECT_EQ(valueOf(batch, "node_boot_time_seconds"), 1700000000.0);
  EXPECT_EQ(valueOf(batch, "node_procs_running"), 3.0);
  EXPECT_EQ(valueOf(batch, "node_procs_blocked"), 1.0);

  // /proc/loadavg
  EXPECT_EQ(valueOf(batch, "node_load1"), 0.52);
  EXPECT_EQ(valueOf(batch, "node_load5"), 0.58);
  EXPECT_EQ(valueOf(batch, "node_load15"), 0.59);

  // /proc/meminfo: kB fields in bytes with _bytes, bare numbers as they are.
  EXPECT_EQ(valueOf(batch, "node_memory_MemTotal_bytes"), 16384000.0 * 1024);
  EXPECT_EQ(valueOf(batch, "node_memory_MemFree_bytes"), 8192000.0 * 1024);
  EXPECT_EQ(valueOf(batch, "node_memory_MemAvailable_bytes"), 12000000.0 * 1024);
  EXPECT_EQ(valueOf(batch, "node_memory_Active_anon_bytes"), 512000.0 * 1024);
  EXPECT_EQ(valueOf(batch, "node_memory_Inactive_file_bytes"), 256000.0 * 1024);
  EXPECT_EQ(valueOf(batch, "node_memory_HugePages_Total"), 4.0);
  EXPECT_EQ(valueOf(batch, "node_memory_HugePages_Free"), 2.0);
  EXPECT_EQ(valueOf(batch, "node_memory_Hugepagesize_bytes"), 2048.0 * 1024);

  // /proc/net/dev
  EXPECT_EQ(valueOf(batch, "node_network_receive_bytes_total", {{"device", "eth0"}}), 9876543210.0);
  EXPECT_EQ(valueOf(batch, "node_network_receive_packets_total", {{"device", "eth0"}}), 1234567.0);
  EXPECT_EQ(valueOf(batch, "node_network_receive_errs_total", {{"device", "eth0"}}), 1.0);
  EXPECT_EQ(valueOf(batch, "node_network_receive_drop_total", {{"device", "eth0"}}), 2.0);
  EXPECT_EQ(valueOf(batch, "node_network_transmit_bytes_total", {{"device", "eth0"}}), 123456789.0);
  EXPECT_EQ(valueOf(batch, "node_network_transmit_packets_total", {{"device", "eth0"}}), 654321.0);
  EXPECT_EQ(valueOf(batch, "node_network_transmit_errs_total", {{"device", "eth0"}}), 3.0);
  EXPECT_EQ(valueOf(batch, "node_network_transmit_drop_total", {{"device", "eth0"}}), 4.0);
  EXPECT_EQ(valueOf(batch, "node_network_receive_bytes_total", {{"device", "lo"}}), 123456.0);
  EXPECT_EQ(countOf(batch, "node_network_receive_bytes_total"), 2u);

  // Filesystems: statvfs(rootfs + mount point). "/" is listed twice and
  // keeps its last entry; proc, sysfs and the overlay over /hidden are
  // excluded; /missing has no directory and is skipped.
  struct statvfs fs;
  ASSERT_EQ(::statvfs(rootfs_.str().c_str(), &fs), 0);
  const double block = static_cast<double>(fs.f_frsize);
  const testing::LabelList root = {
      {"device", "/dev/root"}, {"fstype", "ext4"}, {"mountpoint", "/"}};
  EXPECT_EQ(valueOf(batch, "node_filesystem_size_bytes", root),
            static_cast<double>(fs.f_blocks) * block);
  EXPECT_EQ(valueOf(batch, "node_filesystem_files", root), static_cast<double>(fs.f_files));
  const auto free = valueOf(batch, "node_filesystem_free_bytes", root);
  const auto avail = valueOf(batch, "node_filesystem_avail_bytes", root);
  ASSERT_TRUE(free && avail);
  EXPECT_GT(*free, 0);
  EXPECT_LE(*avail, *free);
  EXPECT_LE(*free, static_cast<double>(fs.f_blocks) * block);
  EXPECT_TRUE(valueOf(batch, "node_filesystem_files_free", root).has_value());
  EXPECT_TRUE(valueOf(batch, "node_filesystem_size_bytes",
                      {{"device", "tmpfs"}, {"fstype", "tmpfs"}, {"mountpoint", "/run"}}));
  EXPECT_TRUE(valueOf(batch, "node_filesystem_size_bytes",
                      {{"device", "/dev/sdb1"}, {"fstype", "ext4"}, {"mountpoint", "/data disk"}}));
  EXPECT_EQ(countOf(batch, "node_filesystem_size_bytes"), 3u);
  for (const char* family : {"node_filesystem_free_bytes", "node_filesystem_avail_bytes",
                             "node_filesystem_files", "node_filesystem_files_free"}) {
    EXPECT_EQ(countOf(batch, family), 3u) << family;
  }
  EXPECT_EQ(source.errorCounts().statvfs_failures, 1u);
  EXPECT_EQ(source.errorCounts().read_failures, 0u);
  EXPECT_EQ(source.errorCounts().malformed_lines, 0u);

  // One wall-clock timestamp for the whole scrape.
  const auto time = valueOf(batch, "node_time_seconds");
  ASSERT_TRUE(time.has_value());
  EXPECT_GE(*time * 1000, static_cast<double>(before));
  EXPECT_LE(*time * 1000, static_cast<double>(after));
  for (const Sample& s : batch.samples) {
    EXPECT_EQ(s.timestamp_ms, batch.samples.front().timestamp_ms);
    EXPECT_GE(s.timestamp_ms, before);
    EXPECT_LE(s.timestamp_ms, after);
  }
}

TEST_F(HostSourceFakeProcTest, DescribesEveryFamilyOnce) {
  HostSource source("host", config_);
  SampleBatch batch;
  ASSERT_TRUE(scrapeOnce(source, batch).has_value());
  std::set<std::string_view> names;
  for (const Sample& s : batch.samples) names.insert(s.name.view());
  std::set<std::string_view> described;
  for (const MetricMetadata& m : batch.metadata) {
    EXPECT_TRUE(described.insert(m.name.view()).second) << "twice: " << m.name.view();
    EXPECT_FALSE(m.help.empty()) << m.name.view();
  }
  EXPECT_EQ(names, described);

  EXPECT_EQ(metadataOf(batch, "node_cpu_seconds_total")->type, MetricType::kCounter);
  EXPECT_EQ(metadataOf(batch, "node_network_receive_bytes_total")->type, MetricType::kCounter);
  EXPECT_EQ(metadataOf(batch, "node_context_switches_total")->type, MetricType::kCounter);
  EXPECT_EQ(metadataOf(batch, "node_load1")->type, MetricType::kGauge);
  EXPECT_EQ(metadataOf(batch, "node_filesystem_avail_bytes")->type, MetricType::kGauge);
  const MetricMetadata* mem = metadataOf(batch, "node_memory_Active_anon_bytes");
  ASSERT_NE(mem, nullptr);
  EXPECT_EQ(mem->type, MetricType::kGauge);
  EXPECT_EQ(mem->help, "Memory information field Active_anon_bytes.");
}

TEST_F(HostSourceFakeProcTest, RepeatedScrapesReuseInternedLabels) {
  HostSource source("host", config_);
  SampleBatch first;
  SampleBatch second;
  ASSERT_TRUE(scrapeOnce(source, first).has_value());
  ASSERT_TRUE(scrapeOnce(source, second).has_value());
  ASSERT_EQ(first.samples.size(), second.samples.size());
  ASSERT_EQ(first.metadata.size(), second.metadata.size());
  for (std::size_t i = 0; i < first.samples.size(); ++i) {
    EXPECT_EQ(first.samples[i].name, second.samples[i].name);
    EXPECT_EQ(first.samples[i].labels, second.samples[i].labels);
  }
  EXPECT_EQ(source.errorCounts().statvfs_failures, 2u);
}

TEST_F(HostSourceFakeProcTest, ExcludesConfiguredFsTypes) {
  config_.exclude_fs_types = {"ext4", "sysfs"};
  HostSource source("host", config_);
  SampleBatch batch;
  ASSERT_TRUE(scrapeOnce(source, batch).has_value());
  std::set<std::string> mounts;
  for (const Sample& s : batch.samples) {
    if (s.name.view() == "node_filesystem_size_bytes") {
      mounts.insert(std::string(s.labels.get("mountpoint")) + " " +
                    std::string(s.labels.get("fstype")));
    }
  }
  // "/" is ext4 (its last entry), so it goes; the overlay over /hidden and
  // proc are no longer excluded.
  EXPECT_EQ(mounts, (std::set<std::string>{"/hidden overlay", "/proc proc", "/run tmpfs"}));
}

TEST_F(HostSourceFakeProcTest, EmptyExclusionListKeepsEverythingMounted) {
  config_.exclude_fs_types.clear();
  HostSource source("host", config_);
  SampleBatch batch;
  ASSERT_TRUE(scrapeOnce(source, batch).has_value());
  // / (deduplicated), /proc, /sys, /run, /data disk, /hidden; not /missing.
  EXPECT_EQ(countOf(batch, "node_filesystem_size_bytes"), 6u);
  EXPECT_EQ(source.errorCounts().statvfs_failures, 1u);
}

TEST_F(HostSourceFakeProcTest, PassedDeadlineSkipsStatvfsOnly) {
  HostSource source("host", config_);
  SampleBatch batch;
  ASSERT_TRUE(source.scrape(batch, SteadyClock::now() - std::chrono::seconds(1)).has_value());
  EXPECT_EQ(countOf(batch, "node_filesystem_size_bytes"), 0u);
  EXPECT_EQ(countOf(batch, "node_cpu_seconds_total"), 16u);
  EXPECT_TRUE(valueOf(batch, "node_memory_MemTotal_bytes").has_value());
}

TEST_F(HostSourceFakeProcTest, CountsErrorsInSelfMetrics) {
  prometheus::Registry registry;
  HostSource source("host", config_, &registry);
  SampleBatch batch;
  ASSERT_TRUE(scrapeOnce(source, batch).has_value());
  double statvfs = -1;
  for (const auto& family : registry.Collect()) {
    if (family.name != "kubemetrics_host_errors_total") continue;
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.name == "kind" && label.value == "statvfs") statvfs = metric.counter.value;
      }
    }
  }
  EXPECT_EQ(statvfs, 1.0);
}

TEST(HostSourceTest, MountsUnderRootfsAreLabelledByHostPath) {
  TempDir rootfs;
  rootfs.mkdir("data");
  TempDir proc;
  proc.write("mounts", "/dev/sda1 " + rootfs.str() + " ext4 rw 0 0\n/dev/sdb1 " + rootfs.str() +
                           "/data xfs rw 0 0\n");
  HostConfig config;
  config.proc_path = proc.str();
  config.rootfs_path = rootfs.str() + "/";  // a trailing slash is tolerated
  HostSource source("host", config);
  SampleBatch batch;
  ASSERT_TRUE(scrapeOnce(source, batch).has_value());
  EXPECT_TRUE(valueOf(batch, "node_filesystem_size_bytes",
                      {{"device", "/dev/sda1"}, {"fstype", "ext4"}, {"mountpoint", "/"}}));
  EXPECT_TRUE(valueOf(batch, "node_filesystem_size_bytes",
                      {{"device", "/dev/sdb1"}, {"fstype", "xfs"}, {"mountpoint", "/data"}}));
  EXPECT_EQ(source.errorCounts().statvfs_failures, 0u);
}

TEST(HostSourceTest, PodVolumesAndRuntimeTreesAreNotTheNodesFilesystems) {
  // A node's mount table as the kubelet leaves it: one tmpfs per Secret,
  // ConfigMap or projected token of every pod, and the runtime's shm.
  const std::string pod = "/var/lib/kubelet/pods/0c5e1f3a-7d2b-4c1e-9f00-2b7e8a1d4c55/volumes/";
  TempDir rootfs;
  const std::vector<std::string> dirs = {
      "var/lib/kubelet", pod.substr(1) + "kubernetes.io~projected/kube-api-access-x7k2p",
      pod.substr(1) + "kubernetes.io~secret/tls",
      "run/containerd/io.containerd.grpc.v1.cri/sandboxes/a1/shm"};
  for (const std::string& dir : dirs) {
    std::filesystem::create_directories(rootfs.str() + "/" + dir);
  }
  TempDir proc;
  proc.write("mounts",
             "/dev/nvme0n1p1 / xfs rw 0 0\n"
             "/dev/nvme0n1p1 /var/lib/kubelet xfs rw 0 0\n"
             "tmpfs " +
                 pod +
                 "kubernetes.io~projected/kube-api-access-x7k2p tmpfs rw 0 0\n"
                 "tmpfs " +
                 pod +
                 "kubernetes.io~secret/tls tmpfs rw 0 0\n"
                 "shm /run/containerd/io.containerd.grpc.v1.cri/sandboxes/a1/shm tmpfs rw 0 0\n");
  HostConfig config;
  config.proc_path = proc.str();
  config.rootfs_path = rootfs.str();
  {
    HostSource source("host", config);
    SampleBatch batch;
    ASSERT_TRUE(scrapeOnce(source, batch).has_value());
    std::set<std::string> mounts;
    for (const Sample& s : batch.samples) {
      if (s.name.view() == "node_filesystem_size_bytes") {
        mounts.insert(std::string(s.labels.get("mountpoint")));
      }
    }
    EXPECT_EQ(mounts, (std::set<std::string>{"/", "/var/lib/kubelet"}));
  }
  config.exclude_mount_points.clear();  // [] reports them all
  HostSource source("host", config);
  SampleBatch batch;
  ASSERT_TRUE(scrapeOnce(source, batch).has_value());
  EXPECT_EQ(countOf(batch, "node_filesystem_size_bytes"), 5u);
}

TEST(HostSourceTest, SkipsMalformedLinesAndKeepsTheRest) {
  TempDir proc;
  proc.write("stat",
             "cpu  1 2 3 4 5 6 7 8\n"
             "cpu0 100 0 0 0 0 0 0 0\n"
             "cpu1 1 two 3 4 5 6 7 8\n"
             "cpu2 1 2\n"
             "ctxt many\n"
             "btime 1700000000\n");
  proc.write("meminfo", "MemTotal: 1000 kB\nGarbage\nOdd: 5 MB\n" +
                            std::string(kMaxLineBytes + 10, 'x') + "\nMemFree: 10 kB\n");
  proc.write("loadavg", "not a load average\n");
  proc.write("net/dev", "h1\nh2\n  eth0: 1 2 3\n  eth1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n");
  proc.write("mounts", "garbage\n");
  HostSource source("host", HostConfig{.proc_path = proc.str(), .exclude_fs_types = {}});
  SampleBatch batch;
  ASSERT_TRUE(scrapeOnce(source, batch).has_value());

  EXPECT_EQ(countOf(batch, "node_cpu_seconds_total"), 8u);
  EXPECT_EQ(valueOf(batch, "node_cpu_seconds_total", {{"cpu", "0"}, {"mode", "user"}}), ticks(100));
  EXPECT_FALSE(valueOf(batch, "node_context_switches_total").has_value());
  EXPECT_EQ(valueOf(batch, "node_boot_time_seconds"), 1700000000.0);
  EXPECT_EQ(valueOf(batch, "node_memory_MemTotal_bytes"), 1000.0 * 1024);
  EXPECT_EQ(valueOf(batch, "node_memory_MemFree_bytes"), 10.0 * 1024);
  EXPECT_EQ(countOf(batch, "node_load1"), 0u);
  EXPECT_EQ(countOf(batch, "node_network_receive_bytes_total"), 1u);
  EXPECT_EQ(valueOf(batch, "node_network_transmit_bytes_total", {{"device", "eth1"}}), 9.0);
  EXPECT_EQ(countOf(batch, "node_filesystem_size_bytes"), 0u);
  // stat 3, meminfo 3 (incl. the overlong line), loadavg 1, net/dev 1, mounts 1.
  EXPECT_EQ(source.errorCounts().malformed_lines, 9u);
  EXPECT_EQ(source.errorCounts().read_failures, 0u);
}

TEST(HostSourceTest, MissingFilesSkipTheirFamilies) {
  TempDir proc;
  proc.write("loadavg", "1.5 2.5 3.5 1/100 4242\n");
  HostSource source("host", HostConfig{.proc_path = proc.str()});
  SampleBatch batch;
  auto stats = scrapeOnce(source, batch);
  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  EXPECT_EQ(valueOf(batch, "node_load1"), 1.5);
  EXPECT_EQ(valueOf(batch, "node_load15"), 3.5);
  EXPECT_TRUE(valueOf(batch, "node_time_seconds").has_value());
  EXPECT_EQ(batch.samples.size(), 4u);
  EXPECT_EQ(stats->samples, 4u);
  // stat, meminfo, net/dev and (self/)mounts.
  EXPECT_EQ(source.errorCounts().read_failures, 4u);
}

TEST(HostSourceTest, FailsOnlyWhenNothingIsReadable) {
  TempDir proc;
  HostSource source("host", HostConfig{.proc_path = proc.str() + "/absent"});
  SampleBatch batch;
  auto stats = scrapeOnce(source, batch);
  ASSERT_FALSE(stats.has_value());
  EXPECT_EQ(stats.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(stats.error().message().find("absent"), std::string::npos);
  // The clock needs no file.
  EXPECT_TRUE(valueOf(batch, "node_time_seconds").has_value());
  EXPECT_EQ(batch.samples.size(), 1u);

  // Files appearing later are picked up on the next scrape.
  proc.write("absent/loadavg", "0.1 0.2 0.3 1/1 1\n");
  SampleBatch next;
  EXPECT_TRUE(scrapeOnce(source, next).has_value());
  EXPECT_EQ(valueOf(next, "node_load5"), 0.2);
}

TEST(HostSourceTest, AppendsToANonEmptyBatch) {
  TempDir proc;
  proc.write("loadavg", "1 2 3 1/1 1\n");
  HostSource source("host", HostConfig{.proc_path = proc.str()});
  SampleBatch batch;
  batch.samples.push_back(Sample{Symbol::intern("other"), Labels(), 7, 1});
  auto stats = scrapeOnce(source, batch);
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->samples, 4u);
  EXPECT_EQ(batch.samples.size(), 5u);
  EXPECT_EQ(batch.samples.front().name.view(), "other");
}

TEST(HostSourceTest, ScrapesThisMachine) {
  HostSource source("host", HostConfig{});
  SampleBatch batch;
  auto stats = scrapeOnce(source, batch);
  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  ASSERT_GT(cpus, 0);
  for (long cpu = 0; cpu < cpus; ++cpu) {
    const std::string label = std::to_string(cpu);
    for (const char* mode : {"user", "system", "idle"}) {
      const auto value = valueOf(batch, "node_cpu_seconds_total", {{"cpu", label}, {"mode", mode}});
      ASSERT_TRUE(value.has_value()) << "cpu " << cpu << " mode " << mode;
      EXPECT_GE(*value, 0);
    }
  }
  const auto mem = valueOf(batch, "node_memory_MemTotal_bytes");
  ASSERT_TRUE(mem.has_value());
  EXPECT_GT(*mem, 0);
  EXPECT_TRUE(valueOf(batch, "node_load1").has_value());
  EXPECT_TRUE(valueOf(batch, "node_boot_time_seconds").has_value());
  EXPECT_TRUE(valueOf(batch, "node_network_receive_bytes_total", {{"device", "lo"}}) ||
              countOf(batch, "node_network_receive_bytes_total") > 0);
  EXPECT_EQ(source.errorCounts().read_failures, 0u);
  EXPECT_EQ(source.errorCounts().malformed_lines, 0u);
}

}  // namespace
}  // namespace kubemetrics::scrapers::host
