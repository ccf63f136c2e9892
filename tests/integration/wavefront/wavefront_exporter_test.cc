// The wavefront exporter end to end on loopback: a fake proxy (TCP line
// port) and a fake direct-ingestion endpoint (httplib) receive what the
// exporter sends, decompress it themselves (zstd/zlib, not our helpers) and
// check every line with the independent validator, including the escaping
// cases and that invalid samples are absent and counted.

#include "exporters/wavefront/wavefront_exporter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <prometheus/registry.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zstd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "exporters/wavefront/tcp_transport.h"
#include "kubemetrics/labels.h"
#include "support/gzip.h"
#include "support/manual_clock.h"
#include "support/wait_for.h"
#include "unit/common/push/clock_steps.h"
#include "unit/exporters/wavefront/wavefront_line_validator.h"

namespace kubemetrics::exporters::wavefront {
namespace {

using namespace std::chrono_literals;
using testing::parseWavefrontLine;
using testing::strictlyValid;
using testing::WfLine;
using Tags = std::vector<std::pair<std::string, std::string>>;
using kubemetrics::testing::waitFor;

// --- decoding, written against the libraries directly ----------------------

std::string zstdInflate(const std::string& body) {
  const unsigned long long size = ZSTD_getFrameContentSize(body.data(), body.size());
  EXPECT_NE(size, ZSTD_CONTENTSIZE_ERROR);
  EXPECT_NE(size, ZSTD_CONTENTSIZE_UNKNOWN);
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) return {};
  std::string out(size, '\0');
  const std::size_t n = ZSTD_decompress(out.data(), out.size(), body.data(), body.size());
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

// --- what we send and what must arrive --------------------------------------

Sample makeSample(std::string_view name, double value, const Tags& tags) {
  LabelsBuilder builder;
  for (const auto& [k, v] : tags) builder.set(k, v);
  Sample s;
  s.name = Symbol::intern(name);
  s.labels = builder.build();
  s.value = value;
  s.timestamp_ms = 1700000000123;
  return s;
}

struct Expected {
  std::string name;
  std::string source;
  Tags tags;  // as the backend reads them back
};

struct Scenario {
  SharedBatch batch;
  std::map<std::string, Expected> expected;  // by metric name as received
  std::set<std::string> must_be_absent;      // names of invalid samples
  std::size_t bulk = 0;
};

Scenario makeScenario(std::size_t bulk) {
  auto batch = std::make_shared<SampleBatch>();
  Scenario sc;
  auto add = [&](std::string_view name, const Tags& tags, Expected e) {
    batch->samples.push_back(makeSample(name, 42.5, tags));
    sc.expected[e.name] = std::move(e);
  };
  const Tags common = {{"cluster", "prod-eks"}, {"node", "ip-10-0-0-1"}};
  auto with = [&](Tags extra) {
    Tags t = common;
    t.insert(t.end(), extra.begin(), extra.end());
    return t;
  };
  add("kube_pod_info", with({{"pod", "web-0"}}),
      {"kube_pod_info", "ip-10-0-0-1", with({{"pod", "web-0"}})});
  add("esc.quote", with({{"msg", "say \"hi\""}}),
      {"esc.quote", "ip-10-0-0-1", with({{"msg", "say \"hi\""}})});
  add("esc.space", with({{"path", "C:\\Program Files\\x"}}),
      {"esc.space", "ip-10-0-0-1", with({{"path", "C:\\Program Files\\x"}})});
  add("esc.trailing_backslash", with({{"dir", "C:\\"}}),
      {"esc.trailing_backslash", "ip-10-0-0-1", with({{"dir", "C:-"}})});
  add("esc.newline", with({{"text", "a\nb"}}),
      {"esc.newline", "ip-10-0-0-1", with({{"text", "a\\nb"}})});
  add("esc.utf8", with({{"city", "Z\xC3\xBCrich \xE2\x82\xAC"}}),
      {"esc.utf8", "ip-10-0-0-1", with({{"city", "Z\xC3\xBCrich \xE2\x82\xAC"}})});
  add("esc:colon/slash", with({{"app.kubernetes.io/name", "x"}}),
      {"esc-colon/slash", "ip-10-0-0-1", with({{"app.kubernetes.io-name", "x"}})});
  add("\xE2\x88\x86"
      "delta.count",
      with({}),
      {"\xE2\x88\x86"
       "delta.count",
       "ip-10-0-0-1", common});
  add("own.source", with({{"source", "my-app:8080"}}), {"own.source", "my-app-8080", common});
  add("no.node", {{"cluster", "prod-eks"}}, {"no.node", "agent-node", {{"cluster", "prod-eks"}}});
  // Invalid: must never arrive, each counted.
  auto bad = [&](std::string_view name, double value, const Tags& tags) {
    batch->samples.push_back(makeSample(name, value, tags));
    sc.must_be_absent.insert(std::string(name));
  };
  bad("drop.nan", std::nan(""), common);
  bad("drop.inf", INFINITY, common);
  Tags many = common;
  for (int i = 0; i < 19; ++i) many.emplace_back("t" + std::to_string(i), "v");
  bad("drop.too_many_tags", 1, many);
  bad("drop.long_value", 1, with({{"k", std::string(300, 'v')}}));
  bad(std::string(300, 'n'), 1, common);
  for (std::size_t i = 0; i < bulk; ++i) {
    const std::string name = "bulk.m" + std::to_string(i);
    batch->samples.push_back(makeSample(name, static_cast<double>(i), with({})));
    sc.expected[name] = {name, "ip-10-0-0-1", common};
  }
  sc.bulk = bulk;
  sc.batch = batch;
  return sc;
}

constexpr std::size_t kInvalidCount = 5;

void checkReceived(const Scenario& sc, const std::vector<std::string>& lines) {
  std::map<std::string, int> seen;
  for (const std::string& line : lines) {
    std::string error;
    const auto parsed = parseWavefrontLine(line, &error);
    ASSERT_TRUE(parsed) << error << "\n  line: " << line;
    ASSERT_TRUE(strictlyValid(line, *parsed, &error)) << error << "\n  line: " << line;
    EXPECT_EQ(sc.must_be_absent.count(parsed->name), 0u) << "invalid sample sent: " << line;
    const auto it = sc.expected.find(parsed->name);
    ASSERT_NE(it, sc.expected.end()) << "unexpected line: " << line;
    EXPECT_EQ(parsed->source, it->second.source) << line;
    Tags got = parsed->tags;
    Tags want = it->second.tags;
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << line;
    ASSERT_TRUE(parsed->timestamp.has_value()) << line;
    EXPECT_DOUBLE_EQ(*parsed->timestamp, 1700000000.123) << line;
    ++seen[parsed->name];
  }
  for (const auto& [name, e] : sc.expected)
    EXPECT_EQ(seen[name], 1) << "missing or repeated: " << name;
}

double metricValue(prometheus::Registry& registry, const std::string& family_name,
                   const std::string& label, const std::string& value) {
  double total = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name != family_name) continue;
    for (const auto& metric : family.metric) {
      for (const auto& l : metric.label) {
        if (l.name == label && l.value == value) total += metric.counter.value;
      }
    }
  }
  return total;
}

