#include "common/http/line_connection.h"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <utility>

namespace kubemetrics::http_internal {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

// Bytes one read may bring on top of a partial line.
constexpr std::size_t kReadChunk = 64 * 1024;
// What LineConsumer::overlong() is shown of a line it will not get.
constexpr std::size_t kOverlongHead = 64;
constexpr auto kFirstPause = std::chrono::milliseconds(5);
constexpr auto kLongestPause = std::chrono::milliseconds(1000);

}  // namespace

LineConnection::LineConnection(ServerStream&& stream, std::string_view first_bytes,
                               std::unique_ptr<LineConsumer> consumer, std::size_t max_line_bytes,
                               std::chrono::milliseconds idle_timeout,
                               std::function<void()> on_destroy)
    : stream_(std::move(stream)),
      pause_timer_(stream_.get_executor()),
      consumer_(std::move(consumer)),
      max_line_bytes_(std::max<std::size_t>(max_line_bytes, 1)),
      idle_timeout_(idle_timeout),
      on_destroy_(std::move(on_destroy)),
      buffer_(std::max(max_line_bytes_ + kReadChunk, first_bytes.size())) {
  std::memcpy(buffer_.data(), first_bytes.data(), first_bytes.size());
  end_ = first_bytes.size();
}

LineConnection::~LineConnection() {
  if (on_destroy_) on_destroy_();
}

void LineConnection::start() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
    self->frame();
    self->flushThenRead();
  });
}

void LineConnection::close() {
  net::post(stream_.get_executor(), [self = shared_from_this()] { self->end(); });
}

void LineConnection::read() {
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  stream_.tcp().expires_after(idle_timeout_);
  stream_.async_read_some(net::buffer(buffer_.data() + end_, buffer_.size() - end_),
                          beast::bind_front_handler(&LineConnection::onRead, shared_from_this()));
}

void LineConnection::onRead(beast::error_code ec, std::size_t bytes) {
  if (ended_) return;
  end_ += bytes;
  if (ec) {
    // EOF or reset: what was read still counts. Anything else (idle
    // timeout, stop) ends the connection as it is.
    if (ec != net::error::eof && ec != net::error::connection_reset) return end();
    peer_closed_ = true;
  }
  frame();
  flushThenRead();
}

void LineConnection::frame() {
  const char* data = buffer_.data();
  // Complete lines go to the consumer in runs, between over-long ones.
  std::size_t run = begin_;
  auto handOverRun = [&](std::size_t until) {
    if (until > run) consumer_->consume(std::string_view(data + run, until - run));
  };
  while (begin_ < end_) {
    const void* found = std::memchr(data + begin_, '\n', end_ - begin_);
    if (found == nullptr) break;
    const auto line_end = static_cast<std::size_t>(static_cast<const char*>(found) - data) + 1;
    if (discarding_) {
      discarding_ = false;  // the rest of an over-long line, already reported
      run = line_end;
    } else if (line_end - begin_ - 1 > max_line_bytes_) {
      handOverRun(begin_);
      consumer_->overlong(
          std::string_view(data + begin_, std::min(kOverlongHead, line_end - begin_)));
      run = line_end;
    }
    begin_ = line_end;
  }
  handOverRun(begin_);
  if (discarding_) {
    begin_ = end_;
  } else if (end_ - begin_ > max_line_bytes_) {
    consumer_->overlong(std::string_view(data + begin_, std::min(kOverlongHead, end_ - begin_)));
    discarding_ = true;
    begin_ = end_;
  }
}

void LineConnection::flushThenRead() {
  if (ended_) return;
  if (!consumer_->flush()) return pause();
  pause_ = std::chrono::milliseconds(0);
  if (peer_closed_) return end();
  read();
}

void LineConnection::pause() {
  pause_ = pause_.count() == 0 ? kFirstPause : std::min(pause_ * 2, kLongestPause);
  pause_timer_.expires_after(pause_);
  pause_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->flushThenRead();
  });
}

void LineConnection::end() {
  if (ended_) return;
  ended_ = true;
  pause_timer_.cancel();
  const bool flushed = consumer_->flush();
  const std::string_view partial =
      discarding_ ? std::string_view() : std::string_view(buffer_.data() + begin_, end_ - begin_);
  consumer_->finish(partial, flushed);
  beast::error_code ignored;
  stream_.tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.tcp().close();
}

}  // namespace kubemetrics::http_internal
