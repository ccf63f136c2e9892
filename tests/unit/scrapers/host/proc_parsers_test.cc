#include "scrapers/host/proc_parsers.h"

#include <gtest/gtest.h>

#include <string>

#include "unit/scrapers/host/host_test_util.h"

namespace kubemetrics::scrapers::host {
namespace {

using testing::TempDir;

TEST(HostProcParsersTest, ForEachLineSkipsOverlongLines) {
  const std::string text =
      "a\n" + std::string(kMaxLineBytes + 1, 'x') + "\nb\n" + std::string(kMaxLineBytes, 'y');
  std::vector<std::size_t> sizes;
  std::size_t skipped = 0;
  forEachLine(text, skipped, [&](std::string_view line) { sizes.push_back(line.size()); });
  EXPECT_EQ(skipped, 1u);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 1, kMaxLineBytes}));
}

TEST(HostProcParsersTest, ParsesProcStat) {
  ProcStat stat;
  std::size_t skipped = 0;
  parseProcStat(
      "cpu  1 2 3 4 5 6 7 8 9 10\n"
      "cpu0 11 12 13 14 15 16 17 18 19 20\n"
      "cpu12 1 2 3 4\n"  // an old kernel: four modes
      "intr 1 2 3\nctxt 42\nbtime 1700000000\nprocesses 7\nprocs_running 2\nprocs_blocked 0\n",
      stat, skipped);
  EXPECT_EQ(skipped, 0u);
  ASSERT_EQ(stat.cpus.size(), 2u);
  EXPECT_EQ(stat.cpus[0].cpu, 0u);
  EXPECT_EQ(stat.cpus[0].modes, 8u);
  EXPECT_EQ(stat.cpus[0].ticks[0], 11u);  // user
  EXPECT_EQ(stat.cpus[0].ticks[7], 18u);  // steal; guest columns ignored
  EXPECT_EQ(stat.cpus[1].cpu, 12u);
  EXPECT_EQ(stat.cpus[1].modes, 4u);
  EXPECT_EQ(stat.cpus[1].ticks[3], 4u);
  EXPECT_EQ(stat.context_switches, 42u);
  EXPECT_EQ(stat.boot_time, 1700000000u);
  EXPECT_EQ(stat.forks, 7u);
  EXPECT_EQ(stat.procs_running, 2u);
  EXPECT_EQ(stat.procs_blocked, 0u);
}

TEST(HostProcParsersTest, ProcStatSkipsMalformedLines) {
  ProcStat stat;
  std::size_t skipped = 0;
  parseProcStat(
      "cpu0 1 2 x 4 5\n"          // not a number
      "cpu1 1 2 3\n"              // too few modes
      "cpux 1 2 3 4\n"            // no CPU number
      "cpu99999999999 1 2 3 4\n"  // beyond kMaxCpuIndex
      "cpu-1 1 2 3 4\n"           // negative
      "ctxt\n"                    // no value
      "btime -5\n"                // negative
      "cpu2 1 2 3 4 5 6 7 8\n"    // fine
      "\n\n   \n",
      stat, skipped);
  EXPECT_EQ(skipped, 7u);
  ASSERT_EQ(stat.cpus.size(), 1u);
  EXPECT_EQ(stat.cpus[0].cpu, 2u);
  EXPECT_FALSE(stat.context_switches.has_value());
  EXPECT_FALSE(stat.boot_time.has_value());
}

TEST(HostProcParsersTest, ParsesLoadAvg) {
  const auto load = parseLoadAvg("0.52 1.58 10.59 2/1234 56789\n");
  ASSERT_TRUE(load.has_value());
  EXPECT_DOUBLE_EQ(load->load1, 0.52);
  EXPECT_DOUBLE_EQ(load->load5, 1.58);
  EXPECT_DOUBLE_EQ(load->load15, 10.59);
  EXPECT_FALSE(parseLoadAvg("").has_value());
  EXPECT_FALSE(parseLoadAvg("0.1 0.2\n").has_value());
  EXPECT_FALSE(parseLoadAvg("0.1 abc 0.3\n").has_value());
}

TEST(HostProcParsersTest, ParsesMeminfo) {
  std::vector<MeminfoField> fields;
  std::size_t skipped = 0;
  parseMeminfo(
      "MemTotal:       16384000 kB\n"
      "Active(anon):     512000 kB\n"
      "HugePages_Total:       4\n"
      "NoColon          12 kB\n"
      "Weird:           12 MB\n"
      "Bad:             x kB\n"
      "Extra:           1 kB trailing\n"
      "\n",
      fields, skipped);
  EXPECT_EQ(skipped, 4u);
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[0].name, "MemTotal");
  EXPECT_DOUBLE_EQ(fields[0].value, 16384000.0 * 1024);
  EXPECT_TRUE(fields[0].in_bytes);
  EXPECT_EQ(fields[1].name, "Active(anon)");
  EXPECT_EQ(fields[2].name, "HugePages_Total");
  EXPECT_DOUBLE_EQ(fields[2].value, 4);
  EXPECT_FALSE(fields[2].in_bytes);
}

