#include "exporters/prometheus/prometheus_exporter.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/config/config_document.h"
#include "kubemetrics/config.h"
#include "support/component_context.h"
#include "support/gzip.h"
#include "support/process.h"

namespace kubemetrics::exporters::prometheus {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

Labels labels(std::initializer_list<std::pair<std::string_view, std::string_view>> items) {
  LabelsBuilder builder;
  for (const auto& [name, value] : items) builder.set(name, value);
  return builder.build();
}

Sample sample(std::string_view name, Labels l, double value, std::int64_t ts = 1000) {
  return Sample{Symbol::intern(name), std::move(l), value, ts};
}

struct FakeClock {
  SteadyClock::time_point now{seconds(1000)};
  PrometheusExporter::Clock fn() {
    return [this] { return now; };
  }
};

class PrometheusExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PrometheusEndpointConfig config;
    config.expire_after = minutes(5);
    auto created = PrometheusExporter::create(config, registry_, clock_.fn());
    ASSERT_TRUE(created) << created.error().message();
    exporter_ = std::move(*created);
  }

  void send(std::vector<Sample> samples, std::vector<MetricMetadata> metadata = {},
            std::string source = "host") {
    auto batch = std::make_shared<SampleBatch>();
    batch->source = std::move(source);
    batch->samples = std::move(samples);
    batch->metadata = std::move(metadata);
    ASSERT_TRUE(exporter_->send(std::move(batch)));
  }

  // The page without the agent's own metrics, which follow the collected ones.
  std::string collectedPart() {
    const std::string page = exporter_->render();
    const auto self = page.find("# HELP kubemetrics_prometheus_endpoint_");
    return self == std::string::npos ? page : page.substr(0, self);
  }

  ::prometheus::Registry registry_;
  FakeClock clock_;
  std::unique_ptr<PrometheusExporter> exporter_;
};

TEST_F(PrometheusExporterTest, RendersCollectedSeriesWithMetadata) {
  send({sample("kubernetes.node.cpu.usage_rate", labels({{"nodename", "n1"}}), 0.5),
        sample("node_cpu_seconds_total", labels({{"cpu", "1"}, {"mode", "idle"}}), 12),
        sample("node_cpu_seconds_total", labels({{"cpu", "0"}, {"mode", "idle"}}), 10),
        sample("weird", labels({{"v", "a\\b\"c\nd"}}), std::numeric_limits<double>::quiet_NaN())},
       {MetricMetadata{Symbol::intern("node_cpu_seconds_total"), MetricType::kCounter,
                       "Seconds the CPUs spent in each mode.", ""},
        MetricMetadata{Symbol::intern("weird"), MetricType::kGauge, "", ""}});
  EXPECT_EQ(collectedPart(),
            "# HELP kubernetes_node_cpu_usage_rate Collected by kubemetrics-agent from source "
            "host.\n"
            "# TYPE kubernetes_node_cpu_usage_rate untyped\n"
            "kubernetes_node_cpu_usage_rate{nodename=\"n1\"} 0.5\n"
            "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
            "# TYPE node_cpu_seconds_total counter\n"
            "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 10\n"
            "node_cpu_seconds_total{cpu=\"1\",mode=\"idle\"} 12\n"
            "# HELP weird Collected by kubemetrics-agent from source host.\n"
            "# TYPE weird gauge\n"
            "weird{v=\"a\\\\b\\\"c\\nd\"} NaN\n");
  EXPECT_EQ(exporter_->seriesCount(), 4u);
}

TEST_F(PrometheusExporterTest, LatestValueWins) {
  send({sample("m", labels({{"k", "v"}}), 1, 1000)});
  send({sample("m", labels({{"k", "v"}}), 2, 2000), sample("m", labels({{"k", "v"}}), 3, 3000)});
  EXPECT_EQ(collectedPart(),
            "# HELP m Collected by kubemetrics-agent from source host.\n"
            "# TYPE m untyped\n"
            "m{k=\"v\"} 3\n");
  // Backfill with an older timestamp does not replace the newer value.
  send({sample("m", labels({{"k", "v"}}), 99, 1500)});
  EXPECT_NE(collectedPart().find("m{k=\"v\"} 3\n"), std::string::npos);
  // Unstamped samples (timestamp 0) always replace.
  send({sample("m", labels({{"k", "v"}}), 4, 0)});
  EXPECT_NE(collectedPart().find("m{k=\"v\"} 4\n"), std::string::npos);
  EXPECT_EQ(exporter_->seriesCount(), 1u);
}

