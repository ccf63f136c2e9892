// Self-metrics reach the push exporters that ask for them, and only those:
// the agent in-process scrapes one fake target and pushes to a fake
// remote-write receiver (self_metrics: true) and a fake Wavefront direct
// ingestion (the default, off). The receiver gets kubemetrics_* series,
// tagged and with job="kubemetrics-agent"; Wavefront gets the collected
// series and no kubemetrics_* line.
#include <gtest/gtest.h>
#include <httplib.h>
#include <snappy.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent.h"
#include "remote_write/remote_write.pb.h"
#include "support/counting_target.h"
#include "support/wait_for.h"

namespace kubemetrics {
namespace {

using namespace std::chrono_literals;
using testing::waitFor;

/// One received series: its labels (with __name__) and the values it got.
struct ReceivedSeries {
  std::map<std::string, std::string> labels;
  std::vector<double> values;
};

/// A remote-write receiver on 127.0.0.1 keeping every series it is sent.
class RecordingReceiver {
 public:
  RecordingReceiver() {
    server_.Post("/api/v1/write", [this](const httplib::Request& req, httplib::Response& res) {
      std::string raw;
      exporters::remote_write::pb::WriteRequest request;
      if (!snappy::Uncompress(req.body.data(), req.body.size(), &raw) ||
          !request.ParseFromString(raw)) {
        res.status = 400;
        return;
      }
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& ts : request.timeseries()) {
        ReceivedSeries series;
        for (const auto& label : ts.labels()) series.labels[label.name()] = label.value();
        for (const auto& sample : ts.samples()) series.values.push_back(sample.value());
        series_.push_back(std::move(series));
      }
      res.status = 204;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) std::this_thread::sleep_for(1ms);
  }
  ~RecordingReceiver() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  /// Every series received named `name` (one entry per request it was in).
  std::vector<ReceivedSeries> named(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<ReceivedSeries> out;
    for (const ReceivedSeries& s : series_) {
      if (s.labels.count("__name__") && s.labels.at("__name__") == name) out.push_back(s);
    }
    return out;
  }

