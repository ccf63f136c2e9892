#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/http/request_auth.h"
#include "kubemetrics/config.h"

namespace kubemetrics::exporters::prometheus {

/// `exporters.prometheus:`: the pull endpoint serving the latest value of
/// every collected series plus the agent's own metrics. A plain value type.
struct PrometheusEndpointConfig {
  bool enabled = true;            // serve the page at all
  std::string path = "/metrics";  // HTTP path on server.listen; must start with '/'
  // > 0; a series not refreshed for this long leaves the page (and memory).
  std::chrono::milliseconds expire_after{std::chrono::minutes(5)};
  // >= 0, at most 1h; a rendered page (and its gzip form) is served to every
  // scraper arriving within this long of its render. 0: render per request
  // (concurrent requests still share one render).
  std::chrono::milliseconds cache_for{std::chrono::seconds(1)};
  // 1..10000; scrapes waiting for a render beyond this get 503 with
  // Retry-After. Renders run one at a time on the exporter's own thread.
  std::int64_t max_waiting_scrapes = 100;
  // A file holding a bearer token; when set, a scrape of `path` must carry
  // `Authorization: Bearer <token>` (401 otherwise). Re-read when it
  // changes. "" (default): the page is open to whoever reaches the port.
  std::string token_file;
  // HTTP basic authentication accepted besides (or instead of) the token.
  BasicAuthOptions basic_auth;
  // >= 0; a target (a source, and the `instance` label of its samples) that
  // holds this many series on the page gets no new ones until some end or
  // expire (counted, logged). The default is the largest default scrape
  // (kube_state_metrics' max_samples), so no default scrape is cut; it bounds
  // label churn across scrapes within expire_after. 0: no limit.
  std::int64_t max_series_per_target = 1'000'000;

  /// Every problem at once; ConfigError::path holds the key relative to
  /// this component ("path"), the caller prefixes it.
  std::vector<ConfigError> validate() const;
};

/// Reads `exporters.prometheus` (enabled, path, expire_after, cache_for,
/// max_waiting_scrapes, token_file, basic_auth, max_series_per_target), validates it,
/// records every error on `node`, and reports unknown keys (node.finish()).
/// On a bad value the default is kept, so the result is always usable.
PrometheusEndpointConfig parseConfig(ConfigNode& node);

}  // namespace kubemetrics::exporters::prometheus