double invalidTotal(prometheus::Registry& registry) {
  double total = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name != "kubemetrics_wavefront_samples_invalid_total") continue;
    for (const auto& metric : family.metric) total += metric.counter.value;
  }
  return total;
}

WavefrontConfig baseConfig(const std::string& url) {
  WavefrontConfig config;
  config.enabled = true;
  config.url = url;
  config.push.spool.enabled = false;
  config.push.batch.max_samples = 64;  // several payloads per scenario
  config.push.batch.max_wait = 100ms;
  config.push.queue_capacity = 64;  // the scenario makes ~9 payloads at once; no spool here
  config.push.timeout = 5s;
  config.push.retry.initial_backoff = 50ms;
  config.push.retry.max_backoff = 2s;
  return config;
}

// --- fake proxy: TCP line port ----------------------------------------------

class FakeProxy {
 public:
  FakeProxy() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listen_fd_, 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~FakeProxy() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  std::uint16_t port() const { return port_; }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  int accepted() const { return accepted_; }
  /// Closes the current connection after it has delivered `n` lines.
  void closeAfter(std::size_t n) { close_after_ = n; }

 private:
  void run() {
    std::vector<pollfd> fds;
    std::map<int, std::string> partial;
    while (!stop_) {
      fds.clear();
      fds.push_back({listen_fd_, POLLIN, 0});
      for (const auto& [fd, buf] : partial) fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          partial[fd];
          ++accepted_;
        }
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[65536];
        const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
        std::string& pending = partial[fds[i].fd];
        if (n <= 0) {
          EXPECT_TRUE(pending.empty()) << "connection ended mid-line: " << pending;
          ::close(fds[i].fd);
          partial.erase(fds[i].fd);
          continue;
        }
        pending.append(buf, static_cast<std::size_t>(n));
        std::size_t nl;
        bool close_now = false;
        while ((nl = pending.find('\n')) != std::string::npos) {
          std::lock_guard<std::mutex> lock(mu_);
          lines_.push_back(pending.substr(0, nl));
          pending.erase(0, nl + 1);
          if (close_after_ != 0 && lines_.size() >= close_after_) close_now = true;
        }
        if (close_now) {
          close_after_ = 0;
          ::close(fds[i].fd);
          partial.erase(fds[i].fd);
        }
      }
    }
    for (const auto& [fd, buf] : partial) ::close(fd);
  }

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<std::size_t> close_after_{0};
  std::mutex mu_;
  std::vector<std::string> lines_;
};

