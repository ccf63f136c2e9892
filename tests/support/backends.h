#pragma once
// Real Prometheus and VictoriaMetrics for the e2e tests, started on
// 127.0.0.1 with fresh storage, and read-back through their APIs.

#include <gtest/gtest.h>
#include <httplib.h>

#include <cctype>
#include <chrono>
#include <limits>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/process.h"

namespace kubemetrics::testing {

inline std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Percent-encodes a query parameter value.
inline std::string encodeQuery(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

/// Polls GET `path` on 127.0.0.1:`port` until it answers 200 (bounded).
inline bool waitForHttp(int port, const std::string& path, std::chrono::seconds timeout) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1, 0);
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (auto res = client.Get(path); res && res->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

struct Backend {
  std::unique_ptr<Process> process;
  int port = -1;
  std::string writeUrl() const {
    return "http://127.0.0.1:" + std::to_string(port) + "/api/v1/write";
  }
};

/// victoria-metrics with its data under `dir`; port -1 when it did not come up.
inline Backend startVictoriaMetrics(const std::string& dir, int port = 0) {
  Backend b;
  b.port = port > 0 ? port : freeLoopbackPort();
  b.process = std::make_unique<Process>(
      std::vector<std::string>{"/usr/bin/victoria-metrics", "-storageDataPath=" + dir,
                               "-httpListenAddr=127.0.0.1:" + std::to_string(b.port),
                               "-loggerLevel=WARN", "-search.latencyOffset=0s"});
  if (!waitForHttp(b.port, "/health", std::chrono::seconds(30))) b.port = -1;
  return b;
}

/// prometheus with the remote write receiver (no out-of-order window: an
/// older sample than the newest of its series is refused), `config_yaml` as
/// its configuration, TSDB under `dir`, on `port` (0: a free one); port -1
/// when it did not come up.
inline Backend startPrometheus(const TempDir& dir,
                               const std::string& config_yaml = "global:\n  scrape_interval: 1m\n",
                               int port = 0) {
  Backend b;
  b.port = port > 0 ? port : freeLoopbackPort();
  const std::string config = dir.write("prometheus.yml", config_yaml);
  b.process = std::make_unique<Process>(
      std::vector<std::string>{"/usr/bin/prometheus", "--config.file=" + config,
                               "--storage.tsdb.path=" + dir.path() + "/data",
                               "--web.listen-address=127.0.0.1:" + std::to_string(b.port),
                               "--web.enable-remote-write-receiver", "--log.level=warn"});
  if (!waitForHttp(b.port, "/-/ready", std::chrono::seconds(60))) b.port = -1;
  return b;
}

/// A Prometheus configuration scraping the agent on 127.0.0.1:`agent_port`
/// every second.
inline std::string scrapeAgentConfig(int agent_port) {
  return "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: kubemetrics-agent\n"
         "    static_configs:\n      - targets: [\"127.0.0.1:" +
         std::to_string(agent_port) + "\"]\n";
}

/// GETs `path` on 127.0.0.1:`port` until a 200 body contains `needle`
/// (bounded), returning the last body.
inline std::string pollUntil(int port, const std::string& path, const std::string& needle,
                             std::chrono::seconds timeout = std::chrono::seconds(30)) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(5, 0);
  std::string body;
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (auto res = client.Get(path)) {
      body = res->body;
      if (res->status == 200 && body.find(needle) != std::string::npos) return body;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return body;
}

/// One series as read back: its labels ("k=v" sorted, __name__ included)
/// and its samples (timestamps[i] with values[i]).
struct ReadSeries {
  std::map<std::string, std::string> labels;
  std::vector<std::int64_t> timestamps;
  std::vector<double> values;
};

/// A sample value as the APIs print it: a number, or NaN/Inf spelled out
/// (quoted or not).
inline double parseSampleValue(std::string text) {
  if (!text.empty() && text.front() == '"') text = text.substr(1, text.size() - 2);
  try {
    return std::stod(text);
  } catch (const std::exception&) {
    return std::numeric_limits<double>::quiet_NaN();
  }
}

inline std::map<std::string, std::string> parseLabelObject(const std::string& object) {
  std::map<std::string, std::string> labels;
  static const std::regex pair("\"([^\"]+)\":\"((?:[^\"\\\\]|\\\\.)*)\"");
  for (auto it = std::sregex_iterator(object.begin(), object.end(), pair);
       it != std::sregex_iterator(); ++it) {
    labels[(*it)[1]] = (*it)[2];
  }
  return labels;
}

/// VictoriaMetrics /api/v1/export for `match` (JSON lines), after a flush.
inline std::vector<ReadSeries> exportFromVictoriaMetrics(int port, const std::string& match) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10, 0);
  client.Get("/internal/force_flush");
  std::vector<ReadSeries> out;
  auto res = client.Get("/api/v1/export?match%5B%5D=" + encodeQuery(match));
  if (!res || res->status != 200) return out;
  // One JSON object per line. Found with find(), not a regex: a regex over
  // a long array recurses once per element in libstdc++ and overflows the
  // stack (under ASan first).
  auto arrayOf = [](const std::string& line, const std::string& key) -> std::string {
    const std::size_t at = line.find("\"" + key + "\":[");
    if (at == std::string::npos) return {};
    const std::size_t begin = at + key.size() + 4;
    const std::size_t end = line.find(']', begin);
    return end == std::string::npos ? std::string() : line.substr(begin, end - begin);
  };
  std::istringstream lines(res->body);
  std::string line;
  while (std::getline(lines, line)) {
    const std::size_t metric_at = line.find("\"metric\":{");
    if (metric_at == std::string::npos) continue;
    const std::size_t labels_begin = metric_at + 10;
    const std::size_t labels_end = line.find('}', labels_begin);
    if (labels_end == std::string::npos) continue;
    ReadSeries series;
    series.labels = parseLabelObject(line.substr(labels_begin, labels_end - labels_begin));
    std::istringstream ts(arrayOf(line, "timestamps"));
    std::string one;
    while (std::getline(ts, one, ',')) series.timestamps.push_back(std::stoll(one));
    std::istringstream vs(arrayOf(line, "values"));
    while (std::getline(vs, one, ',')) series.values.push_back(parseSampleValue(one));
    out.push_back(std::move(series));
  }
  return out;
}

