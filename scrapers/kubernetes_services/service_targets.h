#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/scrape/discovery_config.h"
#include "kubemetrics/kube_services.h"

namespace kubemetrics::scrapers::kubernetes_services {

/// The `job` label of every discovered target, as in Prometheus' example
/// configuration.
inline constexpr std::string_view kJobName = "kubernetes-service-endpoints";

/// One scrape target: one endpoint address and port of an annotated
/// Service. Plain value type.
struct EndpointTarget {
  /// Identity: namespace/service and URL. A new address, port or path is a
  /// new target, and the old one goes away.
  std::string key;
  std::string namespace_name;
  std::string service;
  std::string pod;  // the endpoint's targetRef when it is a Pod; may be empty
  std::string url;  // scheme://address:port/path
};

/// An annotated Service that yields no target because of an invalid
/// annotation (logged once per service and reason). Plain value type.
struct SkippedService {
  std::string service;  // "<namespace>/<name>"
  std::string reason;
};

/// What discoverTargets() found. Plain value type.
struct Discovery {
  std::vector<EndpointTarget> targets;  // sorted by key, unique
  std::vector<SkippedService> skipped;
};

/// The targets of a snapshot, as Prometheus' kubernetes_sd endpointslice
/// role with the usual `kubernetes-service-endpoints` relabelling, but
/// through every endpoint: for each Service annotated
/// prometheus.io/scrape: "true" in a namespace `namespaces` allows, each
/// EndpointSlice labelled kubernetes.io/service-name=<service> in its
/// namespace, each endpoint of it that is not marked not-ready (the API
/// says an absent `ready` means ready), its first address. With
/// prometheus.io/port that port is the one target of the endpoint;
/// otherwise each TCP port of the slice is one. prometheus.io/scheme and
/// prometheus.io/path build the URL as for pods. Pure function.
Discovery discoverTargets(const KubeServiceSnapshot& snapshot,
                          const scrape::NamespaceFilter& namespaces);

}  // namespace kubemetrics::scrapers::kubernetes_services
