#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/push/push_exporter.h"
#include "kubemetrics/config.h"

namespace kubemetrics::exporters::wavefront {

/// Where the lines go, split out of `url`.
struct WavefrontEndpoint {
  enum class Mode { kProxyTcp, kDirectHttp };
  Mode mode = Mode::kProxyTcp;
  std::string host;           // proxy host (tcp)
  std::uint16_t port = 2878;  // proxy port (tcp), default 2878
  std::string report_url;     // http(s)://host[:port]/[prefix/]report?f=wavefront
};

/// The tag keys the Wavefront Kubernetes collector never sends: its
/// wavefront sink's built-in list (namespace_id, host_id, pod_id, hostname)
/// and the sink `tagExclude` filter of its default configuration
/// (generated pod labels and kubectl's last-applied annotation).
std::vector<std::string> defaultExcludeTags();

/// `exporters.wavefront:`: Wavefront data format, to a proxy over TCP or to
/// direct ingestion over HTTP. A plain value type.
struct WavefrontConfig {
  bool enabled = false;
  // tcp://host[:port] (a Wavefront proxy, port 2878 by default) or
  // http(s)://host[:port][/path] (direct ingestion: POST <path>/report?f=wavefront).
  std::string url = "tcp://wavefront-proxy:2878";
  // zstd | gzip | none. Default: zstd over HTTP, none over TCP (a proxy's
  // line port takes plain text only, so tcp:// allows none only).
  std::string compression;    // "" until parsed: the scheme's default
  int compression_level = 0;  // 0: the codec's default (zstd 3, gzip 6)
  // Direct ingestion token: read from this file, or from the environment
  // variable named by token_env; never written in the config itself.
  std::string token_file;
  std::string token_env;
  // When set, the source of every point; otherwise the sample's `source`,
  // `node` or `nodename` tag, else the agent's node name.
  std::string source;
  // Globs (`*`, `?`) of point tag keys never sent. Default: the Wavefront
  // Kubernetes collector's (defaultExcludeTags()).
  std::vector<std::string> exclude_tags = defaultExcludeTags();
  push::PushConfig push;  // timeout, batch, max_in_flight, queue_capacity, retry

  /// Every problem at once; paths relative to this component ("url").
  std::vector<ConfigError> validate() const;
  /// The effective compression ("zstd", "gzip" or "none").
  std::string effectiveCompression() const;
};

/// Splits a `url` value; on error returns false and sets `reason`
/// ("missing scheme (got \"proxy:2878\")"). Pure.
bool parseEndpoint(const std::string& url, WavefrontEndpoint* endpoint, std::string* reason);

/// Reads `exporters.wavefront`, its own keys and the shared push keys
/// (push::parsePushConfig), records every error on `node` with its path
/// and reports unknown keys. The spool settings come from
/// push::sharedSpoolConfig(). Start-up only.
WavefrontConfig parseConfig(ConfigNode& node);

/// The Authorization of direct ingestion: "Bearer " and the token of
/// token_file (re-read when the file changes, so a rotated token is used
/// from the next request), else of the variable token_env; an empty
/// function when neither is set. Errors: the file cannot be read or is
/// empty, or the variable is unset or empty (kInvalidArgument, naming the
/// file or variable, never the token).
Result<push::Authorization> tokenAuthorization(const WavefrontConfig& config);

}  // namespace kubemetrics::exporters::wavefront
