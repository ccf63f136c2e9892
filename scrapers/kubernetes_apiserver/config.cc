#include "config.h"

#include <algorithm>

#include "common/config/units.h"

namespace kubemetrics::scrapers::kubernetes_apiserver {

KubernetesApiserverConfig parseKubernetesApiserverConfig(ConfigNode& node) {
  KubernetesApiserverConfig config;
  config.enabled = node.getBool("enabled", config.enabled);
  config.interval = node.getDuration("interval", config.interval);
  // As sources.prometheus: an unset timeout is capped at the interval.
  const bool explicit_timeout = node.has("timeout");
  const std::chrono::milliseconds fallback = std::min(config.timeout, config.interval);
  config.timeout = node.getDuration("timeout", fallback);
  if (explicit_timeout && config.timeout > config.interval) {
    node.error("timeout", "must not exceed interval (" + formatDuration(config.timeout) + " > " +
                              formatDuration(config.interval) + ")");
    config.timeout = fallback;
  }
  node.finish();
  return config;
}

}  // namespace kubemetrics::scrapers::kubernetes_apiserver