 private:
  httplib::Server server_;
  std::mutex mu_;
  std::vector<ReceivedSeries> series_;
  int port_ = 0;
  std::thread thread_;
};

/// Wavefront direct ingestion on 127.0.0.1 (uncompressed) keeping every line.
class RecordingIngestion {
 public:
  RecordingIngestion() {
    server_.Post("/report", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      std::size_t start = 0;
      for (std::size_t nl; (nl = req.body.find('\n', start)) != std::string::npos; start = nl + 1) {
        lines_.push_back(req.body.substr(start, nl - start));
      }
      res.status = 202;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) std::this_thread::sleep_for(1ms);
  }
  ~RecordingIngestion() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  httplib::Server server_;
  std::mutex mu_;
  std::vector<std::string> lines_;
  int port_ = 0;
  std::thread thread_;
};

std::string agentYaml(const std::string& target_url, int remote_write_port, int wavefront_port,
                      const std::string& remote_write_extra) {
  return "cluster: itest\nnode: n1\nserver: {listen: 127.0.0.1:0}\n"
         "sources:\n"
         "  host: {enabled: false}\n"
         "  ec2: {enabled: false}\n"
         "  prometheus:\n"
         "    - {name: target, url: \"" +
         target_url +
         "\", interval: 200ms, timeout: 150ms}\n"
         "exporters:\n"
         "  prometheus: {enabled: false}\n"
         "  remote_write:\n"
         "    enabled: true\n"
         "    url: \"http://127.0.0.1:" +
         std::to_string(remote_write_port) +
         "/api/v1/write\"\n"
         "    batch: {max_wait: 100ms}\n" +
         remote_write_extra +
         "  wavefront:\n"
         "    enabled: true\n"
         "    url: \"http://127.0.0.1:" +
         std::to_string(wavefront_port) +
         "\"\n"
         "    compression: none\n"
         "    batch: {max_wait: 100ms}\n"
         "  spool: {enabled: false}\n";
}

TEST(SelfMetricsPushTest, OnlyTheExporterThatAsksReceivesTheSelfMetrics) {
  testing::CountingTarget target("selfm_collected", 2, 1000000);
  RecordingReceiver receiver;
  RecordingIngestion wavefront;
  auto agent = Agent::create(agentYaml(target.url(), receiver.port(), wavefront.port(),
                                       "    self_metrics: true\n    self_metrics_interval: 1s\n"),
                             "test");
  ASSERT_TRUE(agent) << agent.error().message();
  ASSERT_TRUE((*agent)->start());

  // Two self-metric collections (1 s apart) with the target's scrapes
  // counted: by then the wavefront exporter had every chance to get one.
  auto scrapes = [&] {
    std::vector<ReceivedSeries> found;
    for (ReceivedSeries& s : receiver.named("kubemetrics_scrapes_total")) {
      if (s.labels["source"] == "prometheus/target") found.push_back(std::move(s));
    }
    return found;
  };
  ASSERT_TRUE(waitFor([&] { return scrapes().size() >= 2; }, 15s)) << [&] {
    std::string seen;
    for (const ReceivedSeries& s : receiver.named("kubemetrics_scrapes_total")) {
      for (const auto& [name, value] : s.labels) seen += name + "=" + value + " ";
      seen += "\n";
    }
    return "kubemetrics_scrapes_total received:\n" + seen;
  }();
  ASSERT_TRUE(waitFor(
      [&] {
        for (const std::string& line : wavefront.lines()) {
          if (line.starts_with("selfm_collected ")) return true;
        }
        return false;
      },
      5s));
  (*agent)->stop();

  const ReceivedSeries first = scrapes().front();
  EXPECT_EQ(first.labels.at("job"), "kubemetrics-agent");
  EXPECT_EQ(first.labels.at("cluster"), "itest");
  EXPECT_EQ(first.labels.at("node"), "n1");
  ASSERT_FALSE(first.values.empty());
  EXPECT_GE(first.values.front(), 1);
  // A histogram arrives as _bucket{le}, _sum and _count series.
  bool inf_bucket = false;
  for (const ReceivedSeries& s :
       receiver.named("kubemetrics_exporter_push_request_duration_seconds_bucket")) {
    inf_bucket |= s.labels.count("le") != 0 && s.labels.at("le") == "+Inf" &&
                  s.labels.at("exporter") == "remote_write";
  }
  EXPECT_TRUE(inf_bucket);
  EXPECT_FALSE(receiver.named("kubemetrics_exporter_push_request_duration_seconds_count").empty());
  // The collected series still reach the receiver, without the job label.
  const auto collected = receiver.named("selfm_collected");
  ASSERT_FALSE(collected.empty());
  EXPECT_EQ(collected.front().labels.at("job"), "target");

  for (const std::string& line : wavefront.lines()) {
    EXPECT_EQ(line.find("kubemetrics"), std::string::npos) << line;
  }
}

TEST(SelfMetricsPushTest, WithoutTheOptionNoSelfMetricIsPushed) {
  testing::CountingTarget target("selfm_collected", 1, 1000000);
  RecordingReceiver receiver;
  RecordingIngestion wavefront;
  auto agent = Agent::create(agentYaml(target.url(), receiver.port(), wavefront.port(),
                                       "    self_metrics: false\n    self_metrics_interval: 1s\n"),
                             "test");
  ASSERT_TRUE(agent) << agent.error().message();
  const auto began = SteadyClock::now();
  ASSERT_TRUE((*agent)->start());
  // Two intervals' worth: with the option on, two collections would be out.
  ASSERT_TRUE(waitFor(
      [&] {
        return SteadyClock::now() - began > 2500ms && receiver.named("selfm_collected").size() >= 3;
      },
      10s));
  (*agent)->stop();
  EXPECT_TRUE(receiver.named("kubemetrics_scrapes_total").empty());
  EXPECT_TRUE(receiver.named("kubemetrics_build_info").empty());
}

TEST(SelfMetricsPushTest, AnIntervalUnderOneSecondIsAConfigError) {
  const ConfigCheck check =
      Agent::check(agentYaml("http://127.0.0.1:1/metrics", 1, 2,
                             "    self_metrics: true\n    self_metrics_interval: 500ms\n"),
                   "test");
  ASSERT_EQ(check.errors.size(), 1u);
  EXPECT_EQ(check.errors[0].path, "exporters.remote_write.self_metrics_interval");
  EXPECT_NE(check.errors[0].reason.find("at least 1s"), std::string::npos)
      << check.errors[0].reason;
}

}  // namespace
}  // namespace kubemetrics