TEST(HostProcParsersTest, MeminfoNamesFollowNodeExporter) {
  EXPECT_EQ(meminfoMetricName("MemTotal", true), "node_memory_MemTotal_bytes");
  EXPECT_EQ(meminfoMetricName("Active(anon)", true), "node_memory_Active_anon_bytes");
  EXPECT_EQ(meminfoMetricName("Inactive(file)", true), "node_memory_Inactive_file_bytes");
  EXPECT_EQ(meminfoMetricName("HugePages_Total", false), "node_memory_HugePages_Total");
  EXPECT_EQ(meminfoMetricName("Bad-Name", true), std::nullopt);
  EXPECT_EQ(meminfoMetricName("", true), std::nullopt);
}

TEST(HostProcParsersTest, ParsesNetDev) {
  std::vector<NetDevStats> devs;
  std::size_t skipped = 0;
  parseNetDev(
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
      "drop fifo colls carrier compressed\n"
      "  eth0: 9876543210 1234567 1 2 0 0 0 10 123456789 654321 3 4 0 0 0 0\n"
      "eth1:5 6 7 8 0 0 0 0 9 10 11 12 0 0 0 0\n"     // old kernels: no space after ':'
      "  eth2: 1 2 3\n"                               // short
      "  : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"  // no name
      "garbage\n",
      devs, skipped);
  EXPECT_EQ(skipped, 3u);
  ASSERT_EQ(devs.size(), 2u);
  EXPECT_EQ(devs[0].device, "eth0");
  EXPECT_EQ(devs[0].rx_bytes, 9876543210u);
  EXPECT_EQ(devs[0].rx_packets, 1234567u);
  EXPECT_EQ(devs[0].rx_errs, 1u);
  EXPECT_EQ(devs[0].rx_drop, 2u);
  EXPECT_EQ(devs[0].tx_bytes, 123456789u);
  EXPECT_EQ(devs[0].tx_packets, 654321u);
  EXPECT_EQ(devs[0].tx_errs, 3u);
  EXPECT_EQ(devs[0].tx_drop, 4u);
  EXPECT_EQ(devs[1].device, "eth1");
  EXPECT_EQ(devs[1].rx_bytes, 5u);
  EXPECT_EQ(devs[1].tx_drop, 12u);
}

TEST(HostProcParsersTest, ParsesMounts) {
  std::vector<MountEntry> mounts;
  std::size_t skipped = 0;
  parseMounts(
      "/dev/root / ext4 rw 0 0\n"
      "/dev/sdb1 /data\\040disk ext4 rw 0 0\n"
      "onlytwo /x\n"
      "dev relative ext4 rw 0 0\n"
      "\n",
      mounts, skipped);
  EXPECT_EQ(skipped, 2u);
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[0].device, "/dev/root");
  EXPECT_EQ(mounts[0].mount_point, "/");
  EXPECT_EQ(mounts[0].fs_type, "ext4");
  EXPECT_EQ(mounts[1].mount_point, "/data disk");
}

TEST(HostProcParsersTest, UnescapesMountFields) {
  EXPECT_EQ(unescapeMountField("/a\\040b\\011c\\012d\\134e"), "/a b\tc\nd\\e");
  EXPECT_EQ(unescapeMountField("/end\\04"), "/end\\04");  // cut escape kept
  EXPECT_EQ(unescapeMountField("/x\\999"), "/x\\999");    // not octal
  EXPECT_EQ(unescapeMountField("\\"), "\\");
}

TEST(HostProcParsersTest, ReadProcFileReadsAndBounds) {
  TempDir dir;
  dir.write("f", "line1\nline2\nline3\n");
  std::string out = "stale";
  ASSERT_TRUE(readProcFile(dir.str() + "/f", out).has_value());
  EXPECT_EQ(out, "line1\nline2\nline3\n");
  // Cut at the last complete line within the bound.
  ASSERT_TRUE(readProcFile(dir.str() + "/f", out, 14).has_value());
  EXPECT_EQ(out, "line1\nline2\n");
  ASSERT_TRUE(readProcFile(dir.str() + "/f", out, 3).has_value());
  EXPECT_EQ(out, "");

  auto missing = readProcFile(dir.str() + "/nope", out);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(missing.error().message().find("/nope"), std::string::npos);
}

TEST(HostProcParsersTest, ReadsLargeFilesInChunks) {
  TempDir dir;
  std::string big;
  for (int i = 0; i < 20000; ++i) big += "line " + std::to_string(i) + "\n";
  dir.write("big", big);
  std::string out;
  ASSERT_TRUE(readProcFile(dir.str() + "/big", out).has_value());
  EXPECT_EQ(out, big);
}

}  // namespace
}  // namespace kubemetrics::scrapers::host
