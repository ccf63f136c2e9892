#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "kubemetrics/kube_metadata.h"
#include "kubemetrics/result.h"

namespace kubemetrics::kube {

// Decoders from the JSON of the Kubernetes core/v1 API (Pod, Node, their
// lists and watch events) to the KubePod/KubeNode the agent keeps
// (include/kubemetrics/kube_metadata.h). Only the fields those types name
// are read; unknown fields are ignored, JSON null counts as absent. A field
// of the wrong type or an invalid quantity is a kInvalidArgument error whose
// message starts with the JSON path:
//   spec.containers[1].resources.requests.cpu: invalid quantity "12Q"
//   items[3].metadata.name: expected a string
//   object.status.containerStatuses[0].restartCount: expected an integer
// Pure functions; thread-safe (each call has its own parser).

/// The `type` of a watch event (metav1.WatchEvent).
enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

/// One page of a LIST (v1 PodList / NodeList). `resource_version` is the
/// list's metadata.resourceVersion, where a WATCH continues;
/// `continue_token` is metadata.continue, empty on the last page. Plain
/// value type.
template <typename T>
struct ObjectList {
  std::vector<T> items;
  std::string resource_version;
  std::string continue_token;
};

/// One event of a WATCH stream (one line of JSON). Plain value type.
template <typename T>
struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  T object;                      // empty for kBookmark / kError
  std::string resource_version;  // object.metadata.resourceVersion (also set for kBookmark)
  int error_code = 0;            // kError: Status.code (410 = Gone/Expired)
  std::string error_message;     // kError: Status.message
};

/// A v1 Pod object.
Result<KubePod> decodePod(std::string_view json);
/// A v1 Node object.
Result<KubeNode> decodeNode(std::string_view json);
/// A v1 PodList (an error in one item fails the whole list: "items[3]...").
Result<ObjectList<KubePod>> decodePodList(std::string_view json);
/// A v1 NodeList.
Result<ObjectList<KubeNode>> decodeNodeList(std::string_view json);
/// One line of a pod watch stream: {"type":"ADDED","object":{...}}. A
/// trailing newline is fine; an unknown type is an error.
Result<WatchEvent<KubePod>> decodePodEvent(std::string_view line);
/// One line of a node watch stream.
Result<WatchEvent<KubeNode>> decodeNodeEvent(std::string_view line);

/// Approximate bytes a decoded object keeps in memory (the struct, string
/// heap buffers, map nodes, vectors): for the cache-size self-metric, not
/// exact to the allocator.
std::size_t approximateBytes(const KubePod& pod);
std::size_t approximateBytes(const KubeNode& node);

}  // namespace kubemetrics::kube
