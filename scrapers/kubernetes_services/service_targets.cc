#include "service_targets.h"

#include <algorithm>

#include "common/scrape/scrape_annotations.h"

namespace kubemetrics::scrapers::kubernetes_services {
namespace {

bool isTcp(const KubeEndpointPort& port) { return port.protocol.empty() || port.protocol == "TCP"; }

void addTarget(Discovery& found, const KubeService& service, const KubeEndpoint& endpoint,
               const scrape::ScrapeAnnotations& annotated, int port) {
  EndpointTarget target;
  target.namespace_name = service.namespace_name;
  target.service = service.name;
  if (endpoint.target_kind == "Pod") target.pod = endpoint.target_name;
  target.url = annotated.scheme + "://" + scrape::urlHost(endpoint.addresses.front()) + ":" +
               std::to_string(port) + annotated.path;
  target.key = service.namespace_name + "/" + service.name + "\n" + target.url;
  found.targets.push_back(std::move(target));
}

}  // namespace

Discovery discoverTargets(const KubeServiceSnapshot& snapshot,
                          const scrape::NamespaceFilter& namespaces) {
  Discovery found;
  for (const auto& entry : snapshot.services) {
    const KubeService& service = *entry.second;
    if (!scrape::scrapeAnnotated(service.annotations) ||
        !namespaces.allows(service.namespace_name)) {
      continue;
    }
    Result<scrape::ScrapeAnnotations> annotated =
        scrape::readScrapeAnnotations(service.annotations);
    if (!annotated) {
      found.skipped.push_back(SkippedService{entry.first, annotated.error().message()});
      continue;
    }
    // The slices of a Service are in its namespace, named after it by the
    // controller but tied to it only by the label: look at the label. The
    // map is keyed "<namespace>/<name>", so the namespace's slices are one
    // range.
    const std::string prefix = service.namespace_name + "/";
    for (auto it = snapshot.slices.lower_bound(prefix);
         it != snapshot.slices.end() && it->first.starts_with(prefix); ++it) {
      const KubeEndpointSlice& slice = *it->second;
      if (slice.service_name != service.name) continue;
      for (const KubeEndpoint& endpoint : slice.endpoints) {
        if (!endpoint.ready || endpoint.addresses.empty()) continue;
        if (annotated->port) {
          addTarget(found, service, endpoint, *annotated, *annotated->port);
          continue;
        }
        for (const KubeEndpointPort& port : slice.ports) {
          if (isTcp(port) && port.port >= 1 && port.port <= 65535) {
            addTarget(found, service, endpoint, *annotated, port.port);
          }
        }
      }
    }
  }
  std::sort(found.targets.begin(), found.targets.end(),
            [](const EndpointTarget& a, const EndpointTarget& b) { return a.key < b.key; });
  found.targets.erase(
      std::unique(found.targets.begin(), found.targets.end(),
                  [](const EndpointTarget& a, const EndpointTarget& b) { return a.key == b.key; }),
      found.targets.end());
  return found;
}

}  // namespace kubemetrics::scrapers::kubernetes_services
