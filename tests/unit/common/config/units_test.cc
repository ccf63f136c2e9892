#include "common/config/units.h"

#include <gtest/gtest.h>

#include <string>

namespace kubemetrics {
namespace {

using std::chrono::milliseconds;

milliseconds durationOk(std::string_view text) {
  auto parsed = parseDuration(text);
  EXPECT_TRUE(parsed.has_value()) << text << ": " << (parsed ? "" : parsed.error().message());
  return parsed.value_or(milliseconds(-1));
}

std::string durationError(std::string_view text) {
  auto parsed = parseDuration(text);
  EXPECT_FALSE(parsed.has_value())
      << text << " parsed as " << parsed.value_or(milliseconds(0)).count();
  return parsed ? "" : parsed.error().message();
}

std::string bytesError(std::string_view text) {
  auto parsed = parseBytes(text);
  EXPECT_FALSE(parsed.has_value()) << text << " parsed as " << parsed.value_or(0);
  return parsed ? "" : parsed.error().message();
}

TEST(UnitsTest, ParsesDurations) {
  EXPECT_EQ(durationOk("500ms"), milliseconds(500));
  EXPECT_EQ(durationOk("15s"), milliseconds(15000));
  EXPECT_EQ(durationOk("1m"), milliseconds(60000));
  EXPECT_EQ(durationOk("2h"), milliseconds(7'200'000));
  EXPECT_EQ(durationOk("1m30s"), milliseconds(90000));
  EXPECT_EQ(durationOk("1h2m3s4ms"), milliseconds(3'723'004));
  EXPECT_EQ(durationOk("1.5s"), milliseconds(1500));
  EXPECT_EQ(durationOk(".5s"), milliseconds(500));
  EXPECT_EQ(durationOk("0.25h"), milliseconds(900'000));
  EXPECT_EQ(durationOk("1ms"), milliseconds(1));
  EXPECT_EQ(durationOk("8760h"), milliseconds(8760LL * 3600 * 1000));
}

TEST(UnitsTest, RejectsBadDurations) {
  EXPECT_EQ(durationError(""), "expected a duration such as 15s or 1m30s");
  EXPECT_EQ(durationError("fast"), "expected a duration such as 15s or 1m30s");
  EXPECT_EQ(durationError("15"), "missing unit (write e.g. 15s, 500ms or 1m30s)");
  EXPECT_EQ(durationError("1m30"), "missing unit (write e.g. 15s, 500ms or 1m30s)");
  EXPECT_EQ(durationError("15d"), "unknown unit \"d\" (use ms, s, m or h)");
  EXPECT_EQ(durationError("15S"), "unknown unit \"S\" (use ms, s, m or h)");
  EXPECT_EQ(durationError("0s"), "must be > 0");
  EXPECT_EQ(durationError("0ms0s"), "must be > 0");
  EXPECT_EQ(durationError("-5s"), "must be > 0");
  EXPECT_EQ(durationError("-"), "expected a duration such as 15s or 1m30s");
  EXPECT_EQ(durationError("1.5ms"), "must be a whole number of milliseconds");
  EXPECT_EQ(durationError("8761h"), "must be at most 8760h");
  EXPECT_EQ(durationError("99999999999999999999h"), "must be at most 8760h");
  EXPECT_EQ(durationError("1m 30s"), "expected a duration such as 15s or 1m30s");
  EXPECT_EQ(durationError("s"), "expected a duration such as 15s or 1m30s");
  EXPECT_EQ(durationError("1.2.3s"), "expected a duration such as 15s or 1m30s");
}

TEST(UnitsTest, FormatsDurationsCanonically) {
  EXPECT_EQ(formatDuration(milliseconds(15000)), "15s");
  EXPECT_EQ(formatDuration(milliseconds(90000)), "1m30s");
  EXPECT_EQ(formatDuration(milliseconds(500)), "500ms");
  EXPECT_EQ(formatDuration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(formatDuration(milliseconds(1005)), "1.005s");
  EXPECT_EQ(formatDuration(milliseconds(3'600'000)), "1h");
  EXPECT_EQ(formatDuration(milliseconds(5'400'000)), "1h30m");
  EXPECT_EQ(formatDuration(milliseconds(3'601'000)), "1h1s");
  EXPECT_EQ(formatDuration(milliseconds(0)), "0s");
}

TEST(UnitsTest, FormattedDurationsParseBack) {
  for (long long ms : {1LL, 999LL, 1000LL, 1001LL, 59'999LL, 60'000LL, 3'723'004LL, 86'400'000LL}) {
    EXPECT_EQ(durationOk(formatDuration(milliseconds(ms))), milliseconds(ms)) << ms;
  }
}

TEST(UnitsTest, ParsesBytes) {
  EXPECT_EQ(parseBytes("1024").value_or(0), 1024u);
  EXPECT_EQ(parseBytes("1B").value_or(0), 1u);
  EXPECT_EQ(parseBytes("64KiB").value_or(0), 64u * 1024);
  EXPECT_EQ(parseBytes("512MiB").value_or(0), 512u * 1024 * 1024);
  EXPECT_EQ(parseBytes("1GiB").value_or(0), 1ULL << 30);
  EXPECT_EQ(parseBytes("2TiB").value_or(0), 2ULL << 40);
  EXPECT_EQ(parseBytes("1Gi").value_or(0), 1ULL << 30);
  EXPECT_EQ(parseBytes("10MB").value_or(0), 10'000'000u);
  EXPECT_EQ(parseBytes("1KB").value_or(0), 1000u);
  EXPECT_EQ(parseBytes("3GB").value_or(0), 3'000'000'000ULL);
  EXPECT_EQ(parseBytes("1.5GiB").value_or(0), 3ULL << 29);
  EXPECT_EQ(parseBytes("0.5KB").value_or(0), 500u);
}

TEST(UnitsTest, RejectsBadBytes) {
  EXPECT_EQ(bytesError(""), "expected a size such as 1048576, 512MiB or 1GiB");
  EXPECT_EQ(bytesError("big"), "expected a size such as 1048576, 512MiB or 1GiB");
  EXPECT_EQ(bytesError("1 GiB"), "expected a size such as 1048576, 512MiB or 1GiB");
  EXPECT_EQ(bytesError("1GiB2"), "expected a size such as 1048576, 512MiB or 1GiB");
  EXPECT_EQ(bytesError("1gb"), "unknown unit \"gb\" (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
  EXPECT_EQ(bytesError("0"), "must be > 0");
  EXPECT_EQ(bytesError("0GiB"), "must be > 0");
  EXPECT_EQ(bytesError("-1MiB"), "must be > 0");
  EXPECT_EQ(bytesError("1.5B"), "must be a whole number of bytes");
  EXPECT_EQ(bytesError("9000000TiB"), "too large");
  EXPECT_EQ(bytesError("99999999999999999999"), "too large");
}

TEST(UnitsTest, ZeroBytesWhereZeroMeansNone) {
  EXPECT_EQ(parseBytes("0", true).value_or(1), 0u);
  EXPECT_EQ(parseBytes("0B", true).value_or(1), 0u);
  EXPECT_EQ(parseBytes("2KiB", true).value_or(0), 2048u);
  EXPECT_FALSE(parseBytes("-1", true).has_value());
}

TEST(UnitsTest, FormatsBytesCanonically) {
  EXPECT_EQ(formatBytes(1ULL << 30), "1GiB");
  EXPECT_EQ(formatBytes(512ULL << 20), "512MiB");
  EXPECT_EQ(formatBytes(1536), "1536B");
  EXPECT_EQ(formatBytes(3ULL << 29), "1536MiB");
  EXPECT_EQ(formatBytes(10'000'000), "10MB");
  EXPECT_EQ(formatBytes(1'000'000'000'000ULL), "1TB");  // also 976562500KiB: fewer digits win
  EXPECT_EQ(formatBytes(128'000), "125KiB");            // 128KB too: binary wins a tie
  EXPECT_EQ(formatBytes(1), "1B");
  for (std::uint64_t n : {1ULL, 1000ULL, 1024ULL, 1536ULL, 10'000'000ULL, 1ULL << 40}) {
    EXPECT_EQ(parseBytes(formatBytes(n)).value_or(0), n) << n;
  }
}

}  // namespace
}  // namespace kubemetrics
