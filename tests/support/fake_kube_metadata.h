#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kubemetrics/kube_metadata.h"

namespace kubemetrics::testing {

/// An in-memory KubeMetadata for component tests: the test sets pods and
/// the node, each change publishes a new snapshot (version + 1) and calls
/// the subscribers on the test's thread, as the real watch thread would.
/// Thread-safe like the real one.
class FakeKubeMetadata : public KubeMetadata {
 public:
  FakeKubeMetadata() : current_(std::make_shared<KubeSnapshot>()) {}

  std::shared_ptr<const KubeSnapshot> snapshot() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }
  void subscribe(std::function<void(const KubeSnapshot&)> on_change) override {
    std::lock_guard<std::mutex> lock(mu_);
    subscribers_.push_back(std::move(on_change));
  }

  /// Adds or replaces the pod (by namespace/name).
  void setPod(KubePod pod) {
    change([&](KubeSnapshot& s) {
      const std::string key = pod.namespace_name + "/" + pod.name;
      s.pods[key] = std::make_shared<const KubePod>(std::move(pod));
    });
  }
  void deletePod(const std::string& namespace_name, const std::string& name) {
    change([&](KubeSnapshot& s) { s.pods.erase(namespace_name + "/" + name); });
  }
  void setNode(KubeNode node) {
    change([&](KubeSnapshot& s) { s.node = std::make_shared<const KubeNode>(std::move(node)); });
  }
  void setSynced(bool synced) {
    change([&](KubeSnapshot& s) { s.synced = synced; });
  }

 private:
  template <typename Edit>
  void change(Edit edit) {
    std::shared_ptr<const KubeSnapshot> published;
    std::vector<std::function<void(const KubeSnapshot&)>> subscribers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto next = std::make_shared<KubeSnapshot>(*current_);
      edit(*next);
      ++next->version;
      current_ = next;
      published = current_;
      subscribers = subscribers_;
    }
    for (const auto& notify : subscribers) notify(*published);
  }

  mutable std::mutex mu_;
  std::shared_ptr<const KubeSnapshot> current_;
  std::vector<std::function<void(const KubeSnapshot&)>> subscribers_;
};

/// A KubeMetadataProvider for component tests: unavailable until the test
/// points it at a KubeMetadata (a FakeKubeMetadata, or the real client
/// against a fake API server).
class TestKubeProvider : public KubeMetadataProvider {
 public:
  KubeMetadata* metadata = nullptr;
  std::vector<std::string> acquired_by;

  Result<KubeMetadata*> acquire(std::string_view who) override {
    if (metadata == nullptr) {
      return makeError(ErrorCode::kUnavailable, "no Kubernetes API in this test");
    }
    acquired_by.emplace_back(who);
    return metadata;
  }
  bool available() const override { return metadata != nullptr; }

  /// acquireServices() hands out `services` (unavailable while null).
  KubeServiceCatalog* services = nullptr;
  Result<KubeServiceCatalog*> acquireServices(std::string_view who) override {
    if (services == nullptr) {
      return makeError(ErrorCode::kUnavailable, "no Kubernetes API in this test");
    }
    acquired_by.emplace_back(who);
    return services;
  }
  /// apiAccess() returns `access` when its server is set.
  KubeApiAccess access;
  Result<KubeApiAccess> apiAccess() const override {
    if (access.server.empty()) {
      return makeError(ErrorCode::kUnavailable, "no Kubernetes API in this test");
    }
    return access;
  }
};

/// An in-memory KubeServiceCatalog for component tests: the test sets
/// services and slices; each change publishes a new snapshot (version + 1).
/// Thread-safe like the real one.
class FakeServiceCatalog : public KubeServiceCatalog {
 public:
  FakeServiceCatalog() : current_(std::make_shared<KubeServiceSnapshot>()) {}

  std::shared_ptr<const KubeServiceSnapshot> snapshot() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }
  void setService(KubeService service) {
    change([&](KubeServiceSnapshot& s) {
      const std::string key = service.namespace_name + "/" + service.name;
      s.services[key] = std::make_shared<const KubeService>(std::move(service));
    });
  }
  void setSlice(KubeEndpointSlice slice) {
    change([&](KubeServiceSnapshot& s) {
      const std::string key = slice.namespace_name + "/" + slice.name;
      s.slices[key] = std::make_shared<const KubeEndpointSlice>(std::move(slice));
    });
  }
  void deleteSlice(const std::string& namespace_name, const std::string& name) {
    change([&](KubeServiceSnapshot& s) { s.slices.erase(namespace_name + "/" + name); });
  }
  void setSynced(bool synced) {
    change([&](KubeServiceSnapshot& s) { s.synced = synced; });
  }

 private:
  template <typename Edit>
  void change(Edit edit) {
    std::lock_guard<std::mutex> lock(mu_);
    auto next = std::make_shared<KubeServiceSnapshot>(*current_);
    edit(*next);
    ++next->version;
    current_ = next;
  }

  mutable std::mutex mu_;
  std::shared_ptr<const KubeServiceSnapshot> current_;
};

}  // namespace kubemetrics::testing
