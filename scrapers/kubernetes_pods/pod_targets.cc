#include "pod_targets.h"

#include <algorithm>

namespace kubemetrics::scrapers::kubernetes_pods {

namespace {

bool isTcp(const KubeContainerPort& port) {
  return port.protocol.empty() || port.protocol == "TCP";
}

PodTarget makeTarget(const KubePod& pod, const std::string& scheme, const std::string& path,
                     int port, const std::string& container) {
  PodTarget target;
  target.namespace_name = pod.namespace_name;
  target.pod = pod.name;
  target.container = container;
  target.url = scheme + "://" + scrape::urlHost(pod.pod_ip) + ":" + std::to_string(port) + path;
  target.key = pod.namespace_name + "/" + pod.name + "\n" + container + "\n" + target.url;
  return target;
}

}  // namespace

Discovery discoverTargets(const KubeSnapshot& snapshot, std::string_view node,
                          const NamespaceFilter& namespaces) {
  Discovery found;
  for (const auto& entry : snapshot.pods) {
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    const std::string& pod_key = entry.first;
    const KubePod& pod = *entry.second;
    if (pod.node_name != node || !scrape::scrapeAnnotated(pod.annotations)) continue;
    // A finished pod's IP may already belong to another pod.
    if (pod.phase == "Succeeded" || pod.phase == "Failed") continue;
    if (pod.pod_ip.empty() || !namespaces.allows(pod.namespace_name)) continue;
    const auto skip = [&](std::string reason) {
      found.skipped.push_back(SkippedPod{pod_key, std::move(reason)});
    };

    Result<scrape::ScrapeAnnotations> annotated = scrape::readScrapeAnnotations(pod.annotations);
    if (!annotated) {
      skip(annotated.error().message());
      continue;
    }
    const std::string& scheme = annotated->scheme;
    const std::string& path = annotated->path;
    if (annotated->port) {
      const int port = *annotated->port;
      std::string container;
      for (const KubeContainer& c : pod.containers) {
        for (const KubeContainerPort& p : c.ports) {
          if (container.empty() && p.port == port && isTcp(p)) container = c.name;
        }
      }
      found.targets.push_back(makeTarget(pod, scheme, path, port, container));
      continue;
    }
    // No port annotation: every declared TCP port, as the pod role makes
    // one target per container port. Containers share the pod's network,
    // so a port is listed once (the first container declaring it).
    std::vector<int> seen;
    for (const KubeContainer& c : pod.containers) {
      for (const KubeContainerPort& p : c.ports) {
        if (!isTcp(p) || p.port < 1 || p.port > 65535) continue;
        if (std::find(seen.begin(), seen.end(), p.port) != seen.end()) continue;
        seen.push_back(p.port);
        found.targets.push_back(makeTarget(pod, scheme, path, p.port, c.name));
      }
    }
    if (seen.empty()) {
      skip("no " + std::string(kPortAnnotation) + " annotation and no TCP container port");
    }
  }
  std::sort(found.targets.begin(), found.targets.end(),
            [](const PodTarget& a, const PodTarget& b) { return a.key < b.key; });
  return found;
}

}  // namespace kubemetrics::scrapers::kubernetes_pods
