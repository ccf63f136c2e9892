#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "kubemetrics/config.h"
#include "kubemetrics/result.h"

namespace kubemetrics::kube {

inline constexpr const char* kServiceAccountTokenFile =
    "/var/run/secrets/kubernetes.io/serviceaccount/token";
inline constexpr const char* kServiceAccountCaFile =
    "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";

/// The `kubernetes:` section: how the agent reaches the Kubernetes API
/// (../shared/DESIGN.md, "Configuration"). Shared by every user of the API
/// (enrichment, discovery) through one KubeMetadataService. Immutable after
/// parsing; plain value type.
struct KubeApiConfig {
  // https://host:port of the API server; "" (default): in-cluster, from
  // KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (resolveApiServer()).
  std::string api_server;
  // Service-account token sent as `Authorization: Bearer`, re-read when the
  // file rotates; "" sends none (kubectl proxy).
  std::string bearer_token_file = kServiceAccountTokenFile;
  // PEM bundle that verifies the API server; "": the system CAs.
  std::string ca_file = kServiceAccountCaFile;
  // No certificate verification at all (logged as a warning). Default false.
  bool insecure_skip_verify = false;
  // Server-side length of one WATCH (timeoutSeconds), randomised per watch
  // in [t, 2t) as client-go does so that agents do not re-watch together.
  // Default 5m.
  std::chrono::milliseconds watch_timeout{std::chrono::minutes(5)};
  // First wait after a failed request; doubles up to max_backoff, with
  // full jitter. Defaults 1s and 30s.
  std::chrono::milliseconds initial_backoff{std::chrono::seconds(1)};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(30)};
  // Whole-request deadline of each LIST page. Default 30s.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};

  /// Cross-field checks, each error at its key under `kubernetes`.
  std::vector<ConfigError> validate() const;
};

/// Reads `kubernetes:`, recording bad values in the node's document (and
/// keeping the default for them), then reports unknown keys (node.finish()).
KubeApiConfig parseKubeApiConfig(ConfigNode& node);

/// The API server's base URL without a trailing slash: config.api_server,
/// or https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (an IPv6
/// host bracketed; port 443 when the port variable is unset). Error
/// (kUnavailable) when neither is there: not running in a cluster.
Result<std::string> resolveApiServer(const KubeApiConfig& config);

}  // namespace kubemetrics::kube
