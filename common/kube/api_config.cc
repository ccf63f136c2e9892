#include "common/kube/api_config.h"

#include <cstdlib>
#include <string_view>

namespace kubemetrics::kube {
namespace {

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

}  // namespace

std::vector<ConfigError> KubeApiConfig::validate() const {
  std::vector<ConfigError> errors;
  const std::string_view url = api_server;
  if (!url.empty() && !url.starts_with("https://") && !url.starts_with("http://")) {
    errors.push_back({"api_server", "must start with https:// or http:// (got \"" + api_server +
                                        "\"); empty means in-cluster"});
  }
  if (watch_timeout < std::chrono::seconds(1)) {
    errors.push_back({"watch_timeout", "must be at least 1s (got " + ms(watch_timeout) + ")"});
  }
  if (max_backoff < initial_backoff) {
    errors.push_back({"max_backoff", "must be >= initial_backoff (got " + ms(max_backoff) + " < " +
                                         ms(initial_backoff) + ")"});
  }
  return errors;
}

KubeApiConfig parseKubeApiConfig(ConfigNode& node) {
  KubeApiConfig config;
  const KubeApiConfig defaults;
  config.api_server = node.getString("api_server", config.api_server);
  while (config.api_server.ends_with('/')) config.api_server.pop_back();
  config.bearer_token_file = node.getString("bearer_token_file", config.bearer_token_file);
  config.ca_file = node.getString("ca_file", config.ca_file);
  config.insecure_skip_verify = node.getBool("insecure_skip_verify", config.insecure_skip_verify);
  config.watch_timeout = node.getDuration("watch_timeout", config.watch_timeout);
  config.initial_backoff = node.getDuration("initial_backoff", config.initial_backoff);
  config.max_backoff = node.getDuration("max_backoff", config.max_backoff);
  config.request_timeout = node.getDuration("request_timeout", config.request_timeout);
  for (ConfigError& error : config.validate()) {
    // Keep a value that works, so the rest of start-up can go on and report
    // its own errors.
    if (error.path == "api_server") config.api_server = defaults.api_server;
    if (error.path == "watch_timeout") config.watch_timeout = defaults.watch_timeout;
    if (error.path == "max_backoff") config.max_backoff = config.initial_backoff;
    node.error(error.path, std::move(error.reason));
  }
  node.finish();
  return config;
}

Result<std::string> resolveApiServer(const KubeApiConfig& config) {
  if (!config.api_server.empty()) return config.api_server;
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  if (host == nullptr || *host == '\0') {
    return makeError(ErrorCode::kUnavailable,
                     "kubernetes.api_server is empty and KUBERNETES_SERVICE_HOST is not set "
                     "(not running in a cluster)");
  }
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  const std::string_view h = host;
  const bool v6 = h.find(':') != std::string_view::npos && !h.starts_with("[");
  std::string url = "https://";
  if (v6) url.push_back('[');
  url.append(h);
  if (v6) url.push_back(']');
  url.push_back(':');
  url.append(port != nullptr && *port != '\0' ? port : "443");
  return url;
}

}  // namespace kubemetrics::kube