TEST(WavefrontExporterIntegrationTest, TcpProxyReceivesValidLines) {
  FakeProxy proxy;
  prometheus::Registry registry;
  const Scenario sc = makeScenario(500);
  auto exporter = createWavefrontExporter(
      baseConfig("tcp://127.0.0.1:" + std::to_string(proxy.port())), "agent-node", registry);
  ASSERT_TRUE(exporter) << exporter.error().message();
  ASSERT_TRUE((*exporter)->send(sc.batch));
  (*exporter)->flushForTest();
  ASSERT_TRUE(waitFor([&] { return proxy.lines().size() >= sc.expected.size(); }))
      << proxy.lines().size() << " of " << sc.expected.size();
  (*exporter)->shutdown(deadlineIn(5s));
  checkReceived(sc, proxy.lines());
  EXPECT_EQ(proxy.lines().size(), sc.expected.size());
  // One persistent connection per sender thread (max_in_flight = 2), not one per payload.
  EXPECT_GE(proxy.accepted(), 1);
  EXPECT_LE(proxy.accepted(), 2);
  EXPECT_EQ(invalidTotal(registry), kInvalidCount);
  EXPECT_EQ(metricValue(registry, "kubemetrics_wavefront_samples_invalid_total", "reason",
                        "non_finite_value"),
            2);
  EXPECT_EQ((*exporter)->stats().sent_samples, sc.expected.size());
}

TEST(WavefrontTcpTransportTest, RefusedConnectionIsRetry) {
  // A port nobody listens on: bind one, close it, use its number.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  TcpProxyTransport transport({"127.0.0.1", ntohs(addr.sin_port)});
  push::EncodedPayload payload;
  payload.body = "m 1 source=s\n";
  const auto outcome = transport.deliver(payload, deadlineIn(2s));
  EXPECT_EQ(outcome.kind, push::DeliveryOutcome::Kind::kRetry);
  EXPECT_NE(outcome.message.find("127.0.0.1"), std::string::npos) << outcome.message;
  // Within the reconnect backoff the next attempt does not even connect.
  const auto again = transport.deliver(payload, deadlineIn(2s));
  EXPECT_EQ(again.kind, push::DeliveryOutcome::Kind::kRetry);
  EXPECT_NE(again.message.find("backoff"), std::string::npos) << again.message;
}

TEST(WavefrontTcpTransportTest, CancelEndsAWriteToAProxyThatStopsReading) {
  // A proxy that accepts and never reads: once the socket buffers are full
  // the write waits for its deadline (60 s here); the shutdown's cancel
  // ends it at once.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  TcpProxyTransport transport({"127.0.0.1", ntohs(addr.sin_port)});
  push::EncodedPayload payload;
  payload.body.assign(64 << 20, 'x');  // far more than the socket buffers hold
  auto pending =
      std::async(std::launch::async, [&] { return transport.deliver(payload, deadlineIn(60s)); });
  const int accepted = ::accept(listener, nullptr, nullptr);  // deliver() is connecting
  ASSERT_GE(accepted, 0);
  transport.cancel();
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);  // against a hang only
  const auto outcome = pending.get();
  EXPECT_EQ(outcome.kind, push::DeliveryOutcome::Kind::kRetry);
  EXPECT_NE(outcome.message.find("cancelled"), std::string::npos) << outcome.message;
  ::close(accepted);
  ::close(listener);
}

