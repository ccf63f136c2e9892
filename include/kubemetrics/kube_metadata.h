#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kubemetrics/kube_services.h"
#include "kubemetrics/result.h"

namespace kubemetrics {

/// CPU and memory of a resource list (a container's requests or limits, a
/// node's capacity or allocatable), in the units the Wavefront collector
/// reports: CPU in millicores ("250m" -> 250, "2" -> 2000), memory in bytes
/// ("128Mi" -> 134217728). nullopt when the list does not name the resource.
/// Plain value type.
struct KubeResources {
  std::optional<double> cpu_millicores;
  std::optional<double> memory_bytes;
};

/// One `spec.containers[].ports[]` entry. Plain value type.
struct KubeContainerPort {
  std::string name;  // may be empty
  int port = 0;      // containerPort
  std::string protocol = "TCP";
};

/// One container of a pod: its spec (`spec.containers[]`, init containers
/// excluded) joined with its `status.containerStatuses[]` entry by name.
/// Plain value type.
struct KubeContainer {
  std::string name;
  std::vector<KubeContainerPort> ports;
  KubeResources requests;
  KubeResources limits;
  int restart_count = 0;  // status.containerStatuses[].restartCount
  std::string state;      // "running" | "waiting" | "terminated" | "" (no status yet)
  std::string reason;     // state.waiting.reason or state.terminated.reason, may be empty
};

/// What the agent keeps of a Pod object: the fields that become tags, scrape
/// targets and the request/limit metrics, nothing else (memory is
/// proportional to what is watched, not to the size of the JSON). Immutable
/// once published in a KubeSnapshot; plain value type.
struct KubePod {
  std::string namespace_name;  // metadata.namespace
  std::string name;            // metadata.name
  std::string uid;             // metadata.uid
  std::string node_name;       // spec.nodeName
  std::string phase;           // status.phase: Pending | Running | Succeeded | Failed | Unknown
  std::string pod_ip;          // status.podIP, may be empty
  std::map<std::string, std::string, std::less<>> labels;       // metadata.labels
  std::map<std::string, std::string, std::less<>> annotations;  // metadata.annotations
  /// The controller that owns the pod, followed one step where the name
  /// tells it (a ReplicaSet named <deployment>-<pod-template-hash> ->
  /// Deployment <deployment>): "Deployment"/"web", "DaemonSet"/"fluentd",
  /// "StatefulSet"/"db", "Job"/"backup-28391"; empty for a bare pod.
  std::string workload_kind;
  std::string workload_name;
  std::vector<KubeContainer> containers;
};

/// What the agent keeps of its own Node object. Plain value type.
struct KubeNode {
  std::string name;
  std::map<std::string, std::string, std::less<>> labels;
  /// The roles from `node-role.kubernetes.io/<role>` labels, sorted and
  /// comma-joined ("control-plane,master"); empty when it has none.
  std::string role;
  KubeResources capacity;     // status.capacity
  KubeResources allocatable;  // status.allocatable
};

/// An immutable view of everything the watches have seen at one moment.
/// `version` grows by one at every change (a pod added, modified, deleted,
/// the node updated, a re-list that changed anything), so a reader can key
/// a cache on it. Shared read-only between threads.
struct KubeSnapshot {
  std::uint64_t version = 0;
  /// True once the first LIST of pods (and of the node) has completed;
  /// before that an absent pod may simply not be known yet.
  bool synced = false;
  /// Pods by "<namespace>/<name>".
  std::map<std::string, std::shared_ptr<const KubePod>, std::less<>> pods;
  std::shared_ptr<const KubeNode> node;  // this agent's node; null until seen

  /// The pod, or null.
  const KubePod* pod(std::string_view namespace_name, std::string_view name) const {
    std::string key;
    key.reserve(namespace_name.size() + 1 + name.size());
    key.append(namespace_name).append(1, '/').append(name);
    auto it = pods.find(key);
    return it == pods.end() ? nullptr : it->second.get();
  }
};

/// Pod and node metadata from the Kubernetes API, kept current by
/// LIST+WATCH on a background thread (the node role watches only the pods
/// of its node and its own Node object).
///
/// Thread-safe: snapshot() may be called from any thread at any rate (it
/// copies one shared pointer under a short lock); a snapshot is never
/// modified after it was published. Callbacks given to subscribe() run on
/// the watch thread right after a new snapshot is published, must be quick
/// (no I/O, no blocking) and may not call subscribe().
class KubeMetadata {
 public:
  virtual ~KubeMetadata() = default;

  virtual std::shared_ptr<const KubeSnapshot> snapshot() const = 0;
  /// `on_change` is called after every change, with the new snapshot.
  virtual void subscribe(std::function<void(const KubeSnapshot&)> on_change) = 0;
};

/// How a component gets the agent's one KubeMetadata (one set of watches
/// however many components use it). Given to factories in the
/// ComponentContext. Called on the main thread at start-up only.
class KubeMetadataProvider {
 public:
  virtual ~KubeMetadataProvider() = default;

  /// The shared metadata, created on the first call; its watches start with
  /// the agent. Error when the `kubernetes:` config names no API server and
  /// the agent does not run in a cluster (no KUBERNETES_SERVICE_HOST), or
  /// when its token or CA file cannot be read.
  virtual Result<KubeMetadata*> acquire(std::string_view who) = 0;
  /// True when acquire() can work: an API server is configured or the
  /// agent runs in a cluster. For components that use the API when present
  /// and do without otherwise.
  virtual bool available() const = 0;
  /// The cluster-wide Services and EndpointSlices (`role: cluster` service
  /// discovery), created on the first call with the same server, token and
  /// CA as acquire(); its watches start with the agent. Errors as
  /// acquire()'s.
  virtual Result<KubeServiceCatalog*> acquireServices(std::string_view who) = 0;
  /// The API server and the credentials the agent uses for it; errors as
  /// acquire()'s.
  virtual Result<KubeApiAccess> apiAccess() const = 0;
};

/// The start-up error of a component that needs the Kubernetes API and
/// could not get it from KubeMetadataProvider (`cause`): "<enabled_path>:
/// needs the Kubernetes API: <cause>", with the cause's code, so every such
/// component names its own key and the same reason.
inline tl::unexpected<Error> needsKubernetesApi(std::string_view enabled_path, const Error& cause) {
  return makeError(cause.code(),
                   std::string(enabled_path) + ": needs the Kubernetes API: " + cause.message());
}

}  // namespace kubemetrics
