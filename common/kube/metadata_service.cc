#include "common/kube/metadata_service.h"

#include <exception>
#include <fstream>
#include <utility>

#include "common/kube/object_equality.h"
#include "kubemetrics/log.h"

namespace kubemetrics::kube {
namespace {

constexpr std::string_view kLog = "kubernetes";

std::string podKey(const KubePod& pod) { return pod.namespace_name + "/" + pod.name; }

}  // namespace

class KubeMetadataService::PodStore final : public ReflectorStore<KubePod> {
 public:
  explicit PodStore(KubeMetadataService& service) : service_(service) {}
  void replace(std::vector<KubePod>&& items) override { service_.replacePods(std::move(items)); }
  void apply(WatchEventType type, KubePod&& pod) override {
    service_.applyPod(type, std::move(pod));
  }

 private:
  KubeMetadataService& service_;
};

class KubeMetadataService::NodeStore final : public ReflectorStore<KubeNode> {
 public:
  explicit NodeStore(KubeMetadataService& service) : service_(service) {}
  void replace(std::vector<KubeNode>&& items) override { service_.replaceNode(std::move(items)); }
  void apply(WatchEventType type, KubeNode&& node) override {
    service_.applyNode(type, std::move(node));
  }

 private:
  KubeMetadataService& service_;
};

KubeMetadataService::KubeMetadataService(KubeApiConfig config, std::string node_name,
                                         prometheus::Registry& registry)
    : config_(std::move(config)),
      node_name_(std::move(node_name)),
      current_(std::make_shared<const KubeSnapshot>()) {
  registerMetrics(registry);
}

KubeMetadataService::~KubeMetadataService() { stop(); }

void KubeMetadataService::registerMetrics(prometheus::Registry& registry) {
  // Start-up only; a clash with a family of another type is a bug
  // elsewhere that must not keep the metadata from flowing.
  try {
    auto& cached = prometheus::BuildGauge()
                       .Name("kubemetrics_kubernetes_cached_objects")
                       .Help("Kubernetes objects in the agent's watch cache, by kind.")
                       .Register(registry);
    cached_family_ = &cached;
    cached_pods_ = &cached.Add({{"kind", "pod"}});
    cached_nodes_ = &cached.Add({{"kind", "node"}});
    cache_bytes_ = &prometheus::BuildGauge()
                        .Name("kubemetrics_kubernetes_cache_bytes")
                        .Help("Approximate memory held by the Kubernetes watch cache.")
                        .Register(registry)
                        .Add({});
    reflector_metrics_.watch_events = &prometheus::BuildCounter()
                                           .Name("kubemetrics_kubernetes_watch_events_total")
                                           .Help("Kubernetes watch events received, by type.")
                                           .Register(registry);
    reflector_metrics_.relists =
        &prometheus::BuildCounter()
             .Name("kubemetrics_kubernetes_relists_total")
             .Help("Full LISTs of a Kubernetes resource: at start, or after 410 Gone.")
             .Register(registry);
    reflector_metrics_.api_errors =
        &prometheus::BuildCounter()
             .Name("kubemetrics_kubernetes_api_errors_total")
             .Help("Failed Kubernetes API requests and bad watch events, by reason.")
             .Register(registry);
  } catch (const std::exception& e) {
    logError(kLog) << "cannot register the Kubernetes self-metrics: " << e.what();
    reflector_metrics_ = {};
    cached_family_ = nullptr;
    cached_pods_ = cached_nodes_ = cache_bytes_ = nullptr;
  }
}

bool KubeMetadataService::available() const { return resolveApiServer(config_).has_value(); }

Result<void> KubeMetadataService::connect() {
  if (!server_.empty()) return {};
  Result<std::string> server = resolveApiServer(config_);
  if (!server) return tl::unexpected(server.error());
  std::unique_ptr<SecretFile> token;
  if (!config_.bearer_token_file.empty()) {
    token = std::make_unique<SecretFile>(config_.bearer_token_file, "kubernetes.bearer_token_file");
    if (Result<void> loaded = token->load(); !loaded) return tl::unexpected(loaded.error());
  }
  const bool https = server->starts_with("https://");
  if (https && !config_.insecure_skip_verify && !config_.ca_file.empty() &&
      !std::ifstream(config_.ca_file)) {
    return makeError(ErrorCode::kInvalidArgument, "kubernetes.ca_file: cannot read " +
                                                      config_.ca_file +
                                                      " (the CA that verifies the API server)");
  }
  if (https && config_.insecure_skip_verify) {
    logWarn(kLog) << "kubernetes.insecure_skip_verify is on: the API server's certificate is NOT "
                     "verified, so anyone on the path to "
                  << *server << " can read the service-account token";
  }
  server_ = *server;
  token_ = std::move(token);
  return {};
}

Result<KubeMetadata*> KubeMetadataService::acquire(std::string_view who) {
  if (pods_) return this;
  if (node_name_.empty()) {
    return makeError(ErrorCode::kInvalidArgument,
                     "the node name is empty: set `node` (NODE_NAME from the downward API), "
                     "which selects the pods and the Node object to watch");
  }
  if (Result<void> connected = connect(); !connected) {
    return tl::unexpected(connected.error());
  }
  pod_store_ = std::make_unique<PodStore>(*this);
  node_store_ = std::make_unique<NodeStore>(*this);
  pods_ = std::make_unique<Reflector<KubePod>>(
      ReflectorOptions{"pod", "/api/v1/pods", "spec.nodeName=" + node_name_, "", 500}, config_,
      server_, token_.get(), *pod_store_, reflector_metrics_);
  node_ = std::make_unique<Reflector<KubeNode>>(
      ReflectorOptions{"node", "/api/v1/nodes", "metadata.name=" + node_name_, "", 500}, config_,
      server_, token_.get(), *node_store_, reflector_metrics_);
  logInfo(kLog) << "watching the pods of node " << node_name_ << " and its Node object at "
                << server_ << " (for " << who << ")";
  return this;
}

Result<KubeServiceCatalog*> KubeMetadataService::acquireServices(std::string_view who) {
  if (services_) return services_.get();
  if (Result<void> connected = connect(); !connected) {
    return tl::unexpected(connected.error());
  }
  services_ = std::make_unique<ServiceCatalogService>(config_, server_, token_.get(),
                                                      reflector_metrics_, cached_family_);
  logInfo(kLog) << "watching the Services and EndpointSlices of the cluster at " << server_
                << " (for " << who << ")";
  return services_.get();
}

Result<KubeApiAccess> KubeMetadataService::apiAccess() const {
  Result<std::string> server = resolveApiServer(config_);
  if (!server) return tl::unexpected(server.error());
  return KubeApiAccess{*server, config_.bearer_token_file, config_.ca_file,
                       config_.insecure_skip_verify};
}

void KubeMetadataService::start() {
  if (services_) services_->start();
  if (!pods_) return;
  pods_->start();
  node_->start();
}

void KubeMetadataService::stop() {
  if (services_) services_->stop();
  if (!pods_) return;
  pods_->stop();
  node_->stop();
}

bool KubeMetadataService::waitForSync(Deadline deadline) {
  bool services_synced = true;
  if (services_ && !services_->waitForSync(deadline)) {
    services_synced = false;
    logWarn(kLog) << "the first Service and EndpointSlice lists from " << server_
                  << " are not in yet; going on without them (discovered services are scraped "
                     "once they arrive)";
  }
  if (!pods_) return services_ != nullptr && services_synced;
  std::unique_lock<std::mutex> lock(mu_);
  if (synced_.wait_until(lock, deadline, [this] { return current_->synced; })) {
    return services_synced;
  }
  logWarn(kLog) << "the first pod and node lists from " << server_
                << " are not in yet; going on without them (samples lack pod metadata until "
                   "they arrive)";
  return false;
}

std::shared_ptr<const KubeSnapshot> KubeMetadataService::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void KubeMetadataService::subscribe(std::function<void(const KubeSnapshot&)> on_change) {
  std::lock_guard<std::mutex> lock(mu_);
  subscribers_.push_back(std::move(on_change));
}

template <typename Edit>
void KubeMetadataService::publish(Edit edit) {
  std::lock_guard<std::mutex> publishing(publish_mu_);
  auto next = std::make_shared<KubeSnapshot>(*snapshot());
  const bool was_synced = next->synced;
  bool changed = edit(*next);
  next->synced = pods_listed_ && node_listed_;
  changed |= next->synced != was_synced;
  if (cached_pods_ != nullptr) {
    cached_pods_->Set(static_cast<double>(next->pods.size()));
    cached_nodes_->Set(next->node ? 1.0 : 0.0);
    cache_bytes_->Set(static_cast<double>(pod_bytes_ + node_bytes_));
  }
  if (!changed) return;
  ++next->version;
  std::shared_ptr<const KubeSnapshot> published = std::move(next);
  std::vector<std::function<void(const KubeSnapshot&)>> subscribers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = published;
    subscribers = subscribers_;
  }
  if (published->synced) synced_.notify_all();
  // Still under publish_mu_: the other watch thread waits, so the
  // subscribers see one version after the other.
  for (const auto& notify : subscribers) notify(*published);
}

