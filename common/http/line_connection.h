#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "common/http/http_server.h"
#include "common/http/server_stream.h"

// Internal to common/http: the server's connections, behind HttpServer's
// pointer. Included by http_server.cc and line_connection.cc only.

namespace kubemetrics::http_internal {

/// What the server keeps of every open connection, HTTP or lines: a way to
/// drop it from any thread (stop()). Implementations post to their strand.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void close() = 0;
  /// When the connection began to wait for its next request header (from
  /// its accept until its first request, or from the end of its last
  /// answer), in steady_clock nanoseconds; 0 when it is busy or never waits
  /// for one (a line connection). Read from any thread.
  virtual std::int64_t idleSinceNs() const { return 0; }
  /// Whether the peer's next request already waits unread in the socket (a
  /// probe accepted a moment ago is not idle). Read from any thread.
  virtual bool requestWaiting() const { return false; }
};

/// One connection of a LineProtocol: reads, cuts the bytes at the last
/// '\n' and hands the complete lines to its LineConsumer; keeps an
/// unterminated tail for the next read, and discards a tail that grows past
/// max_line_bytes (LineConsumer::overlong). When the consumer cannot flush,
/// the connection reads nothing until it can, pausing 5 ms, then twice as
/// long each time up to 1 s: the sender is held back by TCP rather than
/// losing lines. A peer that closes while lines are unflushed is still
/// flushed (until the server stops). Every member is used on the
/// connection's strand only; `on_destroy` runs in the destructor.
class LineConnection : public Connection, public std::enable_shared_from_this<LineConnection> {
 public:
  LineConnection(ServerStream&& stream, std::string_view first_bytes,
                 std::unique_ptr<LineConsumer> consumer, std::size_t max_line_bytes,
                 std::chrono::milliseconds idle_timeout, std::function<void()> on_destroy);
  ~LineConnection() override;
  LineConnection(const LineConnection&) = delete;
  LineConnection& operator=(const LineConnection&) = delete;

  /// Frames the first bytes (read while the server told HTTP from lines),
  /// then reads on.
  void start();
  void close() override;

 private:
  void read();
  void onRead(boost::beast::error_code ec, std::size_t bytes);
  void frame();
  void flushThenRead();
  void pause();
  void end();

  ServerStream stream_;
  boost::asio::steady_timer pause_timer_;
  std::unique_ptr<LineConsumer> consumer_;
  const std::size_t max_line_bytes_;
  const std::chrono::milliseconds idle_timeout_;
  std::function<void()> on_destroy_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;    // first byte not yet handed to the consumer
  std::size_t end_ = 0;      // one past the last byte read
  bool discarding_ = false;  // inside an over-long line
  bool peer_closed_ = false;
  bool ended_ = false;
  std::chrono::milliseconds pause_{0};
};

}  // namespace kubemetrics::http_internal
