#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kubemetrics {

// The cluster-wide view the `role: cluster` agent keeps for service
// discovery: Services (core/v1) and their EndpointSlices
// (discovery.k8s.io/v1), reduced to the fields discovery reads. The types
// are plain values with defaulted equality, so a re-list or a MODIFIED
// event that changes nothing kept publishes no new snapshot.

/// What the agent keeps of a v1 Service. Plain value type.
struct KubeService {
  std::string namespace_name;                                   // metadata.namespace
  std::string name;                                             // metadata.name
  std::map<std::string, std::string, std::less<>> annotations;  // metadata.annotations

  bool operator==(const KubeService&) const = default;
};

/// One `ports[]` entry of an EndpointSlice. Plain value type.
struct KubeEndpointPort {
  std::string name;  // may be empty (a Service with one unnamed port)
  int port = 0;      // 0: the slice's "all ports" (port null), never a target
  std::string protocol = "TCP";

  bool operator==(const KubeEndpointPort&) const = default;
};

/// One `endpoints[]` entry of an EndpointSlice. Plain value type.
struct KubeEndpoint {
  std::vector<std::string> addresses;  // the API allows several, consumers use the first
  /// conditions.ready; an absent value means "unknown", which the API says
  /// consumers should treat as ready.
  bool ready = true;
  std::string node_name;         // nodeName, may be empty
  std::string target_kind;       // targetRef.kind ("Pod"), may be empty
  std::string target_namespace;  // targetRef.namespace
  std::string target_name;       // targetRef.name

  bool operator==(const KubeEndpoint&) const = default;
};

/// What the agent keeps of a discovery.k8s.io/v1 EndpointSlice. Plain
/// value type.
struct KubeEndpointSlice {
  std::string namespace_name;  // metadata.namespace
  std::string name;            // metadata.name
  /// metadata.labels["kubernetes.io/service-name"]: the Service the slice
  /// belongs to; empty for a slice no Service owns.
  std::string service_name;
  std::string address_type;  // IPv4 | IPv6 | FQDN
  std::vector<KubeEndpointPort> ports;
  std::vector<KubeEndpoint> endpoints;

  bool operator==(const KubeEndpointSlice&) const = default;
};

/// An immutable view of the Services and EndpointSlices at one moment;
/// `version` grows by one at every change. Shared read-only between
/// threads.
struct KubeServiceSnapshot {
  std::uint64_t version = 0;
  /// True once the first LISTs of both kinds completed; before that an
  /// absent object may simply not be known yet.
  bool synced = false;
  /// By "<namespace>/<name>".
  std::map<std::string, std::shared_ptr<const KubeService>, std::less<>> services;
  std::map<std::string, std::shared_ptr<const KubeEndpointSlice>, std::less<>> slices;
};

/// Services and EndpointSlices of the whole cluster, kept current by
/// LIST+WATCH on background threads. Thread-safe: snapshot() from any
/// thread (one shared-pointer copy under a short lock); a snapshot is never
/// modified after it was published.
class KubeServiceCatalog {
 public:
  virtual ~KubeServiceCatalog() = default;
  virtual std::shared_ptr<const KubeServiceSnapshot> snapshot() const = 0;
};

/// How a component reaches the Kubernetes API server itself (the
/// control-plane preset scrapes its /metrics with the agent's
/// credentials). Plain value type.
struct KubeApiAccess {
  std::string server;             // "https://10.96.0.1:443", no trailing slash
  std::string bearer_token_file;  // "" when none is sent
  std::string ca_file;            // "" for the system CAs
  bool insecure_skip_verify = false;
};

}  // namespace kubemetrics