void KubeMetadataService::replacePods(std::vector<KubePod>&& items) {
  publish([&](KubeSnapshot& s) {
    decltype(s.pods) next;
    bool changed = false;
    std::size_t bytes = 0;
    for (KubePod& pod : items) {
      std::string key = podKey(pod);
      auto old = s.pods.find(key);
      std::shared_ptr<const KubePod> kept;
      if (old != s.pods.end() && samePod(*old->second, pod)) {
        kept = old->second;  // unchanged: the readers' object stays shared
      } else {
        kept = std::make_shared<const KubePod>(std::move(pod));
        changed = true;
      }
      bytes += approximateBytes(*kept);
      if (auto [it, added] = next.try_emplace(std::move(key), kept); !added) {
        // The same pod twice in one list: the later one wins.
        bytes -= approximateBytes(*it->second);
        it->second = std::move(kept);
      }
    }
    // Every key of `next` is in the old map unless `changed`: equal sizes
    // then mean no pod went away.
    changed |= next.size() != s.pods.size();
    s.pods = std::move(next);
    pod_bytes_ = bytes;
    pods_listed_ = true;
    return changed;
  });
}

void KubeMetadataService::applyPod(WatchEventType type, KubePod&& pod) {
  publish([&](KubeSnapshot& s) {
    std::string key = podKey(pod);
    auto old = s.pods.find(key);
    if (type == WatchEventType::kDeleted) {
      if (old == s.pods.end()) return false;
      pod_bytes_ -= std::min(pod_bytes_, approximateBytes(*old->second));
      s.pods.erase(old);
      return true;
    }
    if (old != s.pods.end()) {
      if (samePod(*old->second, pod)) return false;
      pod_bytes_ -= std::min(pod_bytes_, approximateBytes(*old->second));
      pod_bytes_ += approximateBytes(pod);
      old->second = std::make_shared<const KubePod>(std::move(pod));
      return true;
    }
    pod_bytes_ += approximateBytes(pod);
    s.pods.emplace(std::move(key), std::make_shared<const KubePod>(std::move(pod)));
    return true;
  });
}

void KubeMetadataService::replaceNode(std::vector<KubeNode>&& items) {
  publish([&](KubeSnapshot& s) {
    node_listed_ = true;
    KubeNode* mine = nullptr;
    for (KubeNode& node : items) {
      if (node.name == node_name_) mine = &node;
    }
    if (mine == nullptr) {
      node_bytes_ = 0;
      const bool had = s.node != nullptr;
      s.node = nullptr;
      return had;
    }
    if (s.node && sameNode(*s.node, *mine)) return false;
    node_bytes_ = approximateBytes(*mine);
    s.node = std::make_shared<const KubeNode>(std::move(*mine));
    return true;
  });
}

void KubeMetadataService::applyNode(WatchEventType type, KubeNode&& node) {
  publish([&](KubeSnapshot& s) {
    if (node.name != node_name_) return false;
    if (type == WatchEventType::kDeleted) {
      node_bytes_ = 0;
      const bool had = s.node != nullptr;
      s.node = nullptr;
      return had;
    }
    if (s.node && sameNode(*s.node, node)) return false;
    node_bytes_ = approximateBytes(node);
    s.node = std::make_shared<const KubeNode>(std::move(node));
    return true;
  });
}

}  // namespace kubemetrics::kube