TEST(WavefrontTcpTransportTest, ReconnectsAfterTheProxyClosed) {
  FakeProxy proxy;
  TcpProxyTransport transport({"127.0.0.1", proxy.port()});
  proxy.closeAfter(1);
  push::EncodedPayload first;
  first.body = "a 1 source=s\n";
  EXPECT_EQ(transport.deliver(first, deadlineIn(2s)).kind, push::DeliveryOutcome::Kind::kDelivered);
  ASSERT_TRUE(waitFor([&] { return proxy.lines().size() == 1; }));
  // The proxy has closed: the transport notices before writing and reconnects.
  std::this_thread::sleep_for(50ms);
  push::EncodedPayload second;
  second.body = "b 2 source=s\n";
  EXPECT_EQ(transport.deliver(second, deadlineIn(2s)).kind,
            push::DeliveryOutcome::Kind::kDelivered);
  ASSERT_TRUE(waitFor([&] { return proxy.lines().size() == 2; }));
  EXPECT_EQ(proxy.lines()[1], "b 2 source=s");
  EXPECT_EQ(transport.connectsForTest(), 2u);
  EXPECT_EQ(proxy.accepted(), 2);
}

TEST(WavefrontTcpTransportTest, ReplaysCompressedSpoolRecordsAsPlainLines) {
  FakeProxy proxy;
  TcpProxyTransport transport({"127.0.0.1", proxy.port()});
  const std::string plain = "a 1 source=s\nb 2 source=s\n";
  push::EncodedPayload payload;
  payload.body.resize(ZSTD_compressBound(plain.size()));
  payload.body.resize(
      ZSTD_compress(payload.body.data(), payload.body.size(), plain.data(), plain.size(), 3));
  payload.content_encoding = "zstd";
  EXPECT_EQ(transport.deliver(payload, deadlineIn(2s)).kind,
            push::DeliveryOutcome::Kind::kDelivered);
  ASSERT_TRUE(waitFor([&] { return proxy.lines().size() == 2; }));
  EXPECT_EQ(proxy.lines()[0], "a 1 source=s");
  payload.body = "garbage";
  EXPECT_EQ(transport.deliver(payload, deadlineIn(2s)).kind, push::DeliveryOutcome::Kind::kDrop);
}

// --- fake direct ingestion: HTTP ---------------------------------------------

class FakeIngestion {
 public:
  /// `clock` stamps attemptTimes(): the exporter's clock.
  explicit FakeIngestion(const Clock& clock = systemClock()) : clock_(clock) {
    server_.Post("/report", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      ++requests_;
      if (!responses_.empty()) {
        const auto [status, retry_after] = responses_.front();
        responses_.erase(responses_.begin());
        if (!retry_after.empty()) res.set_header("Retry-After", retry_after);
        res.status = status;
        res.set_content(status == 400 ? "bad payload: line 3" : "try later", "text/plain");
        attempt_times_.push_back(clock_.now());
        return;
      }
      attempt_times_.push_back(clock_.now());
      format_param_ = req.get_param_value("f");
      authorization_ = req.get_header_value("Authorization");
      encoding_ = req.get_header_value("Content-Encoding");
      std::string body = req.body;
      if (encoding_ == "zstd") body = zstdInflate(body);
      // httplib (built with zlib) inflates a gzip request body itself and
      // answers 400 when it is not valid gzip; inflate here only if it did not.
      if (encoding_ == "gzip" && body.starts_with("\x1f\x8b"))
        body = kubemetrics::testing::gunzip(body);
      EXPECT_TRUE(body.empty() || body.back() == '\n');
      std::size_t start = 0;
      for (std::size_t nl; (nl = body.find('\n', start)) != std::string::npos; start = nl + 1) {
        lines_.push_back(body.substr(start, nl - start));
      }
      res.status = 202;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) std::this_thread::sleep_for(1ms);
  }
  ~FakeIngestion() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  void respondFirst(std::vector<std::pair<int, std::string>> responses) {
    std::lock_guard<std::mutex> lock(mu_);
    responses_ = std::move(responses);
  }
  std::string formatParam() {
    std::lock_guard<std::mutex> lock(mu_);
    return format_param_;
  }
  std::string authorization() {
    std::lock_guard<std::mutex> lock(mu_);
    return authorization_;
  }
  std::string encoding() {
    std::lock_guard<std::mutex> lock(mu_);
    return encoding_;
  }
  std::vector<SteadyClock::time_point> attemptTimes() {
    std::lock_guard<std::mutex> lock(mu_);
    return attempt_times_;
  }

 private:
  const Clock& clock_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<std::string> lines_;
  std::vector<std::pair<int, std::string>> responses_;
  std::vector<SteadyClock::time_point> attempt_times_;
  int requests_ = 0;
  std::string format_param_, authorization_, encoding_;
};

class WavefrontHttpTest : public ::testing::TestWithParam<std::string> {};