// An NTP correction steps the wall clock back an hour: new samples are
// older than the value held, which is now from the future. They must
// replace it, or the series would stay frozen for expire_after.
TEST_F(PrometheusExporterTest, ABackwardWallClockStepDoesNotFreezeSeries) {
  constexpr std::int64_t kBefore = 1'760'000'000'000;  // ms since the epoch
  constexpr std::int64_t kHour = 3'600'000;
  std::int64_t wall = kBefore;
  exporter_->setWallClockForTest([&wall] { return wall; });
  send({sample("m", labels({{"k", "v"}}), 1, kBefore)});
  wall = kBefore - kHour;  // stepped back
  send({sample("m", labels({{"k", "v"}}), 2, wall + 1000)});
  EXPECT_NE(collectedPart().find("m{k=\"v\"} 2\n"), std::string::npos) << collectedPart();
  // Backfill is still backfill once the clock is right again.
  send({sample("m", labels({{"k", "v"}}), 99, wall)});
  EXPECT_NE(collectedPart().find("m{k=\"v\"} 2\n"), std::string::npos) << collectedPart();
  // And a marker stamped after the step still ends the series.
  send({sample("m", labels({{"k", "v"}}), kStaleNaN, wall + 2000)});
  EXPECT_EQ(exporter_->seriesCount(), 0u);
}

TEST_F(PrometheusExporterTest, MetadataFromLaterBatchUpdatesType) {
  send({sample("g", Labels(), 1)});
  EXPECT_NE(collectedPart().find("# TYPE g untyped\n"), std::string::npos);
  send({sample("g", Labels(), 2)},
       {MetricMetadata{Symbol::intern("g"), MetricType::kGauge, "A gauge.", ""}});
  EXPECT_EQ(collectedPart(), "# HELP g A gauge.\n# TYPE g gauge\ng 2\n");
}

