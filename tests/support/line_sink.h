#pragma once
// A fake Wavefront proxy line port for tests: a TCP server on 127.0.0.1
// that collects the newline-delimited lines its clients send, as a
// Wavefront proxy's plain-text listener (port 2878) takes them
// (docs.wavefront.com/proxies_configuring.html, "pushListenerPorts": one
// point per line, '\n' ends a line, many lines per connection).

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/loopback.h"

namespace kubemetrics::testing {

/// Accepts any number of connections and records every complete line in
/// arrival order; a connection that ends inside a line has that partial
/// line recorded in truncated(). Thread-safe: its own thread serves, the
/// accessors take a lock. Stops and closes everything when destroyed.
class LineSink {
 public:
  LineSink() : listen_fd_(listenOnLoopback(&port_)) {
    thread_ = std::thread([this] { run(); });
  }
  ~LineSink() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  LineSink(const LineSink&) = delete;
  LineSink& operator=(const LineSink&) = delete;

  int port() const { return port_; }
  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  std::vector<std::string> truncated() const {
    std::lock_guard<std::mutex> lock(mu_);
    return truncated_;
  }

 private:
  void run() {
    std::map<int, std::string> pending;  // per connection: bytes after the last '\n'
    std::vector<pollfd> fds;
    while (!stop_) {
      fds.clear();
      fds.push_back({listen_fd_, POLLIN, 0});
      for (const auto& [fd, unused] : pending) fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd >= 0) pending[fd];
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[65536];
        const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
        std::string& rest = pending[fds[i].fd];
        std::lock_guard<std::mutex> lock(mu_);
        if (n <= 0) {
          if (!rest.empty()) truncated_.push_back(rest);
          ::close(fds[i].fd);
          pending.erase(fds[i].fd);
          continue;
        }
        rest.append(buf, static_cast<std::size_t>(n));
        for (std::size_t nl; (nl = rest.find('\n')) != std::string::npos; rest.erase(0, nl + 1)) {
          lines_.push_back(rest.substr(0, nl));
        }
      }
    }
    for (const auto& [fd, unused] : pending) ::close(fd);
  }

  int port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
  std::vector<std::string> truncated_;
};

}  // namespace kubemetrics::testing
