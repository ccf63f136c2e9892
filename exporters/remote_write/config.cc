#include "config.h"

#include <utility>

#include "common/text/prometheus_names.h"

namespace kubemetrics::exporters::remote_write {

std::vector<ConfigError> RemoteWriteConfig::validate() const {
  std::vector<ConfigError> errors = push.validate();
  const bool http = url.rfind("http://", 0) == 0;
  const bool https = url.rfind("https://", 0) == 0;
  if (!http && !https) {
    errors.push_back({"url", "must start with http:// or https:// (got \"" + url + "\")"});
  } else {
    const std::string rest = url.substr(http ? 7 : 8);
    if (rest.empty() || rest.front() == '/' || rest.front() == ':') {
      errors.push_back({"url", "missing host (got \"" + url + "\")"});
    }
  }
  if (!basic_auth_username.empty() && basic_auth_password_file.empty()) {
    errors.push_back({"basic_auth.password_file", "required with basic_auth.username"});
  }
  if (basic_auth_username.empty() && !basic_auth_password_file.empty()) {
    errors.push_back({"basic_auth.username", "required with basic_auth.password_file"});
  }
  if (!basic_auth_username.empty() && !bearer_token_file.empty()) {
    errors.push_back({"bearer_token_file", "cannot be combined with basic_auth"});
  }
  for (const auto& [name, value] : external_labels) {
    if (name.empty() || text::mapLabelName(name) != name || name.rfind("__", 0) == 0) {
      errors.push_back({"external_labels." + name,
                        "not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "
                        "\"__\")"});
    }
    if (value.empty()) errors.push_back({"external_labels." + name, "must not be empty"});
  }
  return errors;
}

RemoteWriteConfig parseConfig(ConfigNode& node) {
  RemoteWriteConfig config;
  config.enabled = node.getBool("enabled", config.enabled);
  config.url = node.getString("url", config.url);
  push::parsePushConfig(node, config.push);
  {
    ConfigNode auth = node.child("basic_auth");
    config.basic_auth_username = auth.getString("username", "");
    config.basic_auth_password_file = auth.getString("password_file", "");
    auth.finish();
  }
  config.bearer_token_file = node.getString("bearer_token_file", "");
  config.external_labels = node.getStringMap("external_labels");
  {
    ConfigNode tls = node.child("tls");
    config.tls.ca_file = tls.getString("ca_file", "");
    config.tls.insecure_skip_verify = tls.getBool("insecure_skip_verify", false);
    config.tls.server_name = tls.getString("server_name", "");
    config.tls.cert_file = tls.getString("cert_file", "");
    config.tls.key_file = tls.getString("key_file", "");
    tls.finish();
  }
  // parsePushConfig already reported its own keys' errors.
  RemoteWriteConfig without_push = config;
  without_push.push = push::PushConfig();
  for (ConfigError& error : without_push.validate()) {
    node.error(error.path, std::move(error.reason));
  }
  node.finish();
  return config;
}

}  // namespace kubemetrics::exporters::remote_write