/// Prometheus /api/v1/query of the range selector `selector[window]` at now.
inline std::vector<ReadSeries> queryPrometheus(int port, const std::string& selector) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10, 0);
  std::vector<ReadSeries> out;
  auto res = client.Get("/api/v1/query?query=" + encodeQuery(selector));
  if (!res || res->status != 200) return out;
  // Scanned by hand: a regex over a long "values" array recurses once per
  // point in libstdc++ and overflows the stack (under ASan first).
  const std::string& body = res->body;
  static const std::string kMetric = "{\"metric\":{";
  static const std::string kValues = "},\"values\":[";
  for (std::size_t at = body.find(kMetric); at != std::string::npos; at = body.find(kMetric, at)) {
    const std::size_t labels_begin = at + kMetric.size();
    const std::size_t values_at = body.find(kValues, labels_begin);
    if (values_at == std::string::npos) break;
    ReadSeries s;
    s.labels = parseLabelObject(body.substr(labels_begin, values_at - labels_begin));
    std::size_t p = values_at + kValues.size();
    // Points: [<unix seconds>,"<value>"], ... up to the closing ']'.
    while (p < body.size() && body[p] == '[') {
      const std::size_t comma = body.find(',', p);
      const std::size_t close = body.find(']', p);
      if (comma == std::string::npos || close == std::string::npos || comma > close) break;
      s.timestamps.push_back(
          static_cast<std::int64_t>(std::stod(body.substr(p + 1, comma - p - 1)) * 1000 + 0.5));
      s.values.push_back(parseSampleValue(body.substr(comma + 1, close - comma - 1)));
      p = close + 1;
      if (p < body.size() && body[p] == ',') ++p;
    }
    out.push_back(std::move(s));
    at = p;
  }
  return out;
}

inline std::size_t totalSamples(const std::vector<ReadSeries>& series) {
  std::size_t n = 0;
  for (const auto& s : series) n += s.timestamps.size();
  return n;
}

/// Samples of `metric` at the VictoriaMetrics on `port`, and whether any
/// (series, timestamp) came twice.
inline std::pair<std::size_t, bool> countAtVictoriaMetrics(int port, const std::string& metric) {
  const auto series = exportFromVictoriaMetrics(port, "{__name__=\"" + metric + "\"}");
  std::size_t total = 0;
  bool duplicates = false;
  for (const auto& s : series) {
    std::set<std::int64_t> distinct(s.timestamps.begin(), s.timestamps.end());
    duplicates |= distinct.size() != s.timestamps.size();
    total += s.timestamps.size();
  }
  return {total, duplicates};
}

/// Polls (bounded) until VictoriaMetrics holds `want` samples of `metric`,
/// then a little longer, so that a surplus (duplicates) shows too; returns
/// the count.
inline std::size_t waitForVictoriaMetricsCount(int port, std::size_t want,
                                               std::chrono::seconds timeout,
                                               const std::string& metric) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (countAtVictoriaMetrics(port, metric).first >= want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  return countAtVictoriaMetrics(port, metric).first;
}

}  // namespace kubemetrics::testing
