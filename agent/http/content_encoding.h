#pragma once

#include <string>
#include <string_view>

#include "kubemetrics/result.h"

// Private to agent/http: response compression for HttpServer. Kept apart from
// the server so the negotiation rules can be tested without a socket.

namespace kubemetrics::http_internal {

/// True when an Accept-Encoding value (RFC 9110 section 12.5.3) accepts gzip:
/// "gzip" or "x-gzip" with a q-value above 0, or "*" above 0 when gzip is not
/// named. Case-insensitive; malformed q-values count as 0 so a garbled header
/// never gets a compressed body the client may not decode. Thread-safe (pure).
bool acceptsGzip(std::string_view accept_encoding);

/// `data` as a gzip member (RFC 1952), for a Content-Encoding: gzip body.
/// kInternal when zlib fails (out of memory). Thread-safe (pure).
Result<std::string> gzipCompress(std::string_view data);

}  // namespace kubemetrics::http_internal
