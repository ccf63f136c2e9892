#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/http/http_server.h"
#include "common/http/request_auth.h"
#include "kubemetrics/config.h"
#include "wavefront_line_parser.h"

namespace kubemetrics::scrapers::listeners {

/// What every listener has: where it listens, its connection and request
/// limits, and an optional token. Plain value type.
struct ListenerCommon {
  bool enabled = false;
  std::string listen;               // ADDR:PORT
  std::size_t max_connections = 0;  // beyond: accepted, closed at once, counted
  std::chrono::milliseconds idle_timeout{0};
  std::uint64_t max_request_body = 0;  // HTTP bodies, as sent (compressed); 413 beyond
  // Bodies being read or decoded at once (HttpServerOptions); default 32 MiB.
  std::uint64_t max_body_bytes_in_flight = 32u << 20;
  /// When set, every HTTP request must carry `Authorization: Bearer <t>`
  /// with this file's content (re-read when it changes); wrong or missing:
  /// 401, counted. Plain TCP lines cannot carry a token (as with the
  /// Wavefront proxy's token authentication), so such connections are
  /// closed, counted, and senders use HTTP `POST /report`.
  std::string token_file;
  /// HTTP basic authentication accepted besides (or instead of) the token.
  BasicAuthOptions basic_auth;
  /// TLS on the port, for TCP lines and HTTP alike (`tls:`); off by default.
  ServerTlsOptions tls;
};

/// `sources.listeners.wavefront`: Wavefront data-format lines over TCP
/// (newline-delimited) and HTTP `POST /report` on the same port, as the
/// Wavefront proxy serves port 2878.
struct WavefrontListenerConfig : ListenerCommon {
  WavefrontListenerConfig() {
    listen = "0.0.0.0:2878";
    max_connections = 1024;
    idle_timeout = std::chrono::minutes(5);  // the proxy's listenerIdleConnectionTimeout
    max_request_body = 16 * 1024 * 1024;
  }
  std::size_t max_line_bytes = 32 * 1024;        // the proxy's pushListenerMaxReceivedLength
  std::size_t max_tags = LineLimits{}.max_tags;  // point tags per line (Wavefront's 20)
};

/// `sources.listeners.remote_write`: Prometheus remote write 1.0 receive,
/// `POST /api/v1/write`.
struct RemoteWriteListenerConfig : ListenerCommon {
  RemoteWriteListenerConfig() {
    listen = "0.0.0.0:9201";
    max_connections = 256;
    idle_timeout = std::chrono::minutes(1);
    max_request_body = 16 * 1024 * 1024;
  }
  std::size_t max_samples_per_request = 200'000;  // 413 beyond
};

/// `sources.listeners`. Immutable after parsing.
struct ListenersConfig {
  WavefrontListenerConfig wavefront;
  RemoteWriteListenerConfig remote_write;
};

/// Reads `sources.listeners`, recording bad values in the node's document
/// (keeping the defaults for them) and reporting unknown keys.
ListenersConfig parseListenersConfig(ConfigNode& node);

}  // namespace kubemetrics::scrapers::listeners
