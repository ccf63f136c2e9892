// PrometheusTarget against in-process HTTP servers on 127.0.0.1: labels,
// synthetic series, negotiation, and every fault of issue 4 (timeout,
// refused, 500, truncated, over the body limit, invalid UTF-8, a 10k-label
// line, over the sample limit).
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "common/scrape/prometheus_target.h"
#include "support/process.h"
#include "support/registry_value.h"

namespace kubemetrics::scrape {
namespace {

using kubemetrics::testing::registryValue;

// One loopback server; `handler` answers every GET.
class FakeTarget {
 public:
  explicit FakeTarget(httplib::Server::Handler handler) {
    server_.Get(".*", [this, handler](const httplib::Request& req, httplib::Response& res) {
      ++requests;
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_headers_ = req.headers;
      }
      handler(req, res);
    });
    port = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeTarget() {
    server_.stop();
    thread_.join();
  }
  std::string header(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = last_headers_.find(name);
    return it == last_headers_.end() ? "" : it->second;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/metrics"; }

  int port = 0;
  std::atomic<int> requests{0};

 private:
  httplib::Server server_;
  std::thread thread_;
  std::mutex mu_;
  httplib::Headers last_headers_;
};

TargetConfig config(const std::string& name, const std::string& url) {
  TargetConfig c;
  c.name = name;
  c.url = url;
  c.interval = std::chrono::seconds(5);
  c.timeout = std::chrono::seconds(2);
  return c;
}

// The first sample (not a staleness marker) of `name`, with label=value if given.
const Sample* find(const SampleBatch& b, std::string_view name, std::string_view label = {},
                   std::string_view value = {}) {
  for (const Sample& s : b.samples) {
    if (isStaleMarker(s.value)) continue;
    if (s.name.view() == name && (label.empty() || s.labels.get(label) == value)) return &s;
  }
  return nullptr;
}

// One scrape that must succeed.
SampleBatch scrapeOnce(PrometheusTarget& target) {
  SampleBatch out;
  EXPECT_TRUE(target.scrape(out, deadlineIn(std::chrono::seconds(5))));
  return out;
}

double upOf(const SampleBatch& b) {
  const Sample* up = find(b, "up");
  return up == nullptr ? -1 : up->value;
}

TEST(PrometheusTargetTest, LabelsSyntheticSeriesAndNegotiation) {
  FakeTarget server([](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        "# TYPE a gauge\na{job=\"scraped\",instance=\"orig\",exported_job=\"e\"} 1\nb{team=\"s\"} "
        "2\n",
        "text/plain; version=0.0.4");
  });
  prometheus::Registry registry;
  TargetConfig c = config("node", server.url());
  c.labels = {{"team", "t"}, {"env", "prod"}};
  PrometheusTarget target(c, "prometheus/node", &registry);
  SampleBatch out;
  auto r = target.scrape(out, deadlineIn(std::chrono::seconds(5)));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_NE(server.header("Accept").find("application/openmetrics-text;version=1.0.0"),
            std::string::npos);
  EXPECT_NE(server.header("Accept").find("text/plain;version=0.0.4;q=0.5"), std::string::npos);
  EXPECT_NE(server.header("Accept-Encoding").find("gzip"), std::string::npos);
  EXPECT_EQ(server.header("X-Prometheus-Scrape-Timeout-Seconds").substr(0, 1), "2");

