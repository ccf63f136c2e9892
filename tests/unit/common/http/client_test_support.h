#pragma once

// Helpers of the HttpClient tests (plain and TLS): an httplib server on an
// ephemeral loopback port, request and deadline shorthands.
#include <httplib.h>

#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "kubemetrics/deadline.h"
#include "kubemetrics/http_client.h"

namespace kubemetrics::testing {

using namespace std::chrono_literals;

inline constexpr auto kTimeout = 5s;

inline Deadline soon() { return deadlineIn(kTimeout); }

// Runs an httplib server (plain or TLS) on 127.0.0.1 and an ephemeral port.
class ServerRunner {
 public:
  explicit ServerRunner(httplib::Server& server) : server_(server) {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) std::this_thread::sleep_for(1ms);
  }
  ~ServerRunner() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::string url(const std::string& path, const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  httplib::Server& server_;
  int port_ = 0;
  std::thread thread_;
};

inline HttpClientRequest get(const std::string& url) {
  HttpClientRequest request;
  request.url = url;
  return request;
}

class PortRecorder {
 public:
  void record(int port) {
    std::lock_guard<std::mutex> lock(mu_);
    ports_.insert(port);
  }
  std::size_t distinct() {
    std::lock_guard<std::mutex> lock(mu_);
    return ports_.size();
  }

 private:
  std::mutex mu_;
  std::set<int> ports_;
};

}  // namespace kubemetrics::testing