TEST_P(WavefrontHttpTest, DirectIngestionReceivesValidLines) {
  FakeIngestion backend;
  prometheus::Registry registry;
  const Scenario sc = makeScenario(300);
  WavefrontConfig config = baseConfig("http://127.0.0.1:" + std::to_string(backend.port()) + "/");
  config.compression = GetParam();
  config.token_env = "KM_WF_IT_TOKEN";
  ::setenv("KM_WF_IT_TOKEN", "s3cret-token", 1);
  auto exporter = createWavefrontExporter(config, "agent-node", registry);
  ::unsetenv("KM_WF_IT_TOKEN");
  ASSERT_TRUE(exporter) << exporter.error().message();
  ASSERT_TRUE((*exporter)->send(sc.batch));
  (*exporter)->flushForTest();
  ASSERT_TRUE(waitFor([&] { return backend.lines().size() >= sc.expected.size(); }))
      << backend.lines().size() << " of " << sc.expected.size();
  (*exporter)->shutdown(deadlineIn(5s));
  checkReceived(sc, backend.lines());
  EXPECT_EQ(backend.lines().size(), sc.expected.size());
  EXPECT_EQ(backend.formatParam(), "wavefront");
  EXPECT_EQ(backend.authorization(), "Bearer s3cret-token");
  EXPECT_EQ(backend.encoding(), GetParam() == "none" ? "" : GetParam());
  EXPECT_EQ(invalidTotal(registry), kInvalidCount);
  EXPECT_EQ((*exporter)->stats().sent_samples, sc.expected.size());
}

INSTANTIATE_TEST_SUITE_P(Compressions, WavefrontHttpTest,
                         ::testing::Values("zstd", "gzip", "none"));

TEST(WavefrontHttpRetryTest, RetriesOn500And429HonouringRetryAfterDropsOn400) {
  // Backoff and Retry-After by a manual clock, which stamps the attempts.
  kubemetrics::testing::ManualClock clock;
  FakeIngestion backend(clock);
  prometheus::Registry registry;
  WavefrontConfig config = baseConfig("http://127.0.0.1:" + std::to_string(backend.port()));
  config.push.batch.max_samples = 1000;
  backend.respondFirst({{500, ""}, {429, "1"}});
  auto exporter = createWavefrontExporter(config, "agent-node", registry, clock);
  ASSERT_TRUE(exporter) << exporter.error().message();
  kubemetrics::testing::ScopeExitStepping stop(clock,
                                               [&] { (*exporter)->shutdown(deadlineIn(5s)); });
  auto batch = std::make_shared<SampleBatch>();
  batch->samples.push_back(makeSample("retried.metric", 1, {{"node", "n"}}));
  ASSERT_TRUE((*exporter)->send(batch));
  (*exporter)->flushForTest();
  ASSERT_TRUE(kubemetrics::testing::stepUntil(clock, [&] { return backend.lines().size() == 1; }));
  const auto times = backend.attemptTimes();
  ASSERT_EQ(times.size(), 3u);
  EXPECT_GE(times[2] - times[1], 900ms) << "Retry-After: 1 not honoured";
  EXPECT_EQ(backend.lines()[0].rfind("retried.metric 1 ", 0), 0u) << backend.lines()[0];

  // 400: dropped for good, counted, never retried.
  backend.respondFirst({{400, ""}});
  auto bad = std::make_shared<SampleBatch>();
  bad->samples.push_back(makeSample("rejected.metric", 1, {{"node", "n"}}));
  ASSERT_TRUE((*exporter)->send(bad));
  (*exporter)->flushForTest();
  ASSERT_TRUE(waitFor([&] { return (*exporter)->stats().dropped_samples == 1; }));
  // Idle: the sender is done with the payload. One it meant to retry would
  // stay in flight, asleep in its backoff, until the clock moved on.
  ASSERT_TRUE(waitFor([&] { return (*exporter)->idleForTest(); }));
  EXPECT_EQ(backend.attemptTimes().size(), 4u);
  EXPECT_EQ(backend.lines().size(), 1u);
}

TEST(WavefrontExporterFactoryTest, MissingTokenFileFailsStartup) {
  prometheus::Registry registry;
  WavefrontConfig config = baseConfig("https://127.0.0.1:1/");
  config.token_file = "/nonexistent/wavefront-token";
  auto exporter = createWavefrontExporter(config, "agent-node", registry);
  ASSERT_FALSE(exporter);
  EXPECT_NE(exporter.error().message().find("token_file"), std::string::npos);
}

}  // namespace
}  // namespace kubemetrics::exporters::wavefront
