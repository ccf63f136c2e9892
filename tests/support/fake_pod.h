#pragma once

#include <httplib.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace kubemetrics::testing {

// One pod's metrics endpoint: serves `body` (Prometheus text format) at
// `path`, 404 elsewhere, and counts the requests per path.
class FakePod {
 public:
  FakePod(std::string path, std::string body) {
    server_.Get(".*", [this, path, body](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++requests_[req.path];
      }
      if (req.path != path) {
        res.status = 404;
        return;
      }
      res.set_content(body, "text/plain; version=0.0.4");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the listening loop runs would not stop it (Debian's
    // httplib has no wait_until_ready()): a bounded wait for it.
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~FakePod() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::string portText() const { return std::to_string(port_); }
  std::string instance() const { return "127.0.0.1:" + portText(); }
  int requests(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_[path];
  }
  int allRequests() {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& [path, count] : requests_) n += count;
    return n;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::map<std::string, int> requests_;
};

}  // namespace kubemetrics::testing