  const std::string instance = "127.0.0.1:" + std::to_string(server.port);
  const Sample* a = find(out, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->labels.get("job"), "node");
  EXPECT_EQ(a->labels.get("instance"), instance);
  EXPECT_EQ(a->labels.get("exported_instance"), "orig");
  EXPECT_EQ(a->labels.get("exported_job"), "e");  // was taken: the scraped job goes one further
  EXPECT_EQ(a->labels.get("exported_exported_job"), "scraped");
  EXPECT_EQ(a->labels.get("env"), "prod");
  const Sample* b = find(out, "b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->labels.get("team"), "t");
  EXPECT_EQ(b->labels.get("exported_team"), "s");

  EXPECT_EQ(upOf(out), 1);
  const Sample* scraped = find(out, "scrape_samples_scraped");
  ASSERT_NE(scraped, nullptr);
  EXPECT_EQ(scraped->value, 2);
  EXPECT_EQ(scraped->labels.get("job"), "node");
  EXPECT_EQ(scraped->labels.get("instance"), instance);
  ASSERT_NE(find(out, "scrape_duration_seconds"), nullptr);
  ASSERT_NE(find(out, "scrape_samples_post_metric_relabeling"), nullptr);
  EXPECT_EQ(find(out, "scrape_series_added")->value, 2);
  EXPECT_EQ(r->samples, 7u);
  ASSERT_FALSE(out.metadata.empty());
  EXPECT_EQ(out.metadata[0].name.view(), "a");

  // Steady state: nothing new the second time.
  SampleBatch again;
  ASSERT_TRUE(target.scrape(again, deadlineIn(std::chrono::seconds(5))));
  EXPECT_EQ(find(again, "scrape_series_added")->value, 0);
  EXPECT_EQ(find(again, "a")->labels, a->labels);
}

TEST(PrometheusTargetTest, HonorLabelsKeepsScrapedValues) {
  FakeTarget server([](const httplib::Request&, httplib::Response& res) {
    res.set_content("a{job=\"scraped\",instance=\"orig\"} 1\nb 2\n", "text/plain");
  });
  TargetConfig c = config("fed", server.url());
  c.honor_labels = true;
  PrometheusTarget target(c, "prometheus/fed", nullptr);
  SampleBatch out;
  ASSERT_TRUE(target.scrape(out, deadlineIn(std::chrono::seconds(5))));
  EXPECT_EQ(find(out, "a")->labels.get("job"), "scraped");
  EXPECT_EQ(find(out, "a")->labels.get("instance"), "orig");
  EXPECT_FALSE(find(out, "a")->labels.contains("exported_job"));
  EXPECT_EQ(find(out, "b")->labels.get("job"), "fed");
}

TEST(PrometheusTargetTest, OpenMetricsGzipAndBearerToken) {
  kubemetrics::testing::TempDir dir;
  const std::string token_file = dir.write("token", "s3cret\n");
  FakeTarget server([](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") != "Bearer s3cret") {
      res.status = 401;
      return;
    }
    std::string body = "# TYPE c counter\n";
    for (int i = 0; i < 2000; ++i) body += "c_total{i=\"" + std::to_string(i) + "\"} 1 1.5\n";
    body += "# EOF\n";
    res.set_content(body, "application/openmetrics-text; version=1.0.0; charset=utf-8");
  });
  TargetConfig c = config("om", server.url());
  c.bearer_token_file = token_file;
  PrometheusTarget target(c, "prometheus/om", nullptr);
  SampleBatch out;
  auto r = target.scrape(out, deadlineIn(std::chrono::seconds(5)));
  ASSERT_TRUE(r) << r.error().message();
  const Sample* s = find(out, "c_total", "i", "1999");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->timestamp_ms, 1500);  // OpenMetrics seconds
  EXPECT_EQ(out.metadata[0].name.view(), "c_total");
}

struct Fault {
  const char* name;
  const char* reason;
  httplib::Server::Handler handler;
};

TEST(PrometheusTargetTest, FaultsGiveUpZeroAndACountedReason) {
  std::string many_labels = "many{";
  for (int i = 0; i < 10000; ++i) many_labels += "l" + std::to_string(i) + "=\"v\",";
  many_labels += "} 1\n";
  const std::vector<Fault> faults = {
      {"slow", "timeout",
       [](const httplib::Request&, httplib::Response& res) {
         std::this_thread::sleep_for(std::chrono::milliseconds(1500));
         res.set_content("a 1\n", "text/plain");
       }},
      {"status500", "http_status",
       [](const httplib::Request&, httplib::Response& res) {
         res.status = 500;
         res.set_content("<html>boom</html>", "text/html");
       }},
      {"truncated", "truncated",
       [](const httplib::Request&, httplib::Response& res) {
         res.set_content_provider(1000, "text/plain",
                                  [](std::size_t, std::size_t, httplib::DataSink& sink) {
                                    sink.write("a 1\nb 2\n", 8);
                                    return false;  // drop the connection mid-body
                                  });
       }},
      {"toolarge", "body_too_large",
       [](const httplib::Request&, httplib::Response& res) {
         res.set_content(std::string(300000, '#') + "\n", "text/plain");
       }},
      {"badutf8", "parse",
       [](const httplib::Request&, httplib::Response& res) {
         res.set_content("a{x=\"ok\"} 1\nb{x=\"\xff\xfe\"} 1\n", "text/plain");
       }},
      {"manylabels", "limit",
       [many_labels](const httplib::Request&, httplib::Response& res) {
         res.set_content(many_labels, "text/plain");
       }},
      {"samplelimit", "sample_limit",
       [](const httplib::Request&, httplib::Response& res) {
         std::string body;
         for (int i = 0; i < 50; ++i) body += "s" + std::to_string(i) + " 1\n";
         res.set_content(body, "text/plain");
       }},
  };
  prometheus::Registry registry;
  for (const Fault& fault : faults) {
    FakeTarget server(fault.handler);
    TargetConfig c = config(fault.name, server.url());
    c.timeout = std::chrono::milliseconds(500);
    c.max_body_bytes = 200000;
    c.max_samples = 10;
    PrometheusTarget target(c, std::string("prometheus/") + fault.name, &registry);
    SampleBatch out;
    auto r = target.scrape(out, deadlineIn(std::chrono::seconds(5)));
    ASSERT_FALSE(r) << fault.name;
    EXPECT_NE(r.error().message().find(server.url()), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find(std::string("(") + fault.reason + ")"), std::string::npos)
        << fault.name << ": " << r.error().message();
    EXPECT_EQ(upOf(out), 0) << fault.name;
    EXPECT_EQ(out.samples.size(), 5u) << fault.name << ": only the report survives";
    EXPECT_EQ(registryValue(
                  registry, "kubemetrics_prometheus_scrape_errors_total",
                  {{"target", std::string("prometheus/") + fault.name}, {"reason", fault.reason}}),
              1)
        << fault.name;
  }
  // Refused: nothing listens on the port.
  const int port = kubemetrics::testing::freeLoopbackPort();
  PrometheusTarget refused(
      config("refused", "http://127.0.0.1:" + std::to_string(port) + "/metrics"),
      "prometheus/refused", &registry);
  SampleBatch out;
  auto r = refused.scrape(out, deadlineIn(std::chrono::seconds(5)));
  ASSERT_FALSE(r);
  EXPECT_EQ(upOf(out), 0);
  EXPECT_EQ(registryValue(registry, "kubemetrics_prometheus_scrape_errors_total",
                          {{"target", "prometheus/refused"}, {"reason", "unreachable"}}),
            1);
}

TEST(PrometheusTargetTest, RecoversAfterAFailure) {
  std::atomic<bool> broken{true};
  FakeTarget server([&](const httplib::Request&, httplib::Response& res) {
    if (broken) {
      res.set_content("a{ 1\n", "text/plain");
    } else {
      res.set_content("a 1\n", "text/plain");
    }
  });
  PrometheusTarget target(config("flaky", server.url()), "prometheus/flaky", nullptr);
  SampleBatch first;
  EXPECT_FALSE(target.scrape(first, deadlineIn(std::chrono::seconds(5))));
  EXPECT_EQ(upOf(first), 0);
  broken = false;
  SampleBatch second;
  EXPECT_TRUE(target.scrape(second, deadlineIn(std::chrono::seconds(5))));
  EXPECT_EQ(upOf(second), 1);
  EXPECT_NE(find(second, "a"), nullptr);
}

TEST(PrometheusTargetTest, AddsTheAgentTagsOnceAndFollowsTheirChanges) {
  FakeTarget server([](const httplib::Request&, httplib::Response& res) {
    res.set_content("a{pod=\"p\"} 1\nb{cluster=\"own\"} 2\n", "text/plain");
  });
  RuntimeTags runtime;
  const AgentTags tags({{"cluster", "prod"}, {"node", "n1"}}, &runtime);
  PrometheusTarget target(config("app", server.url()), "prometheus/app", nullptr, &tags);

  const SampleBatch first = scrapeOnce(target);
  EXPECT_EQ(first.tags_version, tags.version());
  const Sample* a = find(first, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->labels.get("cluster"), "prod");
  EXPECT_EQ(a->labels.get("node"), "n1");
  EXPECT_EQ(a->labels.get("job"), "app");
  EXPECT_EQ(find(first, "b")->labels.get("cluster"), "own");  // the series' own label wins
  EXPECT_EQ(find(first, "up")->labels.get("node"), "n1");

  // The next scrape reuses the cached set: the same interned handle.
  const SampleBatch second = scrapeOnce(target);
  EXPECT_EQ(find(second, "a")->labels, a->labels);

  runtime.set({{"instance_id", "i-1"}});
  const SampleBatch third = scrapeOnce(target);
  EXPECT_EQ(third.tags_version, tags.version());
  EXPECT_EQ(find(third, "a")->labels.get("instance_id"), "i-1");
  EXPECT_EQ(find(third, "up")->labels.get("instance_id"), "i-1");
  EXPECT_EQ(find(third, "a")->labels.get("cluster"), "prod");
}

std::vector<const Sample*> markersOf(const SampleBatch& b) {
  std::vector<const Sample*> out;
  for (const Sample& s : b.samples) {
    if (isStaleMarker(s.value)) out.push_back(&s);
  }
  return out;
}

// A target whose body (or failure) the test sets between scrapes.
class ScriptedTarget {
 public:
  ScriptedTarget()
      : server_([this](const httplib::Request&, httplib::Response& res) {
          std::lock_guard<std::mutex> lock(mu_);
          // No keep-alive: stopping the server then need not wait for it.
          res.set_header("Connection", "close");
          if (status_ != 200) {
            res.status = status_;
            return;
          }
          res.set_content(body_, "text/plain; version=0.0.4");
        }) {}
  void serve(std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = 200;
    body_ = std::move(body);
  }
  void failWith(int status) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
  }
  std::string url() const { return server_.url(); }

