#pragma once

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "common/push/push_exporter.h"
#include "kubemetrics/deadline.h"

namespace kubemetrics::exporters::wavefront {

struct TcpTransportOptions {
  std::string host;
  std::uint16_t port = 2878;
  std::chrono::milliseconds connect_timeout{2000};
  // After a failed connect, the next attempt waits initial, then doubling up
  // to max; a successful connect resets it. Keeps a dead proxy from being
  // hammered by every retry of every payload.
  std::chrono::milliseconds reconnect_initial{250};
  std::chrono::milliseconds reconnect_max{std::chrono::seconds(30)};
};

/// Sends payloads to a Wavefront proxy's line port (plain text, one point
/// per line, nothing ever sent back) over one persistent TCP connection.
/// deliver(): connects if needed (honouring the reconnect backoff; the name
/// lookup, the connect and the write all end by connect_timeout or the
/// deadline), checks that the proxy has not closed the connection, writes
/// the whole body by the deadline. Any write error, a closed connection or a timeout is
/// kRetry and closes the socket, so the next attempt reconnects. A payload
/// compressed by an earlier configuration (replayed from the spool) is
/// decompressed first; one that cannot be is kDrop.
///
/// The proxy acknowledges nothing, so "delivered" means "written to the
/// kernel"; a payload cut by a broken connection is re-sent whole (lines
/// already received are duplicated, never lost).
///
/// Not thread-safe: one per sender thread (see push::Transport), except
/// cancel().
class TcpProxyTransport : public push::Transport {
 public:
  explicit TcpProxyTransport(TcpTransportOptions options);
  ~TcpProxyTransport() override;
  TcpProxyTransport(const TcpProxyTransport&) = delete;
  TcpProxyTransport& operator=(const TcpProxyTransport&) = delete;

  // kubemetrics::push::Transport
  push::DeliveryOutcome deliver(const push::EncodedPayload& payload, Deadline deadline) override;
  /// Any thread: wakes the deliver() in progress out of its connect or
  /// write wait (kRetry, "cancelled"); a cancel between calls is cleared by
  /// the next deliver().
  void cancel() override;

  /// Connections opened so far (tests).
  std::uint64_t connectsForTest() const { return connects_; }

 private:
  bool connected() const { return fd_ >= 0; }
  /// Empty on success, else why not.
  std::string connect(Deadline deadline);
  void close();
  /// True when the peer closed (or reset) the idle connection.
  bool peerClosed();
  std::string writeAll(std::string_view data, Deadline deadline);
  /// poll() of fd_ for `events` until `deadline`, woken early by cancel():
  /// 1 ready, 0 timed out, -1 error (errno), kCancelled.
  int waitFor(short events, Deadline deadline, pollfd& ready);
  static constexpr int kCancelled = -2;

  TcpTransportOptions options_;
  int fd_ = -1;
  int wake_fd_ = -1;  // eventfd: cancel() makes it readable
  std::uint64_t connects_ = 0;
  SteadyClock::time_point next_connect_{};
  std::chrono::milliseconds backoff_{0};
};

/// One TcpProxyTransport per sender thread.
push::TransportFactory makeTcpTransportFactory(TcpTransportOptions options);

}  // namespace kubemetrics::exporters::wavefront
