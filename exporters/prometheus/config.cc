#include "config.h"

#include <utility>

namespace kubemetrics::exporters::prometheus {

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
  return errors;
}

PrometheusEndpointConfig parseConfig(ConfigNode& node) {
  PrometheusEndpointConfig config;
  config.enabled = node.getBool("enabled", config.enabled);
  config.path = node.getString("path", config.path);
  config.expire_after = node.getDuration("expire_after", config.expire_after);
  bool bad_path = false;
  for (ConfigError& error : config.validate()) {
    bad_path = bad_path || error.path == "path";
    node.error(error.path, std::move(error.reason));
  }
  // Keep the result usable even when the file was wrong; startup fails anyway.
  if (bad_path) config.path = PrometheusEndpointConfig().path;
  node.finish();
  return config;
}

}  // namespace kubemetrics::exporters::prometheus
