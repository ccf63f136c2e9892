#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "kubemetrics/result.h"

// Private to agent/http: response compression for HttpServer and response
// decompression for HttpClient. Kept apart from the server and the client so
// the negotiation and coding rules can be tested without a socket.

namespace kubemetrics::http_internal {

/// True when an Accept-Encoding value (RFC 9110 section 12.5.3) accepts gzip:
/// "gzip" or "x-gzip" with a q-value above 0, or "*" above 0 when gzip is not
/// named. Case-insensitive; malformed q-values count as 0 so a garbled header
/// never gets a compressed body the client may not decode. Thread-safe (pure).
bool acceptsGzip(std::string_view accept_encoding);

/// `data` as a gzip member (RFC 1952), for a Content-Encoding: gzip body.
/// kInternal when zlib fails (out of memory). Thread-safe (pure).
Result<std::string> gzipCompress(std::string_view data);

/// Decodes a Content-Encoding: gzip body as it arrives, piece by piece, with
/// bounded memory (ISA-L's inflate state, 85 KiB with its window, plus one
/// 64 KiB output buffer). Concatenated
/// members are decoded one after another, as gzip(1) does; bytes after a
/// member that do not start another member are corrupt. Owned by one thread.
class GzipDecoder {
 public:
  /// Receives decoded output, at most 64 KiB at a time; an error aborts.
  using Sink = std::function<Result<void>(std::string_view decoded)>;

  GzipDecoder();
  ~GzipDecoder();
  GzipDecoder(const GzipDecoder&) = delete;
  GzipDecoder& operator=(const GzipDecoder&) = delete;

  /// Decodes `encoded`, handing everything it yields to `sink`. kDataLoss
  /// when the data is not gzip or is corrupt (and for every call after
  /// that); `sink`'s error is returned as is.
  Result<void> feed(std::string_view encoded, const Sink& sink);
  /// Whether the data ended where a member ends: kDataLoss when it stopped
  /// inside one (truncated). No input at all counts as an empty body.
  Result<void> finish() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// The whole decoded content of gzip `data`: kDataLoss when corrupt or
/// truncated, kResourceExhausted when it decodes to more than `max_bytes`.
/// Thread-safe (pure).
Result<std::string> gzipDecompress(std::string_view data, std::size_t max_bytes);

}  // namespace kubemetrics::http_internal