 private:
  std::mutex mu_;
  std::string body_;
  int status_ = 200;
  FakeTarget server_;  // last: stopped first
};

TEST(PrometheusTargetTest, VanishedSeriesAreMarkedStaleOnce) {
  ScriptedTarget server;
  prometheus::Registry registry;
  PrometheusTarget target(config("app", server.url()), "prometheus/app", &registry);
  const auto markers = [&] {
    return registryValue(registry, "kubemetrics_prometheus_stale_markers_total",
                         {{"target", "prometheus/app"}});
  };
  server.serve("a 1\nb{pod=\"p1\"} 2\nb{pod=\"p2\"} 3\n");
  const SampleBatch first = scrapeOnce(target);
  EXPECT_TRUE(markersOf(first).empty());
  EXPECT_EQ(markers(), 0);

  server.serve("a 1\nb{pod=\"p2\"} 3\n");  // pod p1 went away
  const SampleBatch second = scrapeOnce(target);
  const auto marked = markersOf(second);
  ASSERT_EQ(marked.size(), 1u);
  const Sample* gone = find(first, "b", "pod", "p1");
  ASSERT_NE(gone, nullptr);
  EXPECT_EQ(marked[0]->name, gone->name);
  EXPECT_EQ(marked[0]->labels, gone->labels);  // job, instance and all
  EXPECT_EQ(std::bit_cast<std::uint64_t>(marked[0]->value), kStaleNaNBits);
  EXPECT_EQ(marked[0]->timestamp_ms, find(second, "up")->timestamp_ms);
  EXPECT_EQ(upOf(second), 1);
  EXPECT_EQ(find(second, "scrape_samples_scraped")->value, 2);  // markers are not scraped
  EXPECT_EQ(markers(), 1);

  // Once: later scrapes without it write nothing more.
  EXPECT_TRUE(markersOf(scrapeOnce(target)).empty());
  EXPECT_TRUE(markersOf(scrapeOnce(target)).empty());
  EXPECT_EQ(markers(), 1);

  // Back again: an ordinary series.
  server.serve("a 1\nb{pod=\"p1\"} 4\nb{pod=\"p2\"} 3\n");
  const SampleBatch back = scrapeOnce(target);
  EXPECT_TRUE(markersOf(back).empty());
  EXPECT_EQ(find(back, "b", "pod", "p1")->value, 4);
}

