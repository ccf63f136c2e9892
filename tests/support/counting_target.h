#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kubemetrics::testing {

/// A scrape target on 127.0.0.1 that serves `scrapes` scrapes of `series`
/// gauges `metric{series="<i>"} <scrape number>` and then answers 503, so
/// a test knows exactly how many samples a scraper read (and that each
/// series gets one staleness marker, at the first 503). It notes when it
/// answered each scrape (servedAt), and endScrapes() makes it answer 503
/// from then on, for a test that runs it for as long as it needs. Starts
/// serving in its constructor, stops in its destructor. Thread-safe.
class CountingTarget {
 public:
  CountingTarget(std::string metric, int series, int scrapes)
      : metric_(std::move(metric)), series_(series), scrapes_(scrapes) {
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      if (served_.load() >= scrapes_.load()) {
        res.status = 503;  // no more samples from here on
        return;
      }
      std::string body = "# TYPE " + metric_ + " gauge\n";
      for (int i = 0; i < series_; ++i) {
        body += metric_ + "{series=\"" + std::to_string(i) + "\"} " +
                std::to_string(served_.load()) + "\n";
      }
      res.set_content(body, "text/plain; version=0.0.4");
      served_at_.push_back(std::chrono::steady_clock::now());
      ++served_;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~CountingTarget() { stop(); }
  CountingTarget(const CountingTarget&) = delete;
  CountingTarget& operator=(const CountingTarget&) = delete;

  /// Stops serving (later scrapes fail to connect). Idempotent.
  void stop() {
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/metrics"; }
  int served() const { return served_.load(); }
  /// When each scrape was answered (the body is written after): index k is
  /// the scrape that served the value k.
  std::vector<std::chrono::steady_clock::time_point> servedAt() const {
    std::lock_guard<std::mutex> lock(mu_);
    return served_at_;
  }
  /// No more samples: every later scrape is answered 503. Returns how many
  /// scrapes were served.
  int endScrapes() {
    std::lock_guard<std::mutex> lock(mu_);
    scrapes_ = served_.load();
    return scrapes_;
  }
  /// Waits (bounded) until `n` scrapes were served.
  bool waitServed(int n, std::chrono::seconds timeout = std::chrono::seconds(60)) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (served_.load() < n && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return served_.load() >= n;
  }
  /// Samples a scraper read in all: series x scrapes, plus the staleness
  /// marker of each series once the target answers 503.
  std::size_t samplesWithStalenessMarkers() const {
    return static_cast<std::size_t>(series_) * static_cast<std::size_t>(scrapes_.load() + 1);
  }

 private:
  const std::string metric_;
  const int series_;
  std::atomic<int> scrapes_;
  std::atomic<int> served_{0};
  mutable std::mutex mu_;  // one scrape answered at a time; served_at_
  std::vector<std::chrono::steady_clock::time_point> served_at_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace kubemetrics::testing
