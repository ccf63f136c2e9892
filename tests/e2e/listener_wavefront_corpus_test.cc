// The Wavefront listener of the built agent against a corpus of valid and
// invalid lines (docs/listeners.md), sent once over plain TCP and once as an
// HTTP POST /report body. Every valid line must come out exactly once,
// exactly as written, both on the agent's /metrics page and at a fake
// Wavefront proxy the agent's wavefront exporter pushes to; every invalid
// line must be counted by its reason and appear nowhere.
#include <gtest/gtest.h>
#include <httplib.h>
#include <zlib.h>
#include <zstd.h>

#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/agent_process.h"
#include "support/backends.h"
#include "support/exposition.h"
#include "support/http_get.h"
#include "support/line_sink.h"
#include "support/loopback.h"
#include "support/process.h"
#include "support/wait_for.h"
#include "unit/exporters/wavefront/wavefront_line_validator.h"

namespace kubemetrics::testing {
namespace {

using namespace std::chrono_literals;
using Tags = std::map<std::string, std::string>;

constexpr const char* kCluster = "e2e-wf";
constexpr const char* kNode = "n1";
constexpr const char* kDelta = "\xE2\x88\x86";  // U+2206, a delta counter

/// A line the listener must forward, and the point it stands for.
struct ValidLine {
  std::string line;
  std::string name;
  double value = 0;
  std::optional<std::int64_t> timestamp_ms;  // none: the time of arrival
  std::string source;
  Tags tags;  // point tags besides the source, as written
};

struct InvalidLine {
  std::string line;
  std::string reason;  // of kubemetrics_listener_rejected_total
};

struct Corpus {
  std::vector<ValidLine> valid;
  std::vector<InvalidLine> invalid;
  std::string text;  // every line, valid and invalid interleaved, '\n' after each
};

/// The corpus for one transport: every metric name carries `p` ("tcp",
/// "http") so the two sends are told apart.
Corpus makeCorpus(const std::string& p) {
  Corpus c;
  std::vector<std::string> order;
  auto valid = [&](ValidLine v) {
    order.push_back(v.line);
    c.valid.push_back(std::move(v));
  };
  auto invalid = [&](std::string line, std::string reason) {
    order.push_back(line);
    c.invalid.push_back({std::move(line), std::move(reason)});
  };
  const std::string e = "e2e." + p + ".";
  valid({"\"" + e + "quoted,name/x\" 1.5 1700000000 source=app1 env=prod",
         e + "quoted,name/x",
         1.5,
         1700000000000,
         "app1",
         {{"env", "prod"}}});
  invalid(e + "bad.missing", "missing_value");
  valid({e + "escaped 2 source=app1 msg=\"say \\\"hi\\\"\"",
         e + "escaped",
         2,
         std::nullopt,
         "app1",
         {{"msg", "say \"hi\""}}});
  valid({e + "spaces 3 1700000001 source=app1 path=\"C:/Program Files/x\" team = \"a b c\"",
         e + "spaces",
         3,
         1700000001000,
         "app1",
         {{"path", "C:/Program Files/x"}, {"team", "a b c"}}});
  invalid(e + "bad.missing2 source=app1", "missing_value");
  valid({e + "no_ts 4 source=app1", e + "no_ts", 4, std::nullopt, "app1", {}});
  invalid(e + "bad.number abc source=app1", "bad_value");
  valid({e + "ms 5 1700000000123 source=app1", e + "ms", 5, 1700000000123, "app1", {}});
  valid({e + "ns 6 1700000000123456789 source=app1", e + "ns", 6, 1700000000123, "app1", {}});
  invalid(e + "bad.nan NaN source=app1", "bad_value");
  valid({e + "us 7 1700000000123456 source=app1", e + "us", 7, 1700000000123, "app1", {}});
  valid({e + "frac 8 1700000000.5 source=app1", e + "frac", 8, 1700000000500, "app1", {}});
  invalid("\"" + e + "bad.unterminated 1 source=app1", "unterminated_quote");
  // Over the 32 KiB line limit: rejected alone, the lines after it go on.
  invalid(e + "bad.long 1 source=app1 k=\"" + std::string(40000, 'x') + "\"", "line_too_long");
  valid({e + "host 9 host=h1 k=v", e + "host", 9, std::nullopt, "h1", {{"k", "v"}}});
  valid({e + "nosource 10 k=v", e + "nosource", 10, std::nullopt, "127.0.0.1", {{"k", "v"}}});
  invalid(e + "bad.unterminated2 1 source=app1 k=\"open", "unterminated_quote");
  valid({e + "sci -2.5E-3 source=app1", e + "sci", -2.5e-3, std::nullopt, "app1", {}});
  valid({"'" + e + "single' 12 source=app1 who='it\\'s'",
         e + "single",
         12,
         std::nullopt,
         "app1",
         {{"who", "it's"}}});
  std::string tags21;
  for (int i = 0; i < 21; ++i) tags21 += " t" + std::to_string(i) + "=v" + std::to_string(i);
  invalid(e + "bad.tags21 1 source=app1" + tags21, "too_many_tags");
  valid({e + "tabs\t13\tsource=app1\tk=v", e + "tabs", 13, std::nullopt, "app1", {{"k", "v"}}});
  valid({e + "eq 14 source=app1 q=\"a=b\"", e + "eq", 14, std::nullopt, "app1", {{"q", "a=b"}}});
  invalid(e + "bad:name 1 source=app1", "bad_name");
  valid({kDelta + e + "delta 15 source=app1", kDelta + e + "delta", 15, std::nullopt, "app1", {}});
  invalid(e + "bad.tag 1 source=app1 novalue", "bad_tag");
  valid({e + "crlf 16 source=app1\r", e + "crlf", 16, std::nullopt, "app1", {}});
  invalid(e + "bad.ts 1 12abc source=app1", "bad_timestamp");
  valid({e + "backslash 17 source=app1 dir=\"C:\\dir\"",
         e + "backslash",
         17,
         std::nullopt,
         "app1",
         {{"dir", "C:\\dir"}}});
  invalid(kDelta + e + "bad.delta -1 source=app1", "non_positive_delta");
  // 18 point tags: with the agent's cluster and node, 20, Wavefront's limit.
  ValidLine tags18{e + "tags18 18 source=app1", e + "tags18", 18, std::nullopt, "app1", {}};
  for (int i = 0; i < 18; ++i) {
    tags18.line += " t" + std::to_string(i) + "=v" + std::to_string(i);
    tags18.tags["t" + std::to_string(i)] = "v" + std::to_string(i);
  }
  valid(tags18);
  // Skipped, not rejected.
  order.push_back("");
  order.push_back("# a comment");
  valid({e + "last 19 source=app1", e + "last", 19, std::nullopt, "app1", {}});
  for (const std::string& line : order) c.text += line + "\n";
  return c;
}

/// The tags every forwarded point carries besides its own: the pipeline's.
Tags withAgentTags(Tags tags) {
  tags["cluster"] = kCluster;
  tags["node"] = kNode;
  return tags;
}

/// exporters.prometheus' name mapping (docs/configuration.md): every byte
/// outside [a-zA-Z0-9_:] becomes '_'.
std::string prometheusName(const std::string& name) {
  std::string out;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == ':';
    out.push_back(ok ? c : '_');
  }
  return out;
}

/// gzip and zstd encoders written on zlib and libzstd directly, not on
/// the agent's codecs.
std::string gzipCompress(const std::string& text) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, text.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string zstdCompress(const std::string& text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

std::string agentYaml(int listener_port, int sink_port, const std::string& spool_dir) {
  return std::string("cluster: ") + kCluster + "\nnode: " + kNode +
         "\n"
         "sources:\n"
         "  host: {enabled: false}\n"
         "  ec2: {enabled: false}\n"
         "  listeners:\n"
         "    wavefront: {enabled: true, listen: \"127.0.0.1:" +
         std::to_string(listener_port) +
         "\"}\n"
         "exporters:\n"
         // /metrics is read once the sink has every line: no page cache.
         "  prometheus: {cache_for: 0s}\n"
         "  wavefront:\n"
         "    enabled: true\n"
         "    url: \"tcp://127.0.0.1:" +
         std::to_string(sink_port) +
         "\"\n"
         "    batch: {max_wait: 100ms}\n"
         "  spool: {dir: \"" +
         spool_dir + "\"}\n";
}

std::string rejectedLabels(const std::string& reason) {
  return "listener=\"wavefront\",reason=\"" + reason + "\"";
}

class ListenerWavefrontCorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    listener_port_ = freeLoopbackPort();
    const std::string config =
        dir_.write("agent.yaml", agentYaml(listener_port_, sink_.port(), dir_.path() + "/spool"));
    agent_ = AgentProcess::start({"--config", config});
    ASSERT_GT(agent_.port, 0) << agent_.process->output();
    ASSERT_TRUE(agent_.process->waitForOutput("sources.listeners.wavefront on", 10s))
        << agent_.process->output();
  }

