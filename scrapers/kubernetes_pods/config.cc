#include "config.h"

namespace kubemetrics::scrapers::kubernetes_pods {

KubernetesPodsConfig parseKubernetesPodsConfig(ConfigNode& node) {
  return scrape::parseDiscoveryConfig(node);
}

}  // namespace kubemetrics::scrapers::kubernetes_pods
