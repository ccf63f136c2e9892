#pragma once
// A peer that is reachable and never answers, for tests and benchmarks of
// what a sender does when its backend hangs.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace kubemetrics::testing {

/// A socket listening on 127.0.0.1 (an ephemeral port) that nobody
/// accept()s: the kernel completes the handshake and takes the request into
/// its buffers, and no answer ever comes. Closed when destroyed.
class BlackHole {
 public:
  BlackHole() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 64);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~BlackHole() { ::close(fd_); }
  BlackHole(const BlackHole&) = delete;
  BlackHole& operator=(const BlackHole&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace kubemetrics::testing
