#include "config.h"

#include <utility>

#include "common/config/units.h"
#include "common/http/endpoint_config.h"

namespace kubemetrics::exporters::prometheus {
namespace {

constexpr std::int64_t kMaxWaitingScrapes = 10000;
constexpr std::int64_t kMaxSeriesPerTarget = 100'000'000;

}  // namespace

std::vector<ConfigError> PrometheusEndpointConfig::validate() const {
  std::vector<ConfigError> errors;
  if (path.empty() || path.front() != '/') {
    errors.push_back({"path", "must start with '/' (got \"" + path + "\")"});
  } else if (path.find_first_of("?# \t\r\n") != std::string::npos) {
    // The server matches the path without the query, so these could never match.
    errors.push_back({"path", "must not contain '?', '#' or whitespace (got \"" + path + "\")"});
  }
  if (expire_after.count() <= 0) {
    errors.push_back({"expire_after", "must be > 0"});
  }
  if (cache_for.count() < 0 || cache_for > std::chrono::hours(1)) {
    errors.push_back({"cache_for", "must be between 0s (off) and 1h"});
  }
  if (max_waiting_scrapes < 1 || max_waiting_scrapes > kMaxWaitingScrapes) {
    errors.push_back({"max_waiting_scrapes", "must be between 1 and 10000"});
  }
  return errors;
}

PrometheusEndpointConfig parseConfig(ConfigNode& node) {
  PrometheusEndpointConfig config;
  config.enabled = node.getBool("enabled", config.enabled);
  config.path = node.getString("path", config.path);
  config.expire_after = node.getDuration("expire_after", config.expire_after);
  // Durations must be > 0 elsewhere; here 0 means "off".
  if (isZeroDuration(node.has("cache_for") ? node.getString("cache_for", "") : "")) {
    config.cache_for = std::chrono::milliseconds(0);
  } else {
    config.cache_for = node.getDuration("cache_for", config.cache_for);
  }
  config.max_waiting_scrapes =
      node.getInt("max_waiting_scrapes", config.max_waiting_scrapes, 1, kMaxWaitingScrapes);
  config.token_file = node.getString("token_file", config.token_file);
  config.basic_auth = parseBasicAuth(node);
  config.max_series_per_target =
      node.getInt("max_series_per_target", config.max_series_per_target, 0, kMaxSeriesPerTarget);
  const PrometheusEndpointConfig defaults;
  for (ConfigError& error : config.validate()) {
    // Keep the result usable even when the file was wrong; startup fails anyway.
    if (error.path == "path") config.path = defaults.path;
    if (error.path == "cache_for") config.cache_for = defaults.cache_for;
    if (error.path == "max_waiting_scrapes") {
      // getInt reported it already.
      config.max_waiting_scrapes = defaults.max_waiting_scrapes;
      continue;
    }
    node.error(error.path, std::move(error.reason));
  }
  node.finish();
  return config;
}

}  // namespace kubemetrics::exporters::prometheus
