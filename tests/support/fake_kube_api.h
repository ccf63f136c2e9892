#pragma once
// An in-process fake Kubernetes API server for the tests of the kube client,
// reflector and metadata service: the LIST and WATCH parts of core/v1 pods
// and nodes, over HTTPS with bearer-token authentication.
//
// It follows the Kubernetes API concepts document
// (https://kubernetes.io/docs/reference/using-api/api-concepts/):
// Services (core/v1) and EndpointSlices (discovery.k8s.io/v1) follow the
// Kubernetes API reference for those kinds (EndpointSlice v1: addressType,
// endpoints[].addresses/conditions/nodeName/targetRef, ports[]; the
// kubernetes.io/service-name label ties a slice to its Service).
//
//  - "Efficient detection of changes": every change gets the next
//    resourceVersion; a LIST answers with the current one in
//    metadata.resourceVersion; a WATCH from resourceVersion R sends the
//    events after R (from a kept event history), a WATCH with "" or "0"
//    starts at the current state (no synthetic ADDED events: this fake
//    serves the "get state and start at most recent" pattern, where the
//    client LISTs first);
//  - "Watch bookmarks": BOOKMARK events only to watches that asked with
//    allowWatchBookmarks=true, object {"kind":"Pod","apiVersion":"v1",
//    "metadata":{"resourceVersion":"N"}};
//  - "410 Gone responses": after compactHistory() an open watch gets
//    {"type":"ERROR","object":{"kind":"Status",...,"reason":"Expired",
//    "code":410}} and ends; a later WATCH or LIST with an older
//    resourceVersion (not "" / "0"), and a LIST continuing an older
//    snapshot, are answered HTTP 410 with that Status body;
//  - "Retrieving large results sets in chunks": limit + continue over a
//    consistent snapshot taken by the first page.
//
// Wire shapes:
//  - LIST: 200, {"kind":"PodList","apiVersion":"v1","metadata":
//    {"resourceVersion":"N"[,"continue":"T","remainingItemCount":K]},
//    "items":[...]}, items sorted by namespace/name.
//  - WATCH: 200, Transfer-Encoding: chunked, Content-Type
//    application/json, one {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR",
//    "object":{...}} per line ending in "\n". A watch ends cleanly (final
//    chunk) at timeoutSeconds, on closeWatches() and after the 410 ERROR.
//  - Errors: a v1 Status {"kind":"Status","apiVersion":"v1","metadata":{},
//    "status":"Failure","message":...,"reason":...,"code":N}: 401
//    Unauthorized for a wrong token, 400 BadRequest for an unsupported
//    field selector, 404 NotFound for other paths, 410 Expired, and the
//    failNextRequests() statuses (429 also sends Retry-After: 1).
//
// The resource metrics API follows the PodMetrics v1beta1 reference
// (k8s.io/metrics/pkg/apis/metrics/v1beta1/types.go): a PodMetricsList
// whose items carry metadata, timestamp, window and containers[].usage
// {cpu, memory} as resource.Quantity strings.
//
// Routes: GET /api/v1/pods, /api/v1/namespaces/{ns}/pods, /api/v1/nodes,
// /api/v1/services, /api/v1/namespaces/{ns}/services,
// /apis/discovery.k8s.io/v1/endpointslices (and namespaced), and the API
// server's own /metrics (a nonResourceURL behind the token, serving
// apiserver_request_total; counted as requests("metrics", "get")).
// Query: fieldSelector (pods: spec.nodeName, metadata.name,
// metadata.namespace; nodes: metadata.name; "=", "==" and "!=", comma =
// AND), watch=1|true, resourceVersion, resourceVersionMatch (accepted,
// ignored), allowWatchBookmarks, timeoutSeconds, limit, continue.
// labelSelector: "key" (exists) and "key=value" terms, comma = AND.
//
// Objects are stored as given (real v1 JSON), re-serialized on one line with
// metadata.resourceVersion set to the fake's value (and metadata.namespace
// "default" for a pod without one). A DELETED event carries the last state
// with the deletion's resourceVersion.
//
// Thread-safe: the test thread mutates while the server's threads (a pool
// of 32, so many watches and lists run at once) serve. Watch handlers wait
// on a condition variable in bounded steps and stop when the client is gone
// or the fake is destroyed, so the destructor does not hang.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kubemetrics::testing {

class FakeKubeApi {
 public:
  /// Serves https://127.0.0.1:<ephemeral port> with a certificate for
  /// 127.0.0.1 and localhost signed by TlsCerts::shared().ca_cert. Throws
  /// std::runtime_error when it cannot listen.
  FakeKubeApi();
  ~FakeKubeApi();
  FakeKubeApi(const FakeKubeApi&) = delete;
  FakeKubeApi& operator=(const FakeKubeApi&) = delete;

  std::string url() const;     // "https://127.0.0.1:PORT"
  std::string caFile() const;  // PEM path of the CA that verifies it
  /// The one bearer token accepted (default "fake-token"); any other
  /// Authorization gets 401 with a Status body.
  void setToken(std::string token);

