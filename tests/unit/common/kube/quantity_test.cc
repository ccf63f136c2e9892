// resource.Quantity parsing against the forms the Kubernetes API serializes
// (k8s.io/apimachinery/pkg/api/resource/quantity.go: decimal SI, binary SI,
// decimal exponent).

#include "common/kube/quantity.h"

#include <gtest/gtest.h>

#include <string>

namespace kubemetrics::kube {
namespace {

struct Case {
  const char* text;
  double expected;
};

TEST(KubeQuantityTest, CpuMillicores) {
  const Case cases[] = {
      {"250m", 250},    {"2", 2000}, {"0.5", 500},  {"100u", 0.1},    {"1", 1000},  {"1.5", 1500},
      {"500000n", 0.5}, {"1k", 1e6}, {"1e3", 1e6},  {"1E-3", 1},      {"+2", 2000}, {"-1", -1000},
      {"0", 0},         {".5", 500}, {"100m", 100}, {"1Ki", 1.024e6}, {"5.", 5000},
  };
  for (const Case& c : cases) {
    auto parsed = parseCpuMillicores(c.text);
    ASSERT_TRUE(parsed.has_value()) << c.text << ": " << parsed.error().message();
    EXPECT_DOUBLE_EQ(*parsed, c.expected) << c.text;
  }
}

TEST(KubeQuantityTest, PlainValues) {
  const Case cases[] = {
      {"128Mi", 134217728.0},
      {"1Ki", 1024},
      {"1Gi", 1073741824.0},
      {"2Ti", 2.0 * 1099511627776.0},
      {"1Pi", 1125899906842624.0},
      {"1Ei", 1152921504606846976.0},
      {"1k", 1000},
      {"5M", 5e6},
      {"1G", 1e9},
      {"1T", 1e12},
      {"1P", 1e15},
      {"1E", 1e18},
      {"500m", 0.5},
      {"1e3", 1000},
      {"1E3", 1000},
      {"1e+3", 1000},
      {"2e-3", 0.002},
      {"12345", 12345},
      {"1.5Gi", 1610612736.0},
      {"7972384Ki", 7972384.0 * 1024},
  };
  for (const Case& c : cases) {
    auto parsed = parseQuantity(c.text);
    ASSERT_TRUE(parsed.has_value()) << c.text << ": " << parsed.error().message();
    EXPECT_DOUBLE_EQ(*parsed, c.expected) << c.text;
  }
}

TEST(KubeQuantityTest, RejectsMalformedText) {
  for (const char* text : {"",     "12Q",  "1.2.3", "--1", "+",    "-",       ".",    "m",
                           "Mi",   "1 Mi", " 1",    "1K",  "1mi",  "1e",      "1e-",  "1e3.5",
                           "1ee3", "1Mii", "nan",   "inf", "0x10", "1e99999", "1e400"}) {
    auto cpu = parseCpuMillicores(text);
    auto plain = parseQuantity(text);
    EXPECT_FALSE(cpu.has_value()) << '"' << text << '"';
    ASSERT_FALSE(plain.has_value()) << '"' << text << '"';
    EXPECT_EQ(plain.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(plain.error().message(), "invalid quantity \"" + std::string(text) + "\"");
  }
}

}  // namespace
}  // namespace kubemetrics::kube
