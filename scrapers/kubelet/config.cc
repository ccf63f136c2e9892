#include "config.h"

#include <string_view>

namespace kubemetrics::scrapers::kubelet {

KubeletConfig parseKubeletConfig(ConfigNode& node) {
  KubeletConfig config;
  const KubeletConfig defaults;
  config.enabled = node.getBool("enabled", config.enabled);
  config.url = node.getString("url", config.url);
  const std::string_view url = config.url;
  if (!url.starts_with("https://") && !url.starts_with("http://")) {
    node.error("url", "must start with https:// or http:// (got \"" + config.url + "\")");
    config.url = defaults.url;
  }
  config.interval = node.getDuration("interval", config.interval);
  config.timeout = node.getDuration("timeout", config.timeout);
  if (config.timeout >= config.interval) {
    node.error("timeout", "must be shorter than interval (got " +
                              std::to_string(config.timeout.count()) + "ms, interval " +
                              std::to_string(config.interval.count()) + "ms)");
    config.timeout = std::min(defaults.timeout, config.interval / 2);
  }
  config.bearer_token_file = node.getString("bearer_token_file", config.bearer_token_file);
  config.ca_file = node.getString("ca_file", config.ca_file);
  config.insecure_skip_verify = node.getBool("insecure_skip_verify", config.insecure_skip_verify);
  config.sys_containers = node.getBool("sys_containers", config.sys_containers);
  config.max_response_bytes = node.getBytes("max_response_bytes", config.max_response_bytes);
  const std::string api = node.getEnum("kubernetes_metrics", "auto", {"auto", "true", "false"});
  config.kubernetes_metrics = api == "true"    ? KubernetesMetrics::kOn
                              : api == "false" ? KubernetesMetrics::kOff
                                               : KubernetesMetrics::kAuto;
  node.finish();
  return config;
}

bool expandNodeIp(std::string& url, const char* node_ip, std::string& error) {
  static constexpr std::string_view kVar = "${NODE_IP}";
  const std::size_t at = url.find(kVar);
  if (at == std::string::npos) return true;
  if (node_ip == nullptr || *node_ip == '\0') {
    error = "url \"" + url +
            "\" needs NODE_IP, which is not set: set it from the downward API "
            "(fieldRef status.hostIP) or give sources.kubelet.url";
    return false;
  }
  std::string_view ip = node_ip;
  // An IPv6 host needs brackets in a URL.
  const bool v6 = ip.find(':') != std::string_view::npos && !ip.starts_with("[");
  // Built by append: g++ 12 -O3 warns falsely (-Wrestrict) on "[" + ip + "]".
  std::string host;
  host.reserve(ip.size() + 2);
  if (v6) host.push_back('[');
  host.append(ip);
  if (v6) host.push_back(']');
  url.replace(at, kVar.size(), host);
  return true;
}

}  // namespace kubemetrics::scrapers::kubelet