  /// A real v1 Pod JSON (throws std::invalid_argument when it is not JSON or
  /// lacks metadata.name): stored with the next resourceVersion, ADDED or
  /// MODIFIED sent to matching watches.
  void upsertPod(std::string pod_json);
  /// DELETED (object = last state, new resourceVersion); no-op when absent.
  void deletePod(std::string_view namespace_name, std::string_view name);
  void upsertNode(std::string node_json);
  void deleteNode(std::string_view name);
  /// A v1 Service / a discovery.k8s.io/v1 EndpointSlice, as pods.
  void upsertService(std::string service_json);
  void deleteService(std::string_view namespace_name, std::string_view name);
  void upsertEndpointSlice(std::string slice_json);
  void deleteEndpointSlice(std::string_view namespace_name, std::string_view name);
  /// A BOOKMARK at the current resourceVersion to every open watch that
  /// asked for allowWatchBookmarks=true.
  void sendBookmarks();
  /// Forgets the history: open watches get the 410 ERROR event and end;
  /// older resourceVersions and continue tokens get 410 from now on.
  void compactHistory();
  /// Ends every open watch stream cleanly, as the server's watch timeout
  /// does.
  void closeWatches();
  /// The PodMetrics items (podMetricsJson()) that GET
  /// /apis/metrics.k8s.io/v1beta1/pods lists from now on, in that order;
  /// until the first call that route answers 404, as an API server without
  /// metrics-server does.
  void setPodMetrics(std::vector<std::string> items);
  /// The next `count` requests (any route, before authentication) get
  /// `status` (500, 503, 429, ...) with a Status body.
  void failNextRequests(int count, int status);

  /// Requests received for `resource` ("pods"|"nodes"|"services"|
  /// "endpointslices"|"metrics"|"podmetrics") and `verb` ("list"|"watch"|"get")
  /// ("list"|"watch"), whatever their answer (failed and 401 included).
  int requests(std::string_view resource, std::string_view verb) const;
  int unauthorized() const;  // 401s served
  /// Every request as "GET <path>?<query>" in arrival order, the query as
  /// the client sent it (still URL-encoded).
  std::vector<std::string> requestLog() const;
  /// Watch streams currently open (counted from the request until the
  /// stream has ended).
  int openWatches() const;
  /// Waits until at least `count` watches are open; false on timeout.
  bool waitForWatches(int count, std::chrono::milliseconds timeout) const;
  /// The resourceVersion of the last change ("1" before any).
  std::string resourceVersion() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

/// The items of a v1 PodList (a kubelet /pods capture) as Pod JSON strings,
/// for upsertPod(). Throws std::invalid_argument on malformed JSON.
std::vector<std::string> podItemsFromList(std::string_view pod_list_json);

/// A realistic minimal Running pod: one container "main" (with
/// `container_port` as port "http" when > 0), owned by the ReplicaSet named
/// `name` without its last "-segment" (controller=true), on `node_name`,
/// with `pod_ip` in status.podIP when not empty.
std::string podJson(const std::string& namespace_name, const std::string& name,
                    const std::string& node_name, const std::map<std::string, std::string>& labels,
                    const std::map<std::string, std::string>& annotations = {},
                    const std::string& pod_ip = "", int container_port = 0);

/// A v1 Service of type ClusterIP with one port "http" and `annotations`.
std::string serviceJson(const std::string& namespace_name, const std::string& name,
                        const std::map<std::string, std::string>& annotations);

/// One endpoint of endpointSliceJson(): an address, ready or not, and the
/// Pod it is (targetRef; none when empty).
struct SliceEndpoint {
  std::string address;
  std::string pod;
  bool ready = true;
};

/// A discovery.k8s.io/v1 EndpointSlice of `service` (label
/// kubernetes.io/service-name, owner reference), addressType IPv4, one TCP
/// port "http" = `port`, and `endpoints`.
std::string endpointSliceJson(const std::string& namespace_name, const std::string& name,
                              const std::string& service, int port,
                              const std::vector<SliceEndpoint>& endpoints);

/// A minimal v1 Node with the given labels and status.capacity /
/// status.allocatable (quantity strings: "4", "16Gi").
std::string nodeJson(const std::string& name, const std::map<std::string, std::string>& labels,
                     const std::string& cpu_capacity, const std::string& memory_capacity,
                     const std::string& cpu_allocatable, const std::string& memory_allocatable);

/// One container of podMetricsJson(): its usage as the resource metrics API
/// writes it (cpu "1532417n", memory "24180Ki").
struct ContainerUsage {
  std::string name;
  std::string cpu;
  std::string memory;
};

/// A metrics.k8s.io/v1beta1 PodMetrics of pod `namespace_name`/`name`, as
/// metrics-server serves it (timestamp, window, one entry per container).
std::string podMetricsJson(const std::string& namespace_name, const std::string& name,
                           const std::vector<ContainerUsage>& containers);

}  // namespace kubemetrics::testing