TEST(PrometheusTargetTest, FailedScrapeMarksEverySeriesButNotTheReport) {
  ScriptedTarget server;
  prometheus::Registry registry;
  PrometheusTarget target(config("app", server.url()), "prometheus/app", &registry);
  server.serve("a 1\nb 2\n");
  SampleBatch first;
  ASSERT_TRUE(target.scrape(first, deadlineIn(std::chrono::seconds(5))));

  server.failWith(503);
  SampleBatch failed;
  EXPECT_FALSE(target.scrape(failed, deadlineIn(std::chrono::seconds(5))));
  const auto marked = markersOf(failed);
  ASSERT_EQ(marked.size(), 2u);
  std::set<std::string> names;
  for (const Sample* m : marked) {
    names.insert(m->name.str());
    EXPECT_EQ(m->labels, find(first, m->name.view())->labels);
    EXPECT_EQ(m->timestamp_ms, find(failed, "up")->timestamp_ms);
  }
  EXPECT_EQ(names, (std::set<std::string>{"a", "b"}));
  // The report is written as usual: up = 0, none of it stale.
  EXPECT_EQ(upOf(failed), 0);
  EXPECT_EQ(failed.samples.size(), 2u + 5u);
  for (const char* name : {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                           "scrape_samples_post_metric_relabeling", "scrape_series_added"}) {
    ASSERT_NE(find(failed, name), nullptr) << name;
    EXPECT_FALSE(std::isnan(find(failed, name)->value)) << name;
  }
  EXPECT_EQ(registryValue(registry, "kubemetrics_prometheus_stale_markers_total",
                          {{"target", "prometheus/app"}}),
            2);

  // Still down: nothing more to mark.
  SampleBatch still;
  EXPECT_FALSE(target.scrape(still, deadlineIn(std::chrono::seconds(5))));
  EXPECT_TRUE(markersOf(still).empty());
  EXPECT_EQ(upOf(still), 0);

  // Up again, with `b` gone: nothing to mark (the last scrape kept nothing).
  server.serve("a 1\n");
  SampleBatch back;
  ASSERT_TRUE(target.scrape(back, deadlineIn(std::chrono::seconds(5))));
  EXPECT_TRUE(markersOf(back).empty());
  EXPECT_EQ(find(back, "a")->value, 1);
  EXPECT_EQ(registryValue(registry, "kubemetrics_prometheus_stale_markers_total",
                          {{"target", "prometheus/app"}}),
            2);
}

