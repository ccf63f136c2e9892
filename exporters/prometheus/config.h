#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "kubemetrics/config.h"

namespace kubemetrics::exporters::prometheus {

/// `exporters.prometheus:`: the pull endpoint serving the latest value of
/// every collected series plus the agent's own metrics. A plain value type.
struct PrometheusEndpointConfig {
  bool enabled = true;            // serve the page at all
  std::string path = "/metrics";  // HTTP path on server.listen; must start with '/'
  // > 0; a series not refreshed for this long leaves the page (and memory).
  std::chrono::milliseconds expire_after{std::chrono::minutes(5)};

  /// Every problem at once; ConfigError::path holds the key relative to
  /// this component ("path"), the caller prefixes it.
  std::vector<ConfigError> validate() const;
};

/// Reads `exporters.prometheus` (enabled, path, expire_after), validates it,
/// records every error on `node`, and reports unknown keys (node.finish()).
/// On a bad value the default is kept, so the result is always usable.
PrometheusEndpointConfig parseConfig(ConfigNode& node);

}  // namespace kubemetrics::exporters::prometheus
