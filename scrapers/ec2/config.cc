#include "config.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace kubemetrics::scrapers::ec2 {

const std::vector<std::string>& knownTagFields() {
  static const std::vector<std::string> fields = {
      "instance_id", "instance_type", "availability_zone", "region",
      "account_id",  "image_id",      "architecture",      "private_ip"};
  return fields;
}

std::vector<std::string> defaultTagFields() {
  return {"instance_id", "instance_type", "availability_zone", "region", "account_id"};
}

std::string normalizeEndpoint(std::string& endpoint) {
  constexpr std::string_view kScheme = "http://";
  // IMDS speaks plain HTTP only; https:// would fail on every request.
  if (endpoint.rfind(kScheme, 0) != 0) return "expected http://host[:port]";
  while (endpoint.size() > kScheme.size() && endpoint.back() == '/') endpoint.pop_back();
  const std::string_view authority = std::string_view(endpoint).substr(kScheme.size());
  if (authority.empty()) return "missing host";
  for (const char c : authority) {
    if (c == '/' || c == '?' || c == '#' || std::isspace(static_cast<unsigned char>(c))) {
      return "expected http://host[:port] without a path";
    }
  }
  return "";
}

Ec2Config parseEc2Config(ConfigNode& node, const EnvLookup& env) {
  Ec2Config config;
  const std::string enabled = node.getEnum("enabled", "auto", {"auto", "true", "false"});
  config.enabled = enabled == "true"    ? EnabledMode::kTrue
                   : enabled == "false" ? EnabledMode::kFalse
                                        : EnabledMode::kAuto;

  config.configured_endpoint = node.getString("endpoint", std::string(kDefaultEndpoint));
  if (std::string reason = normalizeEndpoint(config.configured_endpoint); !reason.empty()) {
    node.error("endpoint", reason + " (got \"" + config.configured_endpoint + "\")");
    config.configured_endpoint = std::string(kDefaultEndpoint);
  }
  config.endpoint = config.configured_endpoint;
  if (const char* value = env(std::string(kEndpointEnv).c_str()); value && *value) {
    std::string from_env = value;
    if (std::string reason = normalizeEndpoint(from_env); !reason.empty()) {
      node.error("endpoint",
                 std::string(kEndpointEnv) + ": " + reason + " (got \"" + value + "\")");
    } else {
      config.endpoint = from_env;
      config.endpoint_from_env = true;
    }
  }
  if (const char* value = env(std::string(kDisabledEnv).c_str())) {
    std::string text = value;
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    config.disabled_by_env = text == "true";
  }

  {
    const std::vector<std::string> tags = node.getStringList("tags", config.tags);
    std::set<std::string> seen;
    config.tags.clear();
    const auto& known = knownTagFields();
    std::string list;
    for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
    for (std::size_t i = 0; i < tags.size(); ++i) {
      const std::string at = "tags[" + std::to_string(i) + "]";
      if (std::find(known.begin(), known.end(), tags[i]) == known.end()) {
        node.error(at, "expected one of " + list + " (got \"" + tags[i] + "\")");
      } else if (!seen.insert(tags[i]).second) {
        node.error(at, "duplicate tag \"" + tags[i] + "\"");
      } else {
        config.tags.push_back(tags[i]);
      }
    }
  }

  config.spot_interval = node.getDuration("spot_interval", config.spot_interval);
  config.metadata_interval = node.getDuration("metadata_interval", config.metadata_interval);
  config.timeout = node.getDuration("timeout", config.timeout);
  if (config.timeout > std::chrono::seconds(10)) {
    // A longer wait would hold the source thread (and shutdown) for nothing.
    node.error("timeout",
               "must be at most 10s (got " + std::to_string(config.timeout.count()) + "ms)");
    config.timeout = Ec2Config().timeout;
  }
  const auto ttl = node.getDuration("token_ttl", config.token_ttl);
  if (ttl % std::chrono::seconds(1) != std::chrono::milliseconds(0) ||
      ttl > std::chrono::seconds(21600)) {
    node.error("token_ttl", "must be whole seconds between 1s and 6h (got " +
                                std::to_string(ttl.count()) + "ms)");
  } else {
    config.token_ttl = std::chrono::duration_cast<std::chrono::seconds>(ttl);
  }
  node.finish();
  return config;
}

}  // namespace kubemetrics::scrapers::ec2
