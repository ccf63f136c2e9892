#pragma once

#include <chrono>

#include "kubemetrics/config.h"

namespace kubemetrics::scrapers::kubernetes_apiserver {

/// `sources.kubernetes_apiserver:`: the control-plane preset, the API
/// server's own /metrics. Immutable after parsing.
struct KubernetesApiserverConfig {
  bool enabled = false;
  std::chrono::milliseconds interval{30000};  // default 30s
  std::chrono::milliseconds timeout{10000};   // default 10s, at most the interval
};

/// Reads `sources.kubernetes_apiserver`, recording bad values with their
/// key path (keeping the default for them), then reports unknown keys.
KubernetesApiserverConfig parseKubernetesApiserverConfig(ConfigNode& node);

}  // namespace kubemetrics::scrapers::kubernetes_apiserver
