#pragma once

#include "common/scrape/discovery_config.h"
#include "kubemetrics/config.h"

namespace kubemetrics::scrapers::kubernetes_pods {

using NamespaceFilter = scrape::NamespaceFilter;

/// `sources.kubernetes_pods:`: the pods of this node annotated
/// `prometheus.io/scrape: "true"`, each scraped as a Prometheus target
/// (the keys of every Kubernetes discovery source). Immutable after
/// parsing.
using KubernetesPodsConfig = scrape::DiscoveryConfig;

/// Reads `sources.kubernetes_pods`, recording bad values in the node's
/// document (keeping the default for them), then reports unknown keys
/// (node.finish()).
KubernetesPodsConfig parseKubernetesPodsConfig(ConfigNode& node);

}  // namespace kubemetrics::scrapers::kubernetes_pods
