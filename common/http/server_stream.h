#pragma once

// Internal to common/http: the byte stream of one server connection, plain
// TCP or TLS over TCP, so that one Session and one LineConnection serve
// both. Included by server_internal.h and line_connection.h only.

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>
#include <utility>

namespace kubemetrics::http_internal {

/// An AsyncReadStream and AsyncWriteStream (Boost.Beast's requirements) over
/// an accepted socket, with TLS when made with a context. The TCP stream
/// underneath carries the timeouts (tcp().expires_after) and the shutdown
/// and close, in both cases. Movable (a connection that turns out to speak
/// lines is handed on); the streams live behind pointers so that moving
/// does not move what a TLS stream refers to. Used on one strand only.
class ServerStream {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;

  /// Plain TCP.
  explicit ServerStream(boost::asio::ip::tcp::socket&& socket)
      : plain_(std::make_unique<boost::beast::tcp_stream>(std::move(socket))) {}
  /// TLS with `context` (kept alive as long as the stream); handshake()
  /// before reading.
  ServerStream(boost::asio::ip::tcp::socket&& socket,
               std::shared_ptr<boost::asio::ssl::context> context)
      : context_(std::move(context)),
        tls_(std::make_unique<boost::beast::ssl_stream<boost::beast::tcp_stream>>(std::move(socket),
                                                                                  *context_)) {}

  bool tls() const { return tls_ != nullptr; }
  boost::beast::tcp_stream& tcp() { return tls_ ? boost::beast::get_lowest_layer(*tls_) : *plain_; }
  executor_type get_executor() { return tcp().get_executor(); }

  /// The server side of the TLS handshake; only when tls().
  template <class Handler>
  void asyncHandshake(Handler&& handler) {
    tls_->async_handshake(boost::asio::ssl::stream_base::server, std::forward<Handler>(handler));
  }

  template <class MutableBufferSequence, class ReadHandler>
  auto async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<ReadHandler>(handler));
    return plain_->async_read_some(buffers, std::forward<ReadHandler>(handler));
  }

  template <class ConstBufferSequence, class WriteHandler>
  auto async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<WriteHandler>(handler));
    return plain_->async_write_some(buffers, std::forward<WriteHandler>(handler));
  }

 private:
  std::unique_ptr<boost::beast::tcp_stream> plain_;
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
};

}  // namespace kubemetrics::http_internal
