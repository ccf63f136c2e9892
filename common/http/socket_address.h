#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <string>
#include <string_view>

#include "kubemetrics/result.h"

// Internal to common/http: addresses of the server's sockets, and what a
// connection speaks. Pure functions, thread-safe.

namespace kubemetrics::http_internal {

/// "0.0.0.0:9464", "127.0.0.1:0", "[::1]:9464", ":9464" (all IPv4
/// addresses), "localhost:9464" -> an endpoint to bind; kInvalidArgument
/// with the reason otherwise.
Result<boost::asio::ip::tcp::endpoint> parseListenAddress(std::string_view text);

/// The peer's IP address ("10.0.0.5", "::1"); "" once the socket is gone.
std::string peerAddress(const boost::beast::tcp_stream& stream);

enum class Protocol { kUndecided, kHttp, kLines };

/// What a connection speaks, from its first bytes: an HTTP request line
/// starts with a method and a space; anything else is a line protocol.
/// kUndecided until there are enough bytes to tell.
Protocol sniffProtocol(std::string_view head);

}  // namespace kubemetrics::http_internal
