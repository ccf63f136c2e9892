#pragma once

#include <cstddef>
#include <string_view>

#include "common/kube/objects.h"
#include "kubemetrics/kube_services.h"
#include "kubemetrics/result.h"

namespace kubemetrics::kube {

// Decoders from the JSON of v1 Services and discovery.k8s.io/v1
// EndpointSlices (their lists and watch events) to what service discovery
// keeps (include/kubemetrics/kube_services.h), as objects.h does for pods:
// unknown fields ignored, JSON null counts as absent, a field of the wrong
// type is a kInvalidArgument error starting with its JSON path
// ("items[2].endpoints[0].addresses[1]: expected a string"). Field names
// and shapes follow the Kubernetes API reference for Service v1 and
// EndpointSlice v1 (discovery.k8s.io). Pure functions; thread-safe.

/// The label that ties an EndpointSlice to its Service.
inline constexpr std::string_view kServiceNameLabel = "kubernetes.io/service-name";

Result<KubeService> decodeService(std::string_view json);
Result<ObjectList<KubeService>> decodeServiceList(std::string_view json);
Result<WatchEvent<KubeService>> decodeServiceEvent(std::string_view line);
Result<KubeEndpointSlice> decodeEndpointSlice(std::string_view json);
Result<ObjectList<KubeEndpointSlice>> decodeEndpointSliceList(std::string_view json);
Result<WatchEvent<KubeEndpointSlice>> decodeEndpointSliceEvent(std::string_view line);

/// Approximate heap bytes of a decoded object, for the cache-size
/// self-metric.
std::size_t approximateBytes(const KubeService& service);
std::size_t approximateBytes(const KubeEndpointSlice& slice);

}  // namespace kubemetrics::kube
