#pragma once

// An in-process fake kubelet for tests: HTTPS on a loopback address
// (127.0.0.1 unless given, ::1 for an IPv6 node) and an ephemeral port, GET
// /stats/summary answering a settable body only to the expected bearer token
// (401 otherwise), as a kubelet with webhook authentication does.

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "kubemetrics/mutex.h"

namespace kubemetrics::scrapers::kubelet::testing {

/// Thread-safe: the server thread reads what the test thread sets.
class FakeKubelet {
 public:
  FakeKubelet(const std::string& cert, const std::string& key, std::string token,
              std::string host = "127.0.0.1")
      : server_(cert.c_str(), key.c_str()), token_(std::move(token)), host_(std::move(host)) {
    server_.Get("/stats/summary", [this](const httplib::Request& req, httplib::Response& res) {
      ++requests_;
      std::string body, token;
      int status;
      std::chrono::milliseconds delay;
      {
        MutexLock lock(mu_);
        body = body_;
        token = token_;
        status = status_;
        delay = delay_;
      }
      if (delay.count() > 0) std::this_thread::sleep_for(delay);
      if (req.get_header_value("Authorization") != "Bearer " + token) {
        res.status = 401;
        res.set_content("Unauthorized", "text/plain");
        return;
      }
      res.status = status;
      res.set_content(body, "application/json");
    });
    port_ = server_.bind_to_any_port(host_);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~FakeKubelet() {
    server_.stop();
    thread_.join();
  }
  FakeKubelet(const FakeKubelet&) = delete;
  FakeKubelet& operator=(const FakeKubelet&) = delete;

  bool valid() const { return server_.is_valid() && port_ > 0; }
  int port() const { return port_; }
  std::string url() const {
    const bool v6 = host_.find(':') != std::string::npos;
    return "https://" + (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_) +
           "/stats/summary";
  }
  void setBody(std::string body) {
    MutexLock lock(mu_);
    body_ = std::move(body);
  }
  void setToken(std::string token) {
    MutexLock lock(mu_);
    token_ = std::move(token);
  }
  void setStatus(int status) {
    MutexLock lock(mu_);
    status_ = status;
  }
  void setDelay(std::chrono::milliseconds delay) {
    MutexLock lock(mu_);
    delay_ = delay;
  }
  int requests() const { return requests_.load(); }

 private:
  httplib::SSLServer server_;
  Mutex mu_;
  std::string body_ KM_GUARDED_BY(mu_);
  std::string token_ KM_GUARDED_BY(mu_);
  int status_ KM_GUARDED_BY(mu_) = 200;
  std::chrono::milliseconds delay_ KM_GUARDED_BY(mu_){0};
  std::atomic<int> requests_{0};
  const std::string host_;
  int port_ = -1;
  std::thread thread_;
};

}  // namespace kubemetrics::scrapers::kubelet::testing
