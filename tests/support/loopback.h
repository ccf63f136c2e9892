#pragma once
// Raw loopback sockets for tests and benchmarks that need a peer below
// HTTP: one that never answers, or a minimal server of their own.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

namespace kubemetrics::testing {

/// A socket listening on 127.0.0.1 at an ephemeral port (written to
/// `*port`); the caller owns and closes it.
inline int listenOnLoopback(int* port) {
  // Close-on-exec: a child process (the agent) must not hold it open.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::listen(fd, 64);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

/// Whether this process can bind [::1]: containers and CI runners often run
/// with IPv6 disabled, and a test that needs it should then skip, saying
/// why. On false `*why` holds the error.
inline bool canBindIpv6Loopback(std::string* why) {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *why = std::string("socket(AF_INET6): ") + std::strerror(errno);
    return false;
  }
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  if (!bound) *why = std::string("bind([::1]:0): ") + std::strerror(errno);
  ::close(fd);
  return bound;
}

/// A listening socket that nobody accept()s: the kernel completes the
/// handshake and takes the request into its buffers, and no answer ever
/// comes, for what a sender does when its backend hangs. Closed when
/// destroyed.
class BlackHole {
 public:
  BlackHole() : fd_(listenOnLoopback(&port_)) {}
  ~BlackHole() { ::close(fd_); }
  BlackHole(const BlackHole&) = delete;
  BlackHole& operator=(const BlackHole&) = delete;
  int port() const { return port_; }

 private:
  int port_ = 0;
  int fd_ = -1;
};

/// A client socket connected to 127.0.0.1:`port` (-1 on failure); the
/// caller owns and closes it.
inline int connectToLoopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<unsigned short>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// Writes all of `data` (blocking); false when the peer is gone.
inline bool sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

}  // namespace kubemetrics::testing