  double received() const {
    return agent_.metric("kubemetrics_listener_received_samples_total", "listener=\"wavefront\"");
  }

  /// Waits for `corpus`' valid lines at the sink and on the page, then
  /// checks each one, the rejection counts (`times` sends of the corpus so
  /// far) and that no invalid line got through.
  void expectForwardedExactly(const Corpus& corpus, const std::string& prefix,
                              std::int64_t sent_from_ms, double received_before, int times) {
    const double want = received_before + static_cast<double>(corpus.valid.size());
    ASSERT_TRUE(waitFor([&] { return received() >= want; }, 30s))
        << "received " << received() << " of " << want << "\n"
        << agent_.process->output();
    EXPECT_EQ(received(), want);
    // Points without a timestamp got the time they were parsed: by now.
    const std::int64_t sent_to_ms = nowMs();

    // At the sink: one line per valid line, parsed by an independent reader.
    std::map<std::string, std::vector<exporters::wavefront::testing::WfLine>> at_sink;
    auto collect = [&] {
      at_sink.clear();
      for (const std::string& raw : sink_.lines()) {
        std::string error;
        auto line = exporters::wavefront::testing::parseWavefrontLine(raw, &error);
        EXPECT_TRUE(line) << error << ": " << raw;
        if (line) at_sink[line->name].push_back(*line);
      }
      for (const ValidLine& v : corpus.valid) {
        if (!at_sink.contains(v.name)) return false;
      }
      return true;
    };
    EXPECT_TRUE(waitFor(collect, 30s)) << sink_.lines().size() << " lines at the sink";
    for (const ValidLine& v : corpus.valid) {
      SCOPED_TRACE(v.line.substr(0, 120));
      const auto& got = at_sink[v.name];
      ASSERT_EQ(got.size(), 1u) << "forwarded " << got.size() << " times";
      const auto& line = got.front();
      EXPECT_EQ(line.value, v.value);
      ASSERT_TRUE(line.source);
      EXPECT_EQ(*line.source, v.source);
      Tags tags(line.tags.begin(), line.tags.end());
      EXPECT_EQ(tags, withAgentTags(v.tags));
      ASSERT_TRUE(line.timestamp);
      const auto ts_ms = static_cast<std::int64_t>(std::llround(*line.timestamp * 1000));
      if (v.timestamp_ms) {
        EXPECT_EQ(ts_ms, *v.timestamp_ms);
      } else {
        // The time of arrival; the sink has it to the millisecond.
        EXPECT_GE(ts_ms, sent_from_ms - 1);
        EXPECT_LE(ts_ms, sent_to_ms + 1);
      }
    }

    // On /metrics: one series per valid line, its labels = tags + source.
    const std::string page = metricsPage(agent_.port);
    for (const ValidLine& v : corpus.valid) {
      SCOPED_TRACE(v.line.substr(0, 120));
      const auto series = exposedSeries(page, prometheusName(v.name));
      ASSERT_EQ(series.size(), 1u) << prometheusName(v.name);
      Tags want_labels = withAgentTags(v.tags);
      want_labels["source"] = v.source;
      EXPECT_EQ(series.front().labels, want_labels);
      EXPECT_EQ(std::stod(series.front().value), v.value) << series.front().value;
    }

    // Every invalid line counted by its reason, and nowhere to be seen.
    std::map<std::string, int> reasons;
    for (const InvalidLine& bad : corpus.invalid) ++reasons[bad.reason];
    for (const auto& [reason, count] : reasons) {
      const double want_count = count * times;
      // A copy: clang 14 cannot capture a structured binding in a lambda.
      const std::string labels = rejectedLabels(reason);
      EXPECT_TRUE(waitFor(
          [&] {
            return agent_.metric("kubemetrics_listener_rejected_total", labels) >= want_count;
          },
          10s));
      EXPECT_EQ(agent_.metric("kubemetrics_listener_rejected_total", rejectedLabels(reason)),
                want_count)
          << reason;
    }
    for (const std::string& raw : sink_.lines()) {
      EXPECT_EQ(raw.find("e2e." + prefix + ".bad"), std::string::npos) << raw.substr(0, 120);
    }
    EXPECT_EQ(page.find("e2e_" + prefix + "_bad"), std::string::npos);
  }

