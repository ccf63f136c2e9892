#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/scrape/scrape_annotations.h"
#include "config.h"
#include "kubemetrics/kube_metadata.h"

namespace kubemetrics::scrapers::kubernetes_pods {

using scrape::kPathAnnotation;
using scrape::kPortAnnotation;
using scrape::kSchemeAnnotation;
using scrape::kScrapeAnnotation;

/// The `job` label of every discovered target, as in Prometheus' example
/// configuration.
inline constexpr std::string_view kJobName = "kubernetes-pods";

/// One scrape target found on a pod. Plain value type.
struct PodTarget {
  /// Identity of the target: its namespace, pod, container and URL. A pod
  /// whose target changes in any of them (a new pod IP, another port or
  /// path) is a new target, and the old one goes away.
  std::string key;
  std::string namespace_name;
  std::string pod;
  std::string container;  // the container declaring the port; empty when none does
  std::string url;        // scheme://podIP:port/path
};

/// An annotated pod that yields no target, and why (logged once per pod and
/// reason). Plain value type.
struct SkippedPod {
  std::string pod;  // "<namespace>/<name>"
  std::string reason;
};

/// What discoverTargets() found. Plain value type.
struct Discovery {
  std::vector<PodTarget> targets;  // sorted by key, unique
  std::vector<SkippedPod> skipped;
};

/// The targets of a snapshot, as Prometheus' kubernetes_sd pod role with the
/// usual `kubernetes-pods` relabelling: pods of `node` whose annotation
/// prometheus.io/scrape is "true", with a pod IP, not Succeeded or Failed,
/// in a namespace `namespaces` allows. prometheus.io/scheme (http or https,
/// default http) and prometheus.io/path (default /metrics) build the URL;
/// prometheus.io/port gives the one port to scrape, otherwise every TCP
/// port the containers declare is a target. An annotated pod with neither,
/// or with an invalid annotation, is in `skipped`. Pure function.
Discovery discoverTargets(const KubeSnapshot& snapshot, std::string_view node,
                          const NamespaceFilter& namespaces);

}  // namespace kubemetrics::scrapers::kubernetes_pods