TEST(PrometheusTargetTest, UnreachableTargetMarksThePreviousScrape) {
  std::optional<ScriptedTarget> server(std::in_place);
  server->serve("a 1\n");
  PrometheusTarget target(config("app", server->url()), "prometheus/app", nullptr);
  SampleBatch first;
  ASSERT_TRUE(target.scrape(first, deadlineIn(std::chrono::seconds(5))));
  server.reset();  // nothing listens any more
  SampleBatch refused;
  EXPECT_FALSE(target.scrape(refused, deadlineIn(std::chrono::seconds(5))));
  ASSERT_EQ(markersOf(refused).size(), 1u);
  EXPECT_EQ(markersOf(refused)[0]->labels, find(first, "a")->labels);
  EXPECT_EQ(upOf(refused), 0);
}

TEST(PrometheusTargetTest, TagChangeMarksTheOldLabelSets) {
  ScriptedTarget server;
  server.serve("a 1\n");
  RuntimeTags runtime;
  const AgentTags tags({{"cluster", "prod"}}, &runtime);
  PrometheusTarget target(config("app", server.url()), "prometheus/app", nullptr, &tags);
  SampleBatch first;
  ASSERT_TRUE(target.scrape(first, deadlineIn(std::chrono::seconds(5))));
  runtime.set({{"instance_id", "i-1"}});
  SampleBatch second;
  ASSERT_TRUE(target.scrape(second, deadlineIn(std::chrono::seconds(5))));
  // Every series now has new labels: to a backend the old ones ended, the
  // target's up and scrape_* included (the target under its old labels is gone).
  const auto marked = markersOf(second);
  std::set<std::string> names;
  for (const Sample* m : marked) {
    names.insert(m->name.str());
    EXPECT_EQ(m->labels, find(first, m->name.view())->labels) << m->name.view();
    EXPECT_FALSE(m->labels.contains("instance_id"));
    EXPECT_EQ(m->timestamp_ms, find(second, "up", "instance_id", "i-1")->timestamp_ms);
  }
  EXPECT_EQ(names, (std::set<std::string>{
                       "a", "up", "scrape_duration_seconds", "scrape_samples_scraped",
                       "scrape_samples_post_metric_relabeling", "scrape_series_added"}));
  EXPECT_EQ(marked.size(), 6u);
  EXPECT_EQ(find(second, "a", "instance_id", "i-1")->value, 1);
  EXPECT_EQ(find(second, "up", "instance_id", "i-1")->value, 1);
  EXPECT_EQ(second.tags_version, tags.version());
  SampleBatch third;
  ASSERT_TRUE(target.scrape(third, deadlineIn(std::chrono::seconds(5))));
  EXPECT_TRUE(markersOf(third).empty());
}