TEST_F(PrometheusExporterTest, ExpiresSeriesNotRefreshed) {
  send({sample("old", Labels(), 1), sample("kept", Labels(), 1)});
  clock_.now += minutes(3);
  send({sample("kept", Labels(), 2)});
  clock_.now += minutes(2) - seconds(1);
  // "old" is 4m59s old: still served.
  EXPECT_NE(collectedPart().find("\nold 1\n"), std::string::npos);
  clock_.now += seconds(1);
  const std::string page = exporter_->render();
  EXPECT_EQ(page.find("old"), std::string::npos) << page;
  EXPECT_NE(page.find("\nkept 2\n"), std::string::npos) << page;
  EXPECT_EQ(exporter_->seriesCount(), 1u);
  EXPECT_NE(page.find("\nkubemetrics_prometheus_endpoint_expired_series_total 1\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("\nkubemetrics_prometheus_endpoint_series 1\n"), std::string::npos) << page;
  // A series that comes back is served again.
  send({sample("old", Labels(), 5)});
  EXPECT_NE(collectedPart().find("\nold 5\n"), std::string::npos);
}

TEST_F(PrometheusExporterTest, StaleMarkerRemovesTheSeriesAtOnce) {
  send({sample("m", labels({{"pod", "a"}}), 1, 1000), sample("m", labels({{"pod", "b"}}), 2, 1000),
        sample("solo", Labels(), 3, 1000)},
       {MetricMetadata{Symbol::intern("solo"), MetricType::kGauge, "Alone.", ""}});
  EXPECT_EQ(exporter_->seriesCount(), 3u);
  // Pod a went away, and so did the only series of `solo`: off the page
  // now, not after expire_after, and never written as NaN.
  send({sample("m", labels({{"pod", "a"}}), kStaleNaN, 2000),
        sample("m", labels({{"pod", "b"}}), 2, 2000), sample("solo", Labels(), kStaleNaN, 2000)});
  EXPECT_EQ(exporter_->seriesCount(), 1u);
  const std::string page = collectedPart();
  EXPECT_EQ(page,
            "# HELP m Collected by kubemetrics-agent from source host.\n"
            "# TYPE m untyped\n"
            "m{pod=\"b\"} 2\n");
  EXPECT_EQ(exporter_->render().find("\nkubemetrics_prometheus_endpoint_expired_series_total 1"),
            std::string::npos);
  // A marker for a series not held adds nothing; an older one than the
  // value held is backfill and ignored.
  send({sample("never", Labels(), kStaleNaN, 3000),
        sample("m", labels({{"pod", "b"}}), kStaleNaN, 1500)});
  EXPECT_EQ(exporter_->seriesCount(), 1u);
  EXPECT_EQ(collectedPart().find("never"), std::string::npos);
  EXPECT_NE(collectedPart().find("m{pod=\"b\"} 2\n"), std::string::npos);
  // The series comes back: served again, its family's metadata too.
  send({sample("solo", Labels(), 4, 4000)},
       {MetricMetadata{Symbol::intern("solo"), MetricType::kGauge, "Alone.", ""}});
  EXPECT_NE(collectedPart().find("# TYPE solo gauge\nsolo 4\n"), std::string::npos);
  EXPECT_EQ(exporter_->seriesCount(), 2u);
}

// Two targets of one source, each told apart by its instance label.
TEST(PrometheusExporterSeriesLimitTest, ATargetAtItsSeriesLimitGetsNoNewSeriesUntilSomeLeave) {
  ::prometheus::Registry registry;
  FakeClock clock;
  PrometheusEndpointConfig config;
  config.max_series_per_target = 3;
  auto created = PrometheusExporter::create(config, registry, clock.fn());
  ASSERT_TRUE(created) << created.error().message();
  PrometheusExporter& exporter = **created;
  const auto send = [&](std::vector<Sample> samples, std::string source) {
    auto batch = std::make_shared<SampleBatch>();
    batch->source = std::move(source);
    batch->samples = std::move(samples);
    ASSERT_TRUE(exporter.send(std::move(batch)));
  };
  const auto churning = [](std::string_view instance, int id, double value = 1,
                           std::int64_t ts = 1000) {
    return sample("m", labels({{"instance", instance}, {"id", std::to_string(id)}}), value, ts);
  };
  const auto refused = [&](std::string_view source) {
    const std::string page = exporter.render();
    const std::string line = "\nkubemetrics_prometheus_endpoint_refused_samples_total{source=\"" +
                             std::string(source) + "\"} ";
    const auto at = page.find(line);
    return at == std::string::npos
               ? std::string("absent")
               : page.substr(at + line.size(), page.find('\n', at + 1) - at - line.size());
  };

  send({churning("a", 1), churning("a", 2), churning("a", 3), churning("a", 4), churning("b", 1)},
       "kubernetes_pods");
  EXPECT_EQ(exporter.seriesCount(), 4u);  // a: 1-3; b: 1
  EXPECT_EQ(refused("kubernetes_pods"), "1");
  // Held series are refreshed; another source with the same instance is
  // another target.
  send({churning("a", 1, 7), churning("a", 5)}, "kubernetes_pods");
  send({churning("a", 9)}, "listeners/remote_write");
  EXPECT_EQ(exporter.seriesCount(), 5u);
  EXPECT_EQ(refused("kubernetes_pods"), "2");
  EXPECT_EQ(refused("listeners/remote_write"), "absent");
  EXPECT_NE(exporter.render().find("m{id=\"1\",instance=\"a\"} 7"), std::string::npos);
  EXPECT_EQ(exporter.render().find("m{id=\"5\",instance=\"a\"}"), std::string::npos);

  // A series that ends makes room for one new series.
  send({churning("a", 2, kStaleNaN, 2000), churning("a", 5), churning("a", 6)}, "kubernetes_pods");
  EXPECT_EQ(exporter.seriesCount(), 5u);
  EXPECT_NE(exporter.render().find("m{id=\"5\",instance=\"a\"} 1"), std::string::npos);
  EXPECT_EQ(refused("kubernetes_pods"), "3");
  // So does expiry: every series of target a expires, then six arrive.
  clock.now += minutes(6);
  send({churning("b", 1), churning("a", 10), churning("a", 11), churning("a", 12),
        churning("a", 13), churning("a", 14), churning("a", 15)},
       "kubernetes_pods");
  EXPECT_EQ(exporter.seriesCount(), 4u);  // b: 1; a: 10-12 (a 9 of the listener expired)
  EXPECT_EQ(refused("kubernetes_pods"), "6");
}

TEST_F(PrometheusExporterTest, SendSweepsExpiredSeriesWithoutScrapes) {
  send({sample("a", Labels(), 1), sample("b", Labels(), 1)});
  clock_.now += minutes(10);
  send({sample("b", Labels(), 2)});
  EXPECT_EQ(exporter_->seriesCount(), 1u);
}

TEST_F(PrometheusExporterTest, AppendsSelfMetrics) {
  send({sample("x", Labels(), 1)});
  const std::string page = exporter_->render();
  EXPECT_NE(page.find("# TYPE kubemetrics_prometheus_endpoint_series gauge\n"
                      "kubemetrics_prometheus_endpoint_series 1\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("# TYPE kubemetrics_prometheus_endpoint_expired_series_total counter\n"
                      "kubemetrics_prometheus_endpoint_expired_series_total 0\n"),
            std::string::npos)
      << page;
  EXPECT_LT(page.find("\nx 1\n"), page.find("kubemetrics_prometheus_endpoint_series"));
}

TEST_F(PrometheusExporterTest, CollectedSeriesCannotShadowSelfMetrics) {
  send({sample("kubemetrics_prometheus_endpoint_series", Labels(), 42)});
  const std::string page = exporter_->render();
  EXPECT_EQ(page.find(" 42\n"), std::string::npos) << page;
  std::size_t helps = 0;
  for (auto at = page.find("# HELP kubemetrics_prometheus_endpoint_series ");
       at != std::string::npos;
       at = page.find("# HELP kubemetrics_prometheus_endpoint_series ", at + 1)) {
    ++helps;
  }
  EXPECT_EQ(helps, 1u) << page;
}

TEST_F(PrometheusExporterTest, ServesGetWithContentType) {
  send({sample("x", Labels(), 1)});
  HttpRequest get;
  get.method = "GET";
  get.path = "/metrics";
  const HttpResponse response = exporter_->serve(get);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(response.body.find("\nx 1\n"), std::string::npos);

  HttpRequest post = get;
  post.method = "POST";
  const HttpResponse refused = exporter_->serve(post);
  EXPECT_EQ(refused.status, 405);
  ASSERT_EQ(refused.headers.size(), 1u);
  EXPECT_EQ(refused.headers[0].first, "Allow");
}

TEST_F(PrometheusExporterTest, ServesTheCachedPageForCacheForThenARenderedOne) {
  send({sample("x", Labels(), 1, 1000)});
  HttpRequest get;
  get.method = "GET";
  get.path = "/metrics";
  EXPECT_NE(exporter_->serve(get).body.find("\nx 1\n"), std::string::npos);
  send({sample("x", Labels(), 2, 2000)});
  clock_.now += std::chrono::milliseconds(999);
  EXPECT_NE(exporter_->serve(get).body.find("\nx 1\n"), std::string::npos);  // cached
  clock_.now += std::chrono::milliseconds(1);
  const std::string page = exporter_->serve(get).body;
  EXPECT_NE(page.find("\nx 2\n"), std::string::npos);
  EXPECT_NE(page.find("kubemetrics_prometheus_endpoint_scrapes_total{result=\"cache_hit\"} 1\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("kubemetrics_prometheus_endpoint_renders_total{encoding=\"identity\"} 1\n"),
            std::string::npos)
      << page;  // the second render's page counts the first
}

TEST_F(PrometheusExporterTest, ServesGzipEncodedWhenAccepted) {
  std::vector<Sample> samples;
  for (int i = 0; i < 100; ++i)
    samples.push_back(sample("g", labels({{"i", std::to_string(i)}}), i));
  send(std::move(samples));
  HttpRequest get;
  get.method = "GET";
  get.path = "/metrics";
  const HttpResponse plain = exporter_->serve(get);
  get.headers.emplace_back("accept-encoding", "gzip, deflate");
  const HttpResponse gzipped = exporter_->serve(get);
  EXPECT_EQ(gzipped.status, 200);
  EXPECT_EQ(gzipped.content_type, plain.content_type);
  std::map<std::string, std::string> headers(gzipped.headers.begin(), gzipped.headers.end());
  EXPECT_EQ(headers["Content-Encoding"], "gzip");
  EXPECT_EQ(headers["Vary"], "Accept-Encoding");
  EXPECT_EQ(testing::gunzip(gzipped.body), plain.body);  // the same cached page
  for (const auto& [name, value] : plain.headers) EXPECT_NE(name, "Content-Encoding");
}

TEST(PrometheusExporterLimitTest, RefusesWith503WhenTooManyWait) {
  // Declared first: the render thread (stopped when the exporter's state
  // goes) still answers into these.
  std::mutex mu;
  std::vector<int> statuses;
  std::vector<std::pair<std::string, std::string>> refused_headers;
  ::prometheus::Registry registry;
  PrometheusEndpointConfig config;
  config.cache_for = std::chrono::milliseconds(0);
  config.max_waiting_scrapes = 1;
  auto created = PrometheusExporter::create(config, registry);
  ASSERT_TRUE(created);
  AsyncHttpHandler handler = (*created)->asyncHandler();
  HttpRequest get;
  get.method = "GET";
  // Fire requests without waiting for answers until one is refused; the
  // render thread takes at most one batch at a time, so the queue of one
  // fills within a few requests.
  for (int i = 0; i < 10000; ++i) {
    handler(get, [&](HttpResponse r) {
      std::lock_guard<std::mutex> lock(mu);
      statuses.push_back(r.status);
      if (r.status == 503) refused_headers = r.headers;
    });
    std::lock_guard<std::mutex> lock(mu);
    if (!refused_headers.empty()) break;
  }
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(refused_headers.empty());
  EXPECT_EQ(refused_headers.front().first, "Retry-After");
  EXPECT_EQ(refused_headers.front().second, "1");
}

TEST_F(PrometheusExporterTest, HandlerOutlivesExporter) {
  send({sample("x", Labels(), 7)});
  HttpHandler handler = exporter_->handler();
  exporter_->shutdown(SteadyClock::now());
  exporter_->shutdown(SteadyClock::now());  // idempotent
  exporter_.reset();
  HttpRequest get;
  get.method = "GET";
  EXPECT_NE(handler(get).body.find("\nx 7\n"), std::string::npos);
}

TEST_F(PrometheusExporterTest, ConcurrentSendAndRender) {
  std::atomic<bool> stop{false};
  std::thread scraper([&] {
    HttpRequest get;
    get.method = "GET";
    while (!stop.load()) {
      const HttpResponse r = exporter_->serve(get);
      EXPECT_EQ(r.status, 200);
    }
  });
  for (int round = 0; round < 200; ++round) {
    std::vector<Sample> samples;
    for (int i = 0; i < 50; ++i) {
      samples.push_back(sample("c", labels({{"i", std::to_string(i)}}), round, round + 1));
    }
    send(std::move(samples));
  }
  stop = true;
  scraper.join();
  EXPECT_EQ(exporter_->seriesCount(), 50u);
  EXPECT_NE(collectedPart().find("c{i=\"7\"} 199\n"), std::string::npos);
}

TEST(PrometheusExporterCreateTest, NameTakenByAnotherTypeIsAnError) {
  ::prometheus::Registry registry;
  ::prometheus::BuildCounter().Name("kubemetrics_prometheus_endpoint_series").Register(registry);
  auto created = PrometheusExporter::create(PrometheusEndpointConfig{}, registry);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), ErrorCode::kInternal);
}

// --- promtool ------------------------------------------------------------

struct PromtoolResult {
  int status = -1;
  std::string output;
};

PromtoolResult runPromtool(const std::string& page) {
  const std::string file = ::testing::TempDir() + "/promexp_page_" + std::to_string(::getpid()) +
                           "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                           ".txt";
  {
    std::ofstream out(file, std::ios::binary);
    out << page;
  }
  PromtoolResult result;
  const std::string command = "/usr/bin/promtool check metrics < '" + file + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int raw = ::pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::remove(file.c_str());
  return result;
}

// A page resembling a node with node_exporter, kubelet and a few odd
// sources: counters with and without _total, metadata-less Wavefront-style
// names with dots, histogram series, label values with quotes, backslashes
// and invalid UTF-8, label names that collide after mapping, and the agent's
// own metrics including a prometheus-cpp histogram.
std::string realisticPage(bool with_camel_case) {
  ::prometheus::Registry registry;
  auto& scrape_seconds =
      ::prometheus::BuildHistogram()
          .Name("kubemetrics_scrape_duration_seconds")
          .Help("Duration of one scrape.")
          .Register(registry)
          .Add({{"source", "host"}}, ::prometheus::Histogram::BucketBoundaries{0.01, 0.1, 1, 10});
  scrape_seconds.Observe(0.05);
  auto created = PrometheusExporter::create(PrometheusEndpointConfig{}, registry);
  EXPECT_TRUE(created);
  if (!created) return "";
  PrometheusExporter& exporter = **created;

  auto batch = std::make_shared<SampleBatch>();
  batch->source = "node-exporter";
  auto meta = [&](std::string_view name, MetricType type, std::string help) {
    batch->metadata.push_back(MetricMetadata{Symbol::intern(name), type, std::move(help), ""});
  };
  auto add = [&](std::string_view name, Labels l, double v) {
    batch->samples.push_back(sample(name, std::move(l), v));
  };
  meta("node_cpu_seconds_total", MetricType::kCounter, "Seconds the CPUs spent in each mode.");
  const char* modes[] = {"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"};
  for (int cpu = 0; cpu < 16; ++cpu) {
    for (const char* mode : modes) {
      add("node_cpu_seconds_total", labels({{"cpu", std::to_string(cpu)}, {"mode", mode}}),
          12345.67 + cpu);
    }
  }
  if (with_camel_case) {
    meta("node_memory_MemTotal_bytes", MetricType::kGauge, "Memory information field MemTotal.");
    add("node_memory_MemTotal_bytes", Labels(), 16777216000);
    meta("node_memory_MemAvailable_bytes", MetricType::kGauge,
         "Memory information field MemAvailable.");
    add("node_memory_MemAvailable_bytes", Labels(), 8388608000);
  }
  meta("node_memory_total_bytes", MetricType::kGauge, "Total memory in bytes.");
  add("node_memory_total_bytes", Labels(), 16777216000);
  meta("node_filesystem_avail_bytes", MetricType::kGauge,
       "Filesystem space available to non-root users in bytes.");
  for (const char* mount : {"/", "/boot", "/var/lib/kubelet", "/run"}) {
    add("node_filesystem_avail_bytes",
        labels({{"device", "/dev/nvme0n1p1"}, {"fstype", "ext4"}, {"mountpoint", mount}}), 1e10);
  }
  meta("node_network_receive_bytes_total", MetricType::kCounter,
       "Network device statistic receive_bytes.");
  for (const char* dev : {"eth0", "lo", "cni0", "veth1a2b3c"}) {
    add("node_network_receive_bytes_total", labels({{"device", dev}}), 123456789);
  }
  meta("node_load1", MetricType::kGauge, "1m load average.");
  add("node_load1", Labels(), 0.42);
  meta("node_boot_time_seconds", MetricType::kGauge, "Node boot time, in unixtime.");
  add("node_boot_time_seconds", Labels(), 1.7e9);
  // Counter without _total (emitted untyped), gauge with _total (untyped).
  meta("node_context_switches", MetricType::kCounter, "Context switches.");
  add("node_context_switches", Labels(), 987654321);
  meta("kube_pod_container_status_restarts_total", MetricType::kGauge, "Restarts.");
  add("kube_pod_container_status_restarts_total", labels({{"pod", "p"}}), 3);
  // A histogram as a scraper hands it over: one series per line.
  meta("http_request_duration_seconds", MetricType::kHistogram, "Request latency.");
  for (const char* le : {"0.1", "0.5", "1", "+Inf"}) {
    add("http_request_duration_seconds_bucket", labels({{"le", le}, {"handler", "/"}}), 10);
  }
  add("http_request_duration_seconds_sum", labels({{"handler", "/"}}), 3.5);
  add("http_request_duration_seconds_count", labels({{"handler", "/"}}), 10);
  add("rpc_latency", labels({{"quantile", "0.99"}}), 0.2);
  // Special values.
  meta("node_hwmon_temp_celsius", MetricType::kGauge, "Hardware monitor temperature.");
  add("node_hwmon_temp_celsius", labels({{"chip", "a"}}), std::numeric_limits<double>::quiet_NaN());
  add("node_hwmon_temp_celsius", labels({{"chip", "b"}}), std::numeric_limits<double>::infinity());
  add("node_hwmon_temp_celsius", labels({{"chip", "c"}}), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(exporter.send(batch));

  // Kubelet-style names with dots and no metadata, from a second source.
  auto kubelet = std::make_shared<SampleBatch>();
  kubelet->source = "kubelet";
  for (int pod = 0; pod < 100; ++pod) {
    const std::string name = "web-" + std::to_string(pod);
    kubelet->samples.push_back(
        sample("kubernetes.pod.memory.working_set",
               labels({{"namespace_name", "default"}, {"pod_name", name}, {"nodename", "n1"}}),
               1048576.0 * pod));
    kubelet->samples.push_back(sample(
        "kubernetes.pod_container.cpu.usage_rate",
        labels({{"pod_name", name}, {"container_name", "app"}, {"app.kubernetes.io/name", "web"}}),
        0.001 * pod));
  }
  kubelet->samples.push_back(
      sample("kubernetes.node.cpu.usage_rate", labels({{"nodename", "n1"}}), 1.25));
  kubelet->samples.push_back(
      sample("kubernetes.pod.label",
             labels({{"pod_name", "odd"}, {"note", "say \"hi\" C:\\tmp\\x\nok"}}), 1));
  kubelet->samples.push_back(sample(
      "kubernetes.pod.label", labels({{"pod_name", "bytes"}, {"note", "bad \xff\xfe utf8"}}), 1));
  kubelet->samples.push_back(
      sample("kubernetes.pod.collide", labels({{"a.b", "dot"}, {"a_b", "underscore"}}), 1));
  kubelet->samples.push_back(sample("kubemetrics_prometheus_endpoint_series", Labels(), 42));
  EXPECT_TRUE(exporter.send(kubelet));
  return exporter.render();
}

bool promtoolInstalled() { return ::access("/usr/bin/promtool", X_OK) == 0; }

TEST(PrometheusEndpointPromtoolTest, AcceptsRealisticPage) {
  if (!promtoolInstalled()) GTEST_SKIP() << "/usr/bin/promtool not installed";
  const std::string page = realisticPage(false);
  ASSERT_GT(std::count(page.begin(), page.end(), '\n'), 300);
  const PromtoolResult result = runPromtool(page);
  EXPECT_EQ(result.status, 0) << "promtool says:\n" << result.output << "\npage:\n" << page;
}

// node_exporter's own node_memory_MemTotal_bytes fails promtool's camelCase
// lint. The agent keeps source names (renaming would break every dashboard),
// so such a page parses (status 3, not 1) and the camelCase names are the
// only problems reported.
TEST(PrometheusEndpointPromtoolTest, OnlySourceChosenCamelCaseNamesAreFlagged) {
  if (!promtoolInstalled()) GTEST_SKIP() << "/usr/bin/promtool not installed";
  const std::string page = realisticPage(true);
  const PromtoolResult result = runPromtool(page);
  EXPECT_EQ(result.status, 3) << result.output;
  std::set<std::string> problems;
  std::istringstream lines(result.output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) problems.insert(line);
  }
  const std::set<std::string> expected = {
      "node_memory_MemAvailable_bytes metric names should be written in 'snake_case' not "
      "'camelCase'",
      "node_memory_MemTotal_bytes metric names should be written in 'snake_case' not "
      "'camelCase'"};
  EXPECT_EQ(problems, expected) << result.output;
}

// --- factory -------------------------------------------------------------

TEST(PrometheusEndpointFactoryTest, RegistersRouteAtConfiguredPath) {
  auto doc = ConfigDocument::parse("path: /custom\nexpire_after: 1m\n", "test");
  ASSERT_TRUE(doc->errors().empty());
  ConfigNode node = doc->root();
  testing::TestComponentContext test;
  auto& routes = test.routes.handlers;
  const ComponentContext& context = test.context;
  auto built = buildExporters(node, &context);
  ASSERT_TRUE(built) << built.error().message();
  ASSERT_EQ(built->size(), 1u);
  EXPECT_EQ((*built)[0]->name(), "prometheus");
  ASSERT_EQ(routes.count("/custom"), 1u);

  auto batch = std::make_shared<SampleBatch>();
  batch->source = "host";
  batch->samples.push_back(sample("up", Labels(), 1));
  ASSERT_TRUE((*built)[0]->send(batch));
  HttpRequest get;
  get.method = "GET";
  const HttpResponse response = routes["/custom"](get);
  EXPECT_EQ(response.status, 200);
  EXPECT_NE(response.body.find("\nup 1\n"), std::string::npos) << response.body;
  EXPECT_TRUE(doc->errors().empty());
}

TEST(PrometheusEndpointFactoryTest, DisabledServesOnlySelfMetricsAndValidationCreatesNothing) {
  auto doc = ConfigDocument::parse("enabled: false\n", "test");
  ConfigNode node = doc->root();
  testing::TestComponentContext test;
  auto& routes = test.routes.handlers;
  const ComponentContext& context = test.context;
  ::prometheus::BuildCounter()
      .Name("kubemetrics_push_sent_bytes_total")
      .Help("h")
      .Register(test.registry)
      .Add({})
      .Increment(7);
  auto built = buildExporters(node, &context);
  ASSERT_TRUE(built);
  EXPECT_TRUE(built->empty());  // the pipeline sends it nothing
  ASSERT_EQ(routes.count("/metrics"), 1u);
  HttpRequest get;
  get.method = "GET";
  const HttpResponse response = routes["/metrics"](get);
  EXPECT_EQ(response.status, 200);
  EXPECT_NE(response.body.find("\nkubemetrics_push_sent_bytes_total 7\n"), std::string::npos)
      << response.body;

  auto doc2 = ConfigDocument::parse("{}", "test");
  ConfigNode node2 = doc2->root();
  auto validated = buildExporters(node2, nullptr);
  ASSERT_TRUE(validated);
  EXPECT_TRUE(validated->empty());
  EXPECT_TRUE(doc2->errors().empty());
}

TEST(PrometheusEndpointFactoryTest, ATokenFileGuardsThePage) {
  const std::string token_file = ::testing::TempDir() + "/metrics-token";
  std::ofstream(token_file) << "s3cret\n";
  auto doc = ConfigDocument::parse("token_file: " + token_file + "\n", "test");
  ConfigNode node = doc->root();
  testing::TestComponentContext test;
  auto& routes = test.routes.handlers;
  auto built = buildExporters(node, &test.context);
  ASSERT_TRUE(built) << built.error().message();
  ASSERT_EQ(routes.count("/metrics"), 1u);

  HttpRequest get;
  get.method = "GET";
  HttpResponse refused = routes["/metrics"](get);
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.body.find("kubemetrics"), std::string::npos) << "the page leaked";
  bool challenge = false;
  for (const auto& [name, value] : refused.headers) challenge |= name == "WWW-Authenticate";
  EXPECT_TRUE(challenge);

  get.headers = {{"Authorization", "Bearer wrong"}};
  EXPECT_EQ(routes["/metrics"](get).status, 401);
  get.headers = {{"Authorization", "Bearer s3cret"}};
  EXPECT_EQ(routes["/metrics"](get).status, 200);
  std::remove(token_file.c_str());

  // A token file that cannot be read fails the start, naming the setting.
  auto missing_doc = ConfigDocument::parse("token_file: /nonexistent/token\n", "test");
  ConfigNode missing = missing_doc->root();
  testing::TestComponentContext other;
  auto failed = buildExporters(missing, &other.context);
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message().find("exporters.prometheus.token_file"), std::string::npos)
      << failed.error().message();
}

TEST(PrometheusEndpointFactoryTest, BasicAuthGuardsThePage) {
  testing::TempDir dir;
  const std::string password = dir.write("password", "s3cret\n");
  auto doc = ConfigDocument::parse(
      "basic_auth: {username: scraper, password_file: " + password + "}\n", "test");
  ConfigNode node = doc->root();
  testing::TestComponentContext test;
  auto& routes = test.routes.handlers;
  auto built = buildExporters(node, &test.context);
  ASSERT_TRUE(built) << built.error().message();
  HttpRequest get;
  get.method = "GET";
  HttpResponse refused = routes["/metrics"](get);
  EXPECT_EQ(refused.status, 401);
  bool challenge = false;
  for (const auto& [name, value] : refused.headers) {
    challenge |= name == "WWW-Authenticate" && value == "Basic realm=\"kubemetrics-agent\"";
  }
  EXPECT_TRUE(challenge);
  get.headers = {{"Authorization", "Basic c2NyYXBlcjpzM2NyZXQ="}};  // base64("scraper:s3cret")
  EXPECT_EQ(routes["/metrics"](get).status, 200);
}

}  // namespace
}  // namespace kubemetrics::exporters::prometheus
