#include "exporters/prometheus/exposition_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace kubemetrics::exporters::prometheus {
namespace {

Labels labels(std::initializer_list<std::pair<std::string_view, std::string_view>> items) {
  LabelsBuilder builder;
  for (const auto& [name, value] : items) builder.set(name, value);
  return builder.build();
}

SeriesSnapshot series(std::string_view name, Labels l, double value, std::int64_t ts = 1000) {
  return SeriesSnapshot{Symbol::intern(name), std::move(l), value, ts, SteadyClock::time_point{}};
}

std::string render(std::vector<SeriesSnapshot> s, const FamilyInfoMap& families = {},
                   const std::unordered_set<std::string>& reserved = {},
                   ExpositionStats* stats = nullptr) {
  std::string out;
  ExpositionStats st = writeExposition(out, std::move(s), families, reserved);
  if (stats != nullptr) *stats = st;
  return out;
}

TEST(ExpositionWriterTest, EscapesLabelValuesAndHelp) {
  std::string out;
  appendLabelValue(out, "C:\\dir \"q\"\nnext");
  EXPECT_EQ(out, "C:\\\\dir \\\"q\\\"\\nnext");
  out.clear();
  appendHelp(out, "a \"quoted\" \\ help\nline");
  EXPECT_EQ(out, "a \"quoted\" \\\\ help\\nline");
}

// Long values are checked a word at a time: a byte to escape is found
// wherever it lies, in a full word or in the tail.
TEST(ExpositionWriterTest, EscapesABytePlacedAnywhereInALongValue) {
  const std::vector<std::pair<char, std::string>> label_escapes = {
      {'\\', "\\\\"}, {'\n', "\\n"}, {'"', "\\\""}, {'\xff', "\xef\xbf\xbd"}};
  for (const auto& [byte, escaped] : label_escapes) {
    for (std::size_t at = 0; at < 21; ++at) {
      std::string value(21, 'a');
      value[at] = byte;
      std::string out;
      appendLabelValue(out, value);
      EXPECT_EQ(out, std::string(at, 'a') + escaped + std::string(20 - at, 'a'))
          << "byte " << static_cast<int>(static_cast<unsigned char>(byte)) << " at " << at;
    }
  }
  // HELP text keeps its double quotes, wherever they are.
  for (std::size_t at = 0; at < 21; ++at) {
    std::string help(21, 'h');
    help[at] = '"';
    std::string out;
    appendHelp(out, help);
    EXPECT_EQ(out, help);
  }
}

TEST(ExpositionWriterTest, ReplacesInvalidUtf8) {
  std::string out;
  appendLabelValue(out, "caf\xc3\xa9 \xff \xe2\x82 \xed\xa0\x80 \xf0\x9f\x98\x80");
  EXPECT_EQ(
      out,
      "caf\xc3\xa9 \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
      "\xf0\x9f\x98\x80");
}

TEST(ExpositionWriterTest, FormatsValuesShortestRoundTrip) {
  auto text = [](double v) {
    std::string out;
    appendValue(out, v);
    return out;
  };
  EXPECT_EQ(text(0), "0");
  EXPECT_EQ(text(3), "3");
  EXPECT_EQ(text(0.1), "0.1");
  EXPECT_EQ(text(-2.5), "-2.5");
  EXPECT_EQ(text(1e21), "1e+21");
  EXPECT_EQ(text(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(text(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(text(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(text(-std::numeric_limits<double>::infinity()), "-Inf");
  // The longest texts there are: the page's size bound counts on 24 bytes.
  EXPECT_EQ(text(-std::numeric_limits<double>::min()), "-2.2250738585072014e-308");
  EXPECT_EQ(text(-std::numeric_limits<double>::max()), "-1.7976931348623157e+308");
  const double odd = 0.1 + 0.2;
  EXPECT_EQ(std::stod(text(odd)), odd);
}

TEST(ExpositionWriterTest, RendersSmallSetExactly) {
  const double inf = std::numeric_limits<double>::infinity();
  FamilyInfoMap families;
  families[Symbol::intern("node_cpu_seconds_total")] = {
      MetricType::kCounter, "Seconds the CPUs spent in each mode.", "host"};
  families[Symbol::intern("weird")] = {MetricType::kGauge, "Line one\nback\\slash", "host"};
  families[Symbol::intern("kubernetes.node.cpu.usage_rate")] = {MetricType::kUntyped, "",
                                                                "kubelet"};
  families[Symbol::intern("inf_metric")] = {MetricType::kGauge, "", "host"};
  std::vector<SeriesSnapshot> input;
  input.push_back(series("weird", labels({{"path", "C:\\dir"}, {"msg", "say \"hi\"\nbye"}}),
                         std::numeric_limits<double>::quiet_NaN()));
  input.push_back(series("node_cpu_seconds_total", labels({{"cpu", "0"}, {"mode", "user"}}), 5.5));
  input.push_back(series("node_cpu_seconds_total", labels({{"cpu", "0"}, {"mode", "idle"}}), 100));
  input.push_back(series("kubernetes.node.cpu.usage_rate", labels({{"nodename", "n1"}}), 0.25));
  input.push_back(series("inf_metric", labels({{"sign", "pos"}}), inf));
  input.push_back(series("inf_metric", labels({{"sign", "neg"}}), -inf));
  input.push_back(series("9lives.count", labels({{"pod.name", "p"}, {"1abc", "x"}}), 9));

  ExpositionStats stats;
  EXPECT_EQ(render(std::move(input), families, {}, &stats),
            "# HELP _9lives_count Collected by kubemetrics-agent.\n"
            "# TYPE _9lives_count untyped\n"
            "_9lives_count{_1abc=\"x\",pod_name=\"p\"} 9\n"
            "# HELP inf_metric Collected by kubemetrics-agent from source host.\n"
            "# TYPE inf_metric gauge\n"
            "inf_metric{sign=\"neg\"} -Inf\n"
            "inf_metric{sign=\"pos\"} +Inf\n"
            "# HELP kubernetes_node_cpu_usage_rate Collected by kubemetrics-agent from source "
            "kubelet.\n"
            "# TYPE kubernetes_node_cpu_usage_rate untyped\n"
            "kubernetes_node_cpu_usage_rate{nodename=\"n1\"} 0.25\n"
            "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
            "# TYPE node_cpu_seconds_total counter\n"
            "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 100\n"
            "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 5.5\n"
            "# HELP weird Line one\\nback\\\\slash\n"
            "# TYPE weird gauge\n"
            "weird{msg=\"say \\\"hi\\\"\\nbye\",path=\"C:\\\\dir\"} NaN\n");
  EXPECT_EQ(stats.families, 5u);
  EXPECT_EQ(stats.series, 7u);
  EXPECT_EQ(stats.duplicates, 0u);
}

// Many families whose series arrive interleaved and shuffled (as a hash
// map hands them over): each family comes out whole, in name order, its
// series in label order.
TEST(ExpositionWriterTest, GathersInterleavedSeriesIntoSortedFamilies) {
  std::vector<SeriesSnapshot> input;
  const std::vector<std::string> names = {"c_metric", "a_metric", "b_metric"};
  for (int pod = 0; pod < 40; ++pod) {
    for (const std::string& name : names) {
      input.push_back(series(name, labels({{"pod", "pod-" + std::to_string(100 + pod)}}), pod));
    }
  }
  std::mt19937 shuffle_seed(7);
  std::shuffle(input.begin(), input.end(), shuffle_seed);
  std::string expected;
  for (const std::string name : {"a_metric", "b_metric", "c_metric"}) {
    expected +=
        "# HELP " + name + " Collected by kubemetrics-agent.\n# TYPE " + name + " untyped\n";
    for (int pod = 0; pod < 40; ++pod) {
      expected +=
          name + "{pod=\"pod-" + std::to_string(100 + pod) + "\"} " + std::to_string(pod) + "\n";
    }
  }
  ExpositionStats stats;
  EXPECT_EQ(render(std::move(input), {}, {}, &stats), expected);
  EXPECT_EQ(stats.families, 3u);
  EXPECT_EQ(stats.series, 120u);
}

TEST(ExpositionWriterTest, SeriesCollidingAfterMappingEmitOnceLatestWins) {
  std::vector<SeriesSnapshot> input;
  input.push_back(series("a.b", labels({{"x", "1"}}), 1, 2000));
  input.push_back(series("a_b", labels({{"x", "1"}}), 2, 3000));  // latest
  input.push_back(series("a.b", labels({{"x", "2"}}), 3, 1000));
  ExpositionStats stats;
  EXPECT_EQ(render(std::move(input), {}, {}, &stats),
            "# HELP a_b Collected by kubemetrics-agent.\n"
            "# TYPE a_b untyped\n"
            "a_b{x=\"1\"} 2\n"
            "a_b{x=\"2\"} 3\n");
  EXPECT_EQ(stats.duplicates, 1u);
}

TEST(ExpositionWriterTest, LabelNamesCollidingAfterMappingKeepOne) {
  // Two names mapping to one label would make the page unparseable.
  EXPECT_EQ(render({series("m", labels({{"a.b", "dot"}, {"a_b", "underscore"}}), 1)}),
            "# HELP m Collected by kubemetrics-agent.\n"
            "# TYPE m untyped\n"
            "m{a_b=\"dot\"} 1\n");
}

TEST(ExpositionWriterTest, ChoosesTypesPromtoolAccepts) {
  FamilyInfoMap families;
  families[Symbol::intern("rx_bytes")] = {MetricType::kCounter, "h", "s"};
  families[Symbol::intern("restarts_total")] = {MetricType::kGauge, "h", "s"};
  families[Symbol::intern("queue_count")] = {MetricType::kGauge, "h", "s"};
  families[Symbol::intern("lat_bucket")] = {MetricType::kHistogram, "h", "s"};
  families[Symbol::intern("with_le")] = {MetricType::kGauge, "h", "s"};
  families[Symbol::intern("a.x")] = {MetricType::kGauge, "h", "s"};
  families[Symbol::intern("a_x")] = {MetricType::kCounter, "h", "s"};
  std::vector<SeriesSnapshot> input;
  for (const char* name :
       {"rx_bytes", "restarts_total", "queue_count", "lat_bucket", "with_le", "a.x", "a_x"}) {
    input.push_back(
        series(name, std::string_view(name) == "with_le" ? labels({{"le", "1"}}) : Labels(), 1));
  }
  const std::string page = render(std::move(input), families);
  EXPECT_NE(page.find("# TYPE rx_bytes untyped\n"), std::string::npos) << page;
  EXPECT_NE(page.find("# TYPE restarts_total untyped\n"), std::string::npos) << page;
  EXPECT_NE(page.find("# TYPE queue_count untyped\n"), std::string::npos) << page;
  EXPECT_NE(page.find("# TYPE lat_bucket untyped\n"), std::string::npos) << page;
  EXPECT_NE(page.find("# TYPE with_le untyped\n"), std::string::npos) << page;
  EXPECT_NE(page.find("# TYPE a_x untyped\n"), std::string::npos) << page;
}

TEST(ExpositionWriterTest, PrefersRealHelpWhenNamesMerge) {
  FamilyInfoMap families;
  families[Symbol::intern("b.c")] = {MetricType::kGauge, "", "s1"};
  families[Symbol::intern("b_c")] = {MetricType::kGauge, "Real help.", "s2"};
  EXPECT_EQ(render({series("b.c", Labels(), 1), series("b_c", labels({{"k", "v"}}), 2)}, families),
            "# HELP b_c Real help.\n"
            "# TYPE b_c gauge\n"
            "b_c 1\n"
            "b_c{k=\"v\"} 2\n");
}

TEST(ExpositionWriterTest, LeavesOutReservedFamilies) {
  ExpositionStats stats;
  EXPECT_EQ(render({series("kubemetrics_up", Labels(), 1), series("other", Labels(), 2)}, {},
                   {"kubemetrics_up"}, &stats),
            "# HELP other Collected by kubemetrics-agent.\n"
            "# TYPE other untyped\n"
            "other 2\n");
  EXPECT_EQ(stats.reserved_series, 1u);
}

TEST(ExpositionWriterTest, EmptyInputWritesNothing) { EXPECT_EQ(render({}), ""); }

}  // namespace
}  // namespace kubemetrics::exporters::prometheus
