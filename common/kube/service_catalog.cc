#include "common/kube/service_catalog.h"

#include <utility>

#include "common/kube/discovery_objects.h"
#include "kubemetrics/log.h"

namespace kubemetrics::kube {
namespace {

constexpr std::string_view kLog = "kubernetes";

template <typename T>
std::string keyOf(const T& object) {
  return object.namespace_name + "/" + object.name;
}

// The snapshot's map for each kind, chosen by overload.
auto& objectsOf(KubeServiceSnapshot& snapshot, const KubeService*) { return snapshot.services; }
auto& objectsOf(KubeServiceSnapshot& snapshot, const KubeEndpointSlice*) { return snapshot.slices; }

// Only the prometheus.io/* annotations of a Service are kept: the others
// (kubectl's last-applied-configuration, often kilobytes) would cost memory
// for every Service of the cluster and say nothing to discovery.
void trim(KubeService& service) {
  std::erase_if(service.annotations,
                [](const auto& entry) { return !entry.first.starts_with("prometheus.io/"); });
}
void trim(KubeEndpointSlice&) {}

}  // namespace

template <typename T>
class ServiceCatalogService::Store final : public ReflectorStore<T> {
 public:
  explicit Store(ServiceCatalogService& owner) : owner_(owner) {}
  void replace(std::vector<T>&& items) override { owner_.replace(std::move(items)); }
  void apply(WatchEventType type, T&& object) override { owner_.apply(type, std::move(object)); }

 private:
  ServiceCatalogService& owner_;
};

ServiceCatalogService::ServiceCatalogService(const KubeApiConfig& config, const std::string& server,
                                             SecretFile* token, ReflectorMetrics metrics,
                                             prometheus::Family<prometheus::Gauge>* cached)
    : service_store_(std::make_unique<Store<KubeService>>(*this)),
      slice_store_(std::make_unique<Store<KubeEndpointSlice>>(*this)),
      current_(std::make_shared<const KubeServiceSnapshot>()) {
  if (cached != nullptr) {
    cached_services_ = &cached->Add({{"kind", "service"}});
    cached_slices_ = &cached->Add({{"kind", "endpointslice"}});
  }
  services_ = std::make_unique<Reflector<KubeService>>(
      ReflectorOptions{"service", "/api/v1/services", "", "", 500}, config, server, token,
      *service_store_, metrics);
  slices_ = std::make_unique<Reflector<KubeEndpointSlice>>(
      ReflectorOptions{"endpointslice", "/apis/discovery.k8s.io/v1/endpointslices", "",
                       std::string(kServiceNameLabel), 500},
      config, server, token, *slice_store_, metrics);
}

ServiceCatalogService::~ServiceCatalogService() { stop(); }

void ServiceCatalogService::start() {
  services_->start();
  slices_->start();
}

void ServiceCatalogService::stop() {
  services_->stop();
  slices_->stop();
}

bool ServiceCatalogService::waitForSync(Deadline deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return synced_.wait_until(lock, deadline, [this] { return current_->synced; });
}

std::shared_ptr<const KubeServiceSnapshot> ServiceCatalogService::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

template <typename Edit>
void ServiceCatalogService::publish(Edit edit) {
  std::lock_guard<std::mutex> publishing(publish_mu_);
  auto next = std::make_shared<KubeServiceSnapshot>(*snapshot());
  const bool was_synced = next->synced;
  bool changed = edit(*next);
  next->synced = services_listed_ && slices_listed_;
  changed |= next->synced != was_synced;
  if (cached_services_ != nullptr) {
    cached_services_->Set(static_cast<double>(next->services.size()));
    cached_slices_->Set(static_cast<double>(next->slices.size()));
  }
  if (!changed) return;
  ++next->version;
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = std::move(next);
  }
  synced_.notify_all();
}

template <typename T>
void ServiceCatalogService::replace(std::vector<T>&& items) {
  publish([&](KubeServiceSnapshot& s) {
    auto& objects = objectsOf(s, static_cast<const T*>(nullptr));
    std::remove_reference_t<decltype(objects)> next;
    bool changed = false;
    for (T& item : items) {
      trim(item);
      std::string key = keyOf(item);
      auto old = objects.find(key);
      if (old != objects.end() && *old->second == item) {
        next[std::move(key)] = old->second;  // unchanged: stays shared
      } else {
        next[std::move(key)] = std::make_shared<const T>(std::move(item));
        changed = true;
      }
    }
    changed |= next.size() != objects.size();
    objects = std::move(next);
    if constexpr (std::is_same_v<T, KubeService>) {
      services_listed_ = true;
    } else {
      slices_listed_ = true;
    }
    logDebug(kLog) << "service discovery: " << objects.size() << " objects listed";
    return changed;
  });
}

template <typename T>
void ServiceCatalogService::apply(WatchEventType type, T&& object) {
  publish([&](KubeServiceSnapshot& s) {
    auto& objects = objectsOf(s, static_cast<const T*>(nullptr));
    trim(object);
    std::string key = keyOf(object);
    auto old = objects.find(key);
    if (type == WatchEventType::kDeleted) {
      if (old == objects.end()) return false;
      objects.erase(old);
      return true;
    }
    if (old != objects.end()) {
      if (*old->second == object) return false;
      old->second = std::make_shared<const T>(std::move(object));
      return true;
    }
    objects.emplace(std::move(key), std::make_shared<const T>(std::move(object)));
    return true;
  });
}

}  // namespace kubemetrics::kube
