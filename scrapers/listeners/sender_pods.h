#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "kubemetrics/agent_tags.h"
#include "kubemetrics/kube_metadata.h"
#include "kubemetrics/mutex.h"
#include "kubemetrics/sample.h"

namespace kubemetrics::scrapers::listeners {

/// A pod that pushed samples, found by its IP address.
struct SenderPod {
  std::string namespace_name;
  std::string name;
};

/// The pods of this node by IP address, so that what a pod pushes can be
/// tagged `namespace` and `pod` (and then enriched with its labels by the
/// pipeline, like a scraped pod's samples). An address several pods share
/// (hostNetwork pods have the node's) names no pod. The index is rebuilt
/// when the Kubernetes snapshot's version changes. Without metadata (no
/// Kubernetes API) find() finds nothing. Thread-safe: one mutex, taken once
/// per request or per read of a connection, not per sample.
class SenderPods {
 public:
  explicit SenderPods(const KubeMetadata* kube) : kube_(kube) {}

  std::optional<SenderPod> find(std::string_view address);

 private:
  const KubeMetadata* const kube_;
  Mutex mu_;
  std::uint64_t version_ KM_GUARDED_BY(mu_) = 0;
  bool indexed_ KM_GUARDED_BY(mu_) = false;
  std::unordered_map<std::string, std::optional<SenderPod>> by_address_ KM_GUARDED_BY(mu_);
};

/// Adds `namespace` and `pod` to every sample of `batch` that has neither.
void tagWithSender(SampleBatch& batch, const SenderPod& sender);

/// True when `tags` name a label tagWithSender() adds (`namespace` or
/// `pod`): only then does it matter whether they are added before or after
/// the sender's.
bool namesASenderLabel(const AgentTags::Snapshot& tags);

}  // namespace kubemetrics::scrapers::listeners
