// A token rotated while the backend is down (issue 13): the agent binary
// remote-writes through an authenticating front (as an ingress with token
// auth, or AMP behind a gateway, answers: 401 for a wrong token) to a real
// VictoriaMetrics. The front goes down, comes back requiring a new token,
// and answers 401 for 30 s until the agent's mounted token file is swapped
// (a new file renamed in place, as a Secret volume does). Every scraped
// sample must reach VictoriaMetrics once, none dropped.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "support/agent_process.h"
#include "support/backends.h"
#include "support/counting_target.h"
#include "support/process.h"

namespace kubemetrics {
namespace {

using namespace std::chrono_literals;
using namespace kubemetrics::testing;

// Forwards POST /api/v1/write to VictoriaMetrics when the request carries
// the accepted token; 503 while "down"; 401 for any other token.
class AuthFront {
 public:
  explicit AuthFront(int vm_port) : vm_(std::make_unique<httplib::Client>("127.0.0.1", vm_port)) {
    server_.Post("/api/v1/write", [this](const httplib::Request& req, httplib::Response& res) {
      std::string accepted;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (down_) {
          res.status = 503;
          return;
        }
        accepted = "Bearer " + token_;
      }
      if (req.get_header_value("Authorization") != accepted) {
        ++unauthorized_;
        res.status = 401;
        res.set_content("invalid bearer token", "text/plain");
        return;
      }
      httplib::Headers headers;
      for (const char* name :
           {"Content-Encoding", "Content-Type", "X-Prometheus-Remote-Write-Version"}) {
        if (req.has_header(name)) headers.emplace(name, req.get_header_value(name));
      }
      std::lock_guard<std::mutex> lock(forward_mu_);
      auto forwarded = vm_->Post("/api/v1/write", headers, req.body,
                                 req.get_header_value("Content-Type").c_str());
      res.status = forwarded ? forwarded->status : 502;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) std::this_thread::sleep_for(1ms);
  }
  ~AuthFront() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  void accept(std::string token) {
    std::lock_guard<std::mutex> lock(mu_);
    token_ = std::move(token);
    down_ = false;
  }
  void goDown() {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = true;
  }
  int unauthorized() const { return unauthorized_.load(); }

 private:
  std::unique_ptr<httplib::Client> vm_;
  std::mutex forward_mu_;  // httplib::Client is not thread-safe
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::string token_;
  bool down_ = false;
  std::atomic<int> unauthorized_{0};
};

std::size_t countAt(int vm_port, const std::string& metric, bool* duplicates) {
  std::size_t total = 0;
  for (const auto& s : exportFromVictoriaMetrics(vm_port, "{__name__=\"" + metric + "\"}")) {
    const std::set<std::int64_t> distinct(s.timestamps.begin(), s.timestamps.end());
    *duplicates |= distinct.size() != s.timestamps.size();
    total += s.timestamps.size();
  }
  return total;
}

TEST(RemoteWriteTokenRotationTest, BackendRequiresANewTokenFor30sWhileDownNothingIsLost) {
  constexpr int kServedScrapes = 80;  // 40 s at 500 ms: before, during and after
  CountingTarget target("kmtest_rotation", 10, kServedScrapes);

  TempDir dir;
  Backend vm = startVictoriaMetrics(dir.path() + "/vm");
  ASSERT_GT(vm.port, 0) << vm.process->output();
  AuthFront front(vm.port);
  front.accept("token-one");
  const std::string token_file = dir.write("token", "token-one\n");
  const std::string config =
      dir.write("agent.yaml",
                "cluster: e2e\n"
                "sources:\n"
                "  host: {enabled: false}\n"
                "  prometheus:\n"
                "    - {name: rotation, url: \"" +
                    target.url() +
                    "\", interval: 500ms, timeout: 400ms}\n"
                    "exporters:\n"
                    "  prometheus: {enabled: true}\n"
                    "  remote_write:\n"
                    "    enabled: true\n"
                    "    url: \"http://127.0.0.1:" +
                    std::to_string(front.port()) +
                    "/api/v1/write\"\n"
                    "    bearer_token_file: \"" +
                    token_file +
                    "\"\n"
                    "    timeout: 2s\n"
                    "    batch: {max_samples: 1000, max_wait: 200ms}\n"
                    "    retry: {initial_backoff: 100ms, max_backoff: 1s, max_attempts: 3}\n"
                    "  spool: {dir: \"" +
                    dir.path() + "/spool\", max_bytes: 64MiB}\n");
  auto agent = AgentProcess::start({"--config", config});
  ASSERT_GT(agent.port, 0) << agent.process->output();

  ASSERT_TRUE(target.waitServed(6));  // delivered with the first token
  front.goDown();
  ASSERT_TRUE(target.waitServed(12));
  // Back, but the backend's credentials were rotated first: 401 for 30 s.
  front.accept("token-two");
  std::this_thread::sleep_for(30s);
  EXPECT_GT(front.unauthorized(), 0);
  const std::string fresh = dir.write("token.new", "token-two\n");
  ASSERT_EQ(std::rename(fresh.c_str(), token_file.c_str()), 0);

  // Every served sample and one staleness marker per series (the 503 after
  // the last served scrape).
  const std::size_t want = target.samplesWithStalenessMarkers();
  bool duplicates = false;
  std::size_t got = 0;
  for (int i = 0; i < 200 && got < want; ++i) {  // 60 s at most
    std::this_thread::sleep_for(300ms);
    got = countAt(vm.port, "kmtest_rotation", &duplicates);
  }
  std::this_thread::sleep_for(500ms);  // a surplus would show too
  duplicates = false;
  EXPECT_EQ(countAt(vm.port, "kmtest_rotation", &duplicates), want) << agent.process->output();
  EXPECT_FALSE(duplicates) << "duplicates at the backend";
  EXPECT_EQ(target.served(), kServedScrapes);
}

}  // namespace
}  // namespace kubemetrics
