#include "common/scrape/discovery_config.h"

#include <algorithm>

#include "common/config/units.h"

namespace kubemetrics::scrape {

namespace {

// A Kubernetes namespace name is a DNS-1123 label: at most 63 lowercase
// letters, digits and '-', starting and ending with a letter or digit.
bool validNamespace(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return name.front() != '-' && name.back() != '-';
}

std::vector<std::string> readNamespaces(ConfigNode& node, std::string_view key) {
  std::vector<std::string> names = node.getStringList(key);
  for (const std::string& name : names) {
    if (!validNamespace(name)) {
      node.error(key, "\"" + name +
                          "\" is not a namespace name (lowercase letters, digits and '-', at "
                          "most 63, exact names, no patterns)");
    }
  }
  return names;
}

}  // namespace

bool NamespaceFilter::allows(std::string_view namespace_name) const {
  if (std::find(deny.begin(), deny.end(), namespace_name) != deny.end()) return false;
  return allow.empty() || std::find(allow.begin(), allow.end(), namespace_name) != allow.end();
}

DiscoveryConfig parseDiscoveryConfig(ConfigNode& node) {
  DiscoveryConfig config;
  const TargetConfig defaults;
  config.enabled = node.getBool("enabled", config.enabled);
  config.interval = node.getDuration("interval", config.interval);
  config.target.interval = config.interval;
  config.target.timeout = parseScrapeTimeout(node, defaults.timeout, config.interval);

  ConfigNode namespaces = node.child("namespaces");
  config.namespaces.allow = readNamespaces(namespaces, "allow");
  config.namespaces.deny = readNamespaces(namespaces, "deny");
  for (const std::string& name : config.namespaces.allow) {
    if (std::find(config.namespaces.deny.begin(), config.namespaces.deny.end(), name) !=
        config.namespaces.deny.end()) {
      namespaces.error("deny", "\"" + name + "\" is in allow too (deny would win; keep one)");
    }
  }
  namespaces.finish();

  config.target.honor_labels = node.getBool("honor_labels", defaults.honor_labels);
  config.target.bearer_token_file = node.getString("bearer_token_file", defaults.bearer_token_file);
  ConfigNode tls = node.child("tls");
  config.target.ca_file = tls.getString("ca_file", defaults.ca_file);
  config.target.insecure_skip_verify =
      tls.getBool("insecure_skip_verify", defaults.insecure_skip_verify);
  tls.finish();
  config.target.max_body_bytes = node.getBytes("max_body_bytes", defaults.max_body_bytes);
  config.target.max_samples = static_cast<std::uint64_t>(
      node.getInt("max_samples", static_cast<std::int64_t>(defaults.max_samples), 0, 1LL << 40));
  config.target.max_labels = static_cast<std::uint64_t>(
      node.getInt("max_labels", static_cast<std::int64_t>(defaults.max_labels), 1, 1 << 20));
  config.target.max_line_bytes = node.getBytes("max_line_bytes", defaults.max_line_bytes);
  node.finish();
  return config;
}

}  // namespace kubemetrics::scrape