  TempDir dir_;
  LineSink sink_;
  int listener_port_ = -1;
  AgentProcess agent_;
};

TEST_F(ListenerWavefrontCorpusTest, TcpAndReportForwardValidLinesExactlyAndCountInvalidOnes) {
  // Plain TCP: the corpus in one connection, written in pieces that split
  // lines (a line may arrive over several reads).
  const Corpus tcp = makeCorpus("tcp");
  const std::int64_t tcp_from = nowMs();
  {
    const int fd = connectToLoopback(listener_port_);
    ASSERT_GE(fd, 0);
    for (std::size_t at = 0; at < tcp.text.size(); at += 997) {
      ASSERT_TRUE(sendAll(fd, std::string_view(tcp.text).substr(at, 997)));
    }
    ::close(fd);
  }
  ASSERT_NO_FATAL_FAILURE(expectForwardedExactly(tcp, "tcp", tcp_from, 0, 1));
  // The first rejected line is logged with its reason and first bytes
  // (later ones are rate-limited).
  EXPECT_NE(agent_.process->output().find("(missing_value): \"e2e.tcp.bad.missing\""),
            std::string::npos)
      << agent_.process->output();

  // HTTP POST /report: the same corpus (other names) in one body, plain,
  // gzip and zstd, the three requests on one keep-alive connection (the
  // port tells HTTP from lines per connection: the second request must
  // still be read as HTTP).
  httplib::Client client("127.0.0.1", listener_port_);
  client.set_read_timeout(10, 0);
  client.set_keep_alive(true);
  std::vector<Corpus> sent = {tcp};
  for (const std::string encoding : {"identity", "gzip", "zstd"}) {
    SCOPED_TRACE("POST /report, Content-Encoding " + encoding);
    const std::string prefix = encoding == "identity" ? "http" : encoding;
    const Corpus http = makeCorpus(prefix);
    const double received_before = received();
    const std::int64_t http_from = nowMs();
    httplib::Headers headers;
    std::string body = http.text;
    if (encoding != "identity") {
      headers.emplace("Content-Encoding", encoding);
      body = encoding == "gzip" ? gzipCompress(body) : zstdCompress(body);
    }
    auto res = client.Post("/report", headers, body, "text/plain");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 202) << res->body;
    EXPECT_EQ(res->body, "accepted " + std::to_string(http.valid.size()) + " points\n");
    sent.push_back(http);
    ASSERT_NO_FATAL_FAILURE(expectForwardedExactly(http, prefix, http_from, received_before,
                                                   static_cast<int>(sent.size())));
  }

  // Every line of every round is still there exactly once: nothing was sent
  // twice since.
  std::map<std::string, int> names;
  for (const std::string& raw : sink_.lines()) {
    std::string error;
    if (auto line = exporters::wavefront::testing::parseWavefrontLine(raw, &error)) {
      ++names[line->name];
    }
  }
  std::size_t valid = 0;
  for (const Corpus& corpus : sent) {
    for (const ValidLine& v : corpus.valid) EXPECT_EQ(names[v.name], 1) << v.name;
    valid += corpus.valid.size();
  }
  EXPECT_EQ(sink_.lines().size(), valid);
  EXPECT_TRUE(sink_.truncated().empty());
  EXPECT_LE(agent_.metric("kubemetrics_listener_lost_lines_total",
                          "listener=\"wavefront\",reason=\"truncated\""),
            0);
  EXPECT_LE(agent_.metric("kubemetrics_listener_refused_requests_total",
                          "listener=\"wavefront\",reason=\"bad_request\""),
            0);
}

}  // namespace
}  // namespace kubemetrics::testing