TEST(PrometheusTargetTest, LeavesABatchWithOtherSamplesToThePipeline) {
  FakeTarget server([](const httplib::Request&, httplib::Response& res) {
    res.set_content("a 1\n", "text/plain");
  });
  const AgentTags tags(AgentTags::Tags{{"cluster", "prod"}});
  PrometheusTarget target(config("app", server.url()), "prometheus/app", nullptr, &tags);
  SampleBatch out;
  out.samples.push_back(Sample{Symbol::intern("earlier"), Labels(), 1, 1});
  ASSERT_TRUE(target.scrape(out, deadlineIn(std::chrono::seconds(5))));
  EXPECT_EQ(out.tags_version, 0u);
}

TEST(PrometheusTargetTest, LeavesPipelineOnlyTagsToThePipeline) {
  FakeTarget server([](const httplib::Request&, httplib::Response& res) {
    res.set_content("a{pod=\"p\"} 1\n", "text/plain");
  });
  RuntimeTags runtime;
  // `phase` is one the pipeline's Enricher adds, with precedence.
  const AgentTags tags({{"cluster", "prod"}}, &runtime,
                       [](std::string_view name) { return name == "phase"; });
  PrometheusTarget target(config("app", server.url()), "prometheus/app", nullptr, &tags);

  const SampleBatch tagged = scrapeOnce(target);
  EXPECT_EQ(tagged.tags_version, tags.version());
  EXPECT_EQ(find(tagged, "a")->labels.get("cluster"), "prod");

  runtime.set({{"phase", "unknown"}});
  const SampleBatch left = scrapeOnce(target);
  EXPECT_EQ(left.tags_version, 0u);
  EXPECT_FALSE(find(left, "a")->labels.contains("cluster"));
  EXPECT_FALSE(find(left, "a")->labels.contains("phase"));
  EXPECT_EQ(find(left, "a")->labels.get("job"), "app");
  // The report too (find() passes over the markers of its tagged labels).
  ASSERT_NE(find(left, "up"), nullptr);
  EXPECT_FALSE(find(left, "up")->labels.contains("cluster"));
}

}  // namespace
}  // namespace kubemetrics::scrape
