#pragma once

#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/http/secret_file.h"
#include "common/kube/api_config.h"
#include "common/kube/reflector.h"
#include "kubemetrics/deadline.h"
#include "kubemetrics/kube_services.h"

namespace kubemetrics::kube {

/// The cluster-wide Services and EndpointSlices for service discovery: two
/// Reflectors (/api/v1/services, and
/// /apis/discovery.k8s.io/v1/endpointslices with labelSelector
/// kubernetes.io/service-name, so slices no Service owns are not sent)
/// feeding one copy-on-write KubeServiceSnapshot, as KubeMetadataService
/// does for pods. `synced` turns true once both first LISTs are in. Of a
/// Service only the prometheus.io/* annotations are kept.
///
/// Created by KubeMetadataService::acquireServices(), which owns it and
/// starts and stops it with its own watches.
///
/// Thread-safe: snapshot() from any thread; start() and stop() from the
/// owner's thread; the stores run on the two watch threads, serialised by
/// publish_mu_.
class ServiceCatalogService final : public KubeServiceCatalog {
 public:
  /// `token` may be null and must outlive this; `cached` (may be null) is
  /// kubemetrics_kubernetes_cached_objects, given children
  /// kind="service" and kind="endpointslice".
  ServiceCatalogService(const KubeApiConfig& config, const std::string& server, SecretFile* token,
                        ReflectorMetrics metrics, prometheus::Family<prometheus::Gauge>* cached);
  ~ServiceCatalogService() override;
  ServiceCatalogService(const ServiceCatalogService&) = delete;
  ServiceCatalogService& operator=(const ServiceCatalogService&) = delete;

  // kubemetrics::KubeServiceCatalog
  std::shared_ptr<const KubeServiceSnapshot> snapshot() const override;

  void start();
  /// Idempotent.
  void stop();
  /// Blocks until synced or `deadline`; true when synced.
  bool waitForSync(Deadline deadline);

 private:
  template <typename T>
  class Store;

  /// Copies the snapshot, lets `edit` change the copy (true when it changed
  /// anything), publishes it. Watch threads only.
  template <typename Edit>
  void publish(Edit edit);
  template <typename T>
  void replace(std::vector<T>&& items);
  template <typename T>
  void apply(WatchEventType type, T&& object);

  std::unique_ptr<Store<KubeService>> service_store_;
  std::unique_ptr<Store<KubeEndpointSlice>> slice_store_;
  std::unique_ptr<Reflector<KubeService>> services_;
  std::unique_ptr<Reflector<KubeEndpointSlice>> slices_;
  prometheus::Gauge* cached_services_ = nullptr;
  prometheus::Gauge* cached_slices_ = nullptr;

  std::mutex publish_mu_;         // serialises the two watch threads' edits
  bool services_listed_ = false;  // guarded by publish_mu_
  bool slices_listed_ = false;    // guarded by publish_mu_

  mutable std::mutex mu_;           // current_
  std::condition_variable synced_;  // with mu_
  std::shared_ptr<const KubeServiceSnapshot> current_;
};

}  // namespace kubemetrics::kube
