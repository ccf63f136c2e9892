#pragma once

// An in-process fake of the EC2 instance metadata service on 127.0.0.1
// (ephemeral port), serving ../shared/fixtures/imds/ and implementing both
// protocol versions as the real service does: PUT /latest/api/token with
// X-aws-ec2-metadata-token-ttl-seconds (1..21600, else 400) returns a token
// that expires after its TTL; a GET with X-aws-ec2-metadata-token needs a
// valid one (else 401); a GET without it is served only when IMDSv1 is
// allowed (else 401). The PUT can be refused (403/405) or left unanswered
// ("hang", what a pod sees when the hop limit is 1) to test the fallback.
// Also: helpers for a refused port and a blackholed one. Header-only, for
// tests under tests/unit/scrapers/ec2_metadata and tests/integration/.

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace kubemetrics::scrapers::ec2::testing {

inline std::string readFixture(const std::string& name) {
  std::ifstream in(std::string(KM_FIXTURES_DIR) + "/imds/" + name, std::ios::binary);
  if (!in) throw std::runtime_error("missing fixture imds/" + name);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class FakeImds {
 public:
  enum class PutMode { kOk, kForbidden, kMethodNotAllowed, kHang };

  FakeImds() {
    identity_ = readFixture("awsdocs_instance-identity-document.json");
    not_found_ = readFixture("aemm_404_response.html");
    unauthorized_ = readFixture("aemm_401_response.html");
    bad_request_ = readFixture("aemm_400_response.html");
    server_.Put("/latest/api/token",
                [this](const httplib::Request& req, httplib::Response& res) { onPut(req, res); });
    server_.Get(".*",
                [this](const httplib::Request& req, httplib::Response& res) { onGet(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("fake IMDS: cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // Debian's httplib has no wait_until_ready(); bounded poll instead.
    for (int i = 0; i < 500 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  ~FakeImds() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    release_.notify_all();
    server_.stop();
    thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  void setPutMode(PutMode mode) {
    std::lock_guard<std::mutex> lock(mu_);
    put_mode_ = mode;
  }
  void setV1Allowed(bool allowed) {
    std::lock_guard<std::mutex> lock(mu_);
    v1_allowed_ = allowed;
  }
  void setIdentity(std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    identity_ = std::move(body);
  }
  void setSpotAction(std::optional<std::string> body) {
    std::lock_guard<std::mutex> lock(mu_);
    spot_ = std::move(body);
  }
  void setRebalance(std::optional<std::string> body) {
    std::lock_guard<std::mutex> lock(mu_);
    rebalance_ = std::move(body);
  }
  void setMaintenance(std::optional<std::string> body) {
    std::lock_guard<std::mutex> lock(mu_);
    maintenance_ = std::move(body);
  }
  /// As after a restart of the service: every token issued so far is void.
  void invalidateTokens() {
    std::lock_guard<std::mutex> lock(mu_);
    tokens_.clear();
  }

  int puts() const { return puts_.load(); }
  int gets() const { return gets_.load(); }
  int getsWithToken() const { return gets_with_token_.load(); }
  int getsWithoutToken() const { return gets_.load() - gets_with_token_.load(); }
  int unauthorized() const { return unauthorized_count_.load(); }
  int lastTtl() const { return last_ttl_.load(); }

 private:
  void onPut(const httplib::Request& req, httplib::Response& res) {
    ++puts_;
    std::unique_lock<std::mutex> lock(mu_);
    switch (put_mode_) {
      case PutMode::kForbidden:
        res.status = 403;
        res.set_content("", "text/plain");
        return;
      case PutMode::kMethodNotAllowed:
        res.status = 405;
        return;
      case PutMode::kHang:
        // The answer never reaches the client; bounded so a test cannot hang.
        release_.wait_for(lock, std::chrono::seconds(5), [this] { return stopping_; });
        res.status = 200;
        res.set_content("late-token", "text/plain");
        return;
      case PutMode::kOk:
        break;
    }
    const std::string ttl_text = req.get_header_value("X-aws-ec2-metadata-token-ttl-seconds");
    int ttl = 0;
    try {
      ttl = std::stoi(ttl_text);
    } catch (...) {
      ttl = 0;
    }
    if (ttl < 1 || ttl > 21600) {
      res.status = 400;
      res.set_content(bad_request_, "text/html");
      return;
    }
    last_ttl_ = ttl;
    const std::string token = "AQAEA-fake-token-" + std::to_string(++token_serial_);
    tokens_[token] = std::chrono::steady_clock::now() + std::chrono::seconds(ttl);
    res.set_header("X-aws-ec2-metadata-token-ttl-seconds", ttl_text);
    res.set_content(token, "text/plain");
  }

  void onGet(const httplib::Request& req, httplib::Response& res) {
    ++gets_;
    std::lock_guard<std::mutex> lock(mu_);
    if (req.has_header("X-aws-ec2-metadata-token")) {
      ++gets_with_token_;
      auto it = tokens_.find(req.get_header_value("X-aws-ec2-metadata-token"));
      if (it == tokens_.end() || std::chrono::steady_clock::now() >= it->second) {
        ++unauthorized_count_;
        res.status = 401;
        res.set_content(unauthorized_, "text/html");
        return;
      }
    } else if (!v1_allowed_) {
      ++unauthorized_count_;
      res.status = 401;
      res.set_content(unauthorized_, "text/html");
      return;
    }
    std::optional<std::string> body;
    if (req.path == "/latest/dynamic/instance-identity/document") body = identity_;
    if (req.path == "/latest/meta-data/spot/instance-action") body = spot_;
    if (req.path == "/latest/meta-data/events/recommendations/rebalance") body = rebalance_;
    if (req.path == "/latest/meta-data/events/maintenance/scheduled") body = maintenance_;
    if (!body) {
      res.status = 404;
      res.set_content(not_found_, "text/html");
      return;
    }
    res.set_content(*body, "text/plain");
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  std::mutex mu_;
  std::condition_variable release_;
  bool stopping_ = false;
  PutMode put_mode_ = PutMode::kOk;
  bool v1_allowed_ = true;
  std::string identity_;
  std::optional<std::string> spot_;
  std::optional<std::string> rebalance_;
  std::optional<std::string> maintenance_ = std::string("[]");
  std::string not_found_, unauthorized_, bad_request_;
  std::map<std::string, std::chrono::steady_clock::time_point> tokens_;
  int token_serial_ = 0;
  std::atomic<int> puts_{0}, gets_{0}, gets_with_token_{0}, unauthorized_count_{0}, last_ttl_{0};
};

/// A loopback port where nothing listens: connecting is refused at once
/// (the socket is bound, so no one else takes the port meanwhile).
class RefusedPort {
 public:
  RefusedPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("cannot bind a loopback port");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~RefusedPort() { ::close(fd_); }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 protected:
  int fd_ = -1;
  int port_ = 0;
};

/// A loopback port that accepts connections (the kernel completes them in
/// the backlog) but never reads or answers: a blackhole.
class BlackholePort : public RefusedPort {
 public:
  BlackholePort() {
    if (::listen(fd_, 64) != 0) throw std::runtime_error("cannot listen");
  }
};

}  // namespace kubemetrics::scrapers::ec2::testing
