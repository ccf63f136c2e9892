#include "common/http/socket_address.h"

#include <algorithm>
#include <charconv>
#include <iterator>

namespace kubemetrics::http_internal {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

}  // namespace

Result<tcp::endpoint> parseListenAddress(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return makeError(
        ErrorCode::kInvalidArgument,
        "http server: listen address \"" + std::string(text) + "\": " + std::string(why));
  };
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return invalid("expected ADDR:PORT");
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return invalid("port must be a number from 0 to 65535");
  }
  bool bracketed = false;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    bracketed = true;
  } else if (host.find(':') != std::string_view::npos) {
    return invalid("an IPv6 address needs brackets: [::1]:9464");
  }
  net::ip::address address;
  if (host.empty()) {
    address = net::ip::address_v4::any();
  } else if (host == "localhost") {
    address = net::ip::address_v4::loopback();
  } else {
    boost::system::error_code parse_error;
    address = net::ip::make_address(std::string(host), parse_error);
    if (parse_error || (bracketed && !address.is_v6())) {
      return invalid("host must be an IP address");
    }
  }
  return tcp::endpoint(address, static_cast<unsigned short>(port));
}

std::string peerAddress(const beast::tcp_stream& stream) {
  beast::error_code ec;
  const tcp::endpoint peer = stream.socket().remote_endpoint(ec);
  return ec ? std::string() : peer.address().to_string();
}

Protocol sniffProtocol(std::string_view head) {
  static constexpr std::string_view kMethods[] = {"GET",     "POST",  "PUT",   "HEAD",   "DELETE",
                                                  "OPTIONS", "PATCH", "TRACE", "CONNECT"};
  constexpr std::size_t kLongestMethod = 7;
  const std::size_t space = head.find(' ');
  if (space == std::string_view::npos) {
    const bool enough = head.size() > kLongestMethod || head.find('\n') != std::string_view::npos;
    return enough ? Protocol::kLines : Protocol::kUndecided;
  }
  const std::string_view token = head.substr(0, space);
  return std::find(std::begin(kMethods), std::end(kMethods), token) != std::end(kMethods)
             ? Protocol::kHttp
             : Protocol::kLines;
}

}  // namespace kubemetrics::http_internal
