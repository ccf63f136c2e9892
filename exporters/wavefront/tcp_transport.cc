#include "tcp_transport.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "common/compression/compression.h"

namespace kubemetrics::exporters::wavefront {
namespace {

int msUntil(Deadline deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

std::string errnoText(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

// getaddrinfo() has no timeout (a DNS server that does not answer holds it
// for the resolver's own retries, tens of seconds): it runs on a thread of
// its own, and the caller stops waiting at `until`. An abandoned lookup
// finishes on its thread and frees its result; the reconnect backoff
// bounds how many can be pending.
std::string resolve(const std::string& host, const std::string& port, Deadline until,
                    addrinfo** out) {
  struct Lookup {
    std::mutex mu;
    std::condition_variable done_cv;
    bool done = false;
    bool abandoned = false;
    int rc = 0;
    addrinfo* result = nullptr;
  };
  auto lookup = std::make_shared<Lookup>();
  try {
    std::thread([lookup, host, port] {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* result = nullptr;
      const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &result);
      std::lock_guard<std::mutex> lock(lookup->mu);
      if (lookup->abandoned) {
        if (rc == 0) ::freeaddrinfo(result);
        return;
      }
      lookup->rc = rc;
      lookup->result = result;
      lookup->done = true;
      lookup->done_cv.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    return std::string("cannot start a lookup thread: ") + e.what();
  }
  std::unique_lock<std::mutex> lock(lookup->mu);
  if (!lookup->done_cv.wait_until(lock, until, [&] { return lookup->done; })) {
    lookup->abandoned = true;
    return "timed out";
  }
  if (lookup->rc != 0) return ::gai_strerror(lookup->rc);
  *out = lookup->result;
  return {};
}

}  // namespace

TcpProxyTransport::TcpProxyTransport(TcpTransportOptions options)
    : options_(std::move(options)), wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

TcpProxyTransport::~TcpProxyTransport() {
  close();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void TcpProxyTransport::cancel() {
  const std::uint64_t one = 1;
  if (wake_fd_ >= 0 && ::write(wake_fd_, &one, sizeof one) < 0) {
    // EAGAIN: the counter is already non-zero, a wake-up is pending.
  }
}

int TcpProxyTransport::waitFor(short events, Deadline deadline, pollfd& ready) {
  pollfd fds[2] = {{fd_, events, 0}, {wake_fd_, POLLIN, 0}};
  const int n = ::poll(fds, wake_fd_ >= 0 ? 2 : 1, msUntil(deadline));
  ready = fds[0];
  if (n > 0 && (fds[1].revents & POLLIN) != 0) return kCancelled;
  return n > 0 ? 1 : n;
}

void TcpProxyTransport::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string TcpProxyTransport::connect(Deadline deadline) {
  const auto now = SteadyClock::now();
  if (now < next_connect_) return "reconnect backoff";
  const Deadline until = std::min(deadline, now + options_.connect_timeout);
  auto fail = [&](std::string reason) {
    close();
    backoff_ = backoff_.count() == 0 ? options_.reconnect_initial
                                     : std::min(backoff_ * 2, options_.reconnect_max);
    next_connect_ = SteadyClock::now() + backoff_;
    return reason;
  };

  addrinfo* addrs = nullptr;
  const std::string port = std::to_string(options_.port);
  if (std::string error = resolve(options_.host, port, until, &addrs); !error.empty()) {
    return fail("resolve " + options_.host + ": " + error);
  }
  std::string last_error = "no address";
  for (addrinfo* ai = addrs; ai != nullptr; ai = ai->ai_next) {
    fd_ = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd_ < 0) {
      last_error = errnoText("socket", errno);
      continue;
    }
    if (::connect(fd_, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last_error = errnoText("connect", errno);
      close();
      continue;
    }
    pollfd pfd{};
    const int ready = waitFor(POLLOUT, until, pfd);
    int err = 0;
    socklen_t len = sizeof err;
    if (ready == kCancelled) {
      ::freeaddrinfo(addrs);
      return fail("cancelled (shutdown)");
    }
    if (ready <= 0) {
      last_error = ready == 0 ? "connect timeout" : errnoText("poll", errno);
      close();
      continue;
    }
    if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      last_error = errnoText("connect", err != 0 ? err : errno);
      close();
      continue;
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    break;
  }
  ::freeaddrinfo(addrs);
  if (fd_ < 0) return fail(options_.host + ":" + port + ": " + last_error);
  ++connects_;
  backoff_ = std::chrono::milliseconds(0);
  return {};
}

bool TcpProxyTransport::peerClosed() {
  // The proxy never writes on its line port: readable means EOF or a reset
  // (or unexpected bytes, which we discard).
  char buf[256];
  while (true) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n == 0) return true;
    return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
  }
}

std::string TcpProxyTransport::writeAll(std::string_view data, Deadline deadline) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd pfd{};
      const int ready = waitFor(POLLOUT, deadline, pfd);
      if (ready == kCancelled) return "cancelled (shutdown)";
      if (ready == 0) return "write timeout";
      if (ready < 0 && errno != EINTR) return errnoText("poll", errno);
      if (pfd.revents & (POLLERR | POLLHUP)) return "connection closed by the proxy";
      continue;
    }
    return errnoText("write", errno);
  }
  return {};
}

push::DeliveryOutcome TcpProxyTransport::deliver(const push::EncodedPayload& payload,
                                                 Deadline deadline) {
  std::string decoded;
  std::string_view body = payload.body;
  if (!payload.content_encoding.empty()) {
    // Spooled under an earlier http(s) configuration: the proxy's line port
    // takes plain text only.
    Result<std::string> plain = makeError(ErrorCode::kInvalidArgument,
                                          "unknown content encoding " + payload.content_encoding);
    if (payload.content_encoding == "zstd") plain = push::zstdDecompress(payload.body);
    if (payload.content_encoding == "gzip") plain = push::gzipDecompress(payload.body);
    if (!plain)
      return push::DeliveryOutcome::drop("undecodable payload: " + plain.error().message());
    decoded = std::move(*plain);
    body = decoded;
  }
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  // A cancel() from before this call is not for it.
  for (std::uint64_t pending = 0;
       wake_fd_ >= 0 && ::read(wake_fd_, &pending, sizeof pending) > 0;) {
  }
  if (connected() && peerClosed()) close();
  if (!connected()) {
    if (std::string error = connect(deadline); !error.empty()) {
      return push::DeliveryOutcome::retry(where + ": " + error);
    }
  }
  if (std::string error = writeAll(body, deadline); !error.empty()) {
    close();
    return push::DeliveryOutcome::retry(where + ": " + error);
  }
  return push::DeliveryOutcome::delivered();
}

push::TransportFactory makeTcpTransportFactory(TcpTransportOptions options) {
  return [options = std::move(options)]() -> Result<push::TransportPtr> {
    return push::TransportPtr(new TcpProxyTransport(options));
  };
}

}  // namespace kubemetrics::exporters::wavefront
