#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/scrape/config.h"
#include "kubemetrics/config.h"

namespace kubemetrics::scrape {

/// Which namespaces' objects may become targets: exact names; an empty
/// allow list allows every namespace, and deny wins over allow. Immutable
/// after parsing.
struct NamespaceFilter {
  std::vector<std::string> allow;
  std::vector<std::string> deny;

  bool allows(std::string_view namespace_name) const;
};

/// The config of a Kubernetes discovery source (`sources.kubernetes_pods`,
/// `sources.kubernetes_services`): annotated objects, each scraped as a
/// Prometheus target. Immutable after parsing.
struct DiscoveryConfig {
  bool enabled = false;
  std::chrono::milliseconds interval{30000};  // time between scrapes; default 30s
  NamespaceFilter namespaces;                 // default: every namespace
  /// What every discovered target shares, as a `sources.prometheus` target
  /// (common/scrape/config.h and its defaults): timeout (default 10s, at
  /// most the interval), honor_labels, bearer_token_file, tls.ca_file,
  /// tls.insecure_skip_verify, max_body_bytes, max_samples, max_labels,
  /// max_line_bytes. Its name and URL are set per target.
  TargetConfig target;
};

/// Reads a discovery source's section, recording bad values in the node's
/// document with their key path (keeping the default for them), then
/// reports unknown keys (node.finish()).
DiscoveryConfig parseDiscoveryConfig(ConfigNode& node);

}  // namespace kubemetrics::scrape
