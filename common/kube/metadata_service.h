#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/secret_file.h"
#include "common/kube/api_config.h"
#include "common/kube/reflector.h"
#include "common/kube/service_catalog.h"
#include "kubemetrics/deadline.h"
#include "kubemetrics/kube_metadata.h"

namespace kubemetrics::kube {

/// The agent's one connection to the Kubernetes API: two Reflectors (the
/// pods of `node_name`, by fieldSelector spec.nodeName, and the Node object
/// itself, by metadata.name) feeding one copy-on-write KubeSnapshot.
/// Every change publishes a new immutable snapshot (version + 1) and then
/// calls the subscribers; `synced` turns true once both first LISTs are in.
/// acquireServices() adds the cluster-wide Services and EndpointSlices
/// (ServiceCatalogService, for role: cluster service discovery) on the same
/// server, token and CA, started and stopped with the rest.
///
/// Life cycle (the agent's main thread): construct from the `kubernetes:`
/// config; components call acquire() from their factories (the first call
/// resolves the server and reads the token and CA: start-up errors);
/// start() runs the watches if anyone acquired it (otherwise it does
/// nothing); stop() ends them promptly and is idempotent (the destructor
/// calls it).
///
/// Self-metrics: kubemetrics_kubernetes_cached_objects{kind},
/// kubemetrics_kubernetes_cache_bytes, kubemetrics_kubernetes_watch_events_total
/// {kind,type}, kubemetrics_kubernetes_relists_total{kind,reason},
/// kubemetrics_kubernetes_api_errors_total{kind,reason}.
///
/// Thread-safe as KubeMetadata says: snapshot() from any thread;
/// subscribers run on a watch thread, one call at a time, in version order.
class KubeMetadataService final : public KubeMetadata, public KubeMetadataProvider {
 public:
  KubeMetadataService(KubeApiConfig config, std::string node_name, prometheus::Registry& registry);
  ~KubeMetadataService() override;
  KubeMetadataService(const KubeMetadataService&) = delete;
  KubeMetadataService& operator=(const KubeMetadataService&) = delete;

  // kubemetrics::KubeMetadataProvider
  Result<KubeMetadata*> acquire(std::string_view who) override;
  bool available() const override;
  Result<KubeServiceCatalog*> acquireServices(std::string_view who) override;
  Result<KubeApiAccess> apiAccess() const override;

  // kubemetrics::KubeMetadata
  std::shared_ptr<const KubeSnapshot> snapshot() const override;
  void subscribe(std::function<void(const KubeSnapshot&)> on_change) override;

  /// Starts the watches acquire() and acquireServices() asked for, if any.
  void start();
  /// Stops them (cancels the requests in flight); idempotent.
  void stop();
  /// Blocks until the first LISTs of every watch acquired are in (the
  /// snapshots are synced) or `deadline` (then logs a warning); true when
  /// synced. Returns false at once when the watches do not run (nothing
  /// acquired them). For the
  /// agent's start: the first scrapes then find the pods known, so no
  /// series goes out unenriched.
  bool waitForSync(Deadline deadline);

  /// The API server in use ("" before acquire()).
  const std::string& server() const { return server_; }

 private:
  class PodStore;
  class NodeStore;
  friend class PodStore;
  friend class NodeStore;

  // Resolves the server and loads the token and checks the CA, once.
  Result<void> connect();

  void replacePods(std::vector<KubePod>&& items);
  void applyPod(WatchEventType type, KubePod&& pod);
  void replaceNode(std::vector<KubeNode>&& items);
  void applyNode(WatchEventType type, KubeNode&& node);
  /// Copies the current snapshot, lets `edit` change the copy (true when it
  /// changed anything), publishes it and notifies. Watch threads only.
  template <typename Edit>
  void publish(Edit edit);
  void registerMetrics(prometheus::Registry& registry);

  const KubeApiConfig config_;
  const std::string node_name_;
  std::string server_;  // set by acquire()

  std::unique_ptr<SecretFile> token_;
  std::unique_ptr<PodStore> pod_store_;
  std::unique_ptr<NodeStore> node_store_;
  std::unique_ptr<Reflector<KubePod>> pods_;
  std::unique_ptr<Reflector<KubeNode>> node_;
  std::unique_ptr<ServiceCatalogService> services_;  // acquireServices()

  ReflectorMetrics reflector_metrics_;
  prometheus::Family<prometheus::Gauge>* cached_family_ = nullptr;
  prometheus::Gauge* cached_pods_ = nullptr;
  prometheus::Gauge* cached_nodes_ = nullptr;
  prometheus::Gauge* cache_bytes_ = nullptr;

  // Serialises the two watch threads' edits and notifications, so
  // subscribers see versions in order. Taken before mu_.
  std::mutex publish_mu_;
  bool pods_listed_ = false;    // guarded by publish_mu_
  bool node_listed_ = false;    // guarded by publish_mu_
  std::size_t pod_bytes_ = 0;   // guarded by publish_mu_
  std::size_t node_bytes_ = 0;  // guarded by publish_mu_

  mutable std::mutex mu_;           // the current snapshot and the subscriber list
  std::condition_variable synced_;  // with mu_: current_ became synced
  std::shared_ptr<const KubeSnapshot> current_;
  std::vector<std::function<void(const KubeSnapshot&)>> subscribers_;
};

}  // namespace kubemetrics::kube
