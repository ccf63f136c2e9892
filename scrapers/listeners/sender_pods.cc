#include "sender_pods.h"

#include "kubemetrics/labels.h"

namespace kubemetrics::scrapers::listeners {

std::optional<SenderPod> SenderPods::find(std::string_view address) {
  if (kube_ == nullptr || address.empty()) return std::nullopt;
  const auto snapshot = kube_->snapshot();
  MutexLock lock(mu_);
  if (!indexed_ || version_ != snapshot->version) {
    by_address_.clear();
    for (const auto& [key, pod] : snapshot->pods) {
      if (pod->pod_ip.empty()) continue;
      auto [it, added] =
          by_address_.try_emplace(pod->pod_ip, SenderPod{pod->namespace_name, pod->name});
      if (!added) it->second.reset();  // shared address: no single sender
    }
    version_ = snapshot->version;
    indexed_ = true;
  }
  const auto it = by_address_.find(std::string(address));
  return it == by_address_.end() ? std::nullopt : it->second;
}

namespace {

constexpr std::string_view kNamespaceLabel = "namespace";
constexpr std::string_view kPodLabel = "pod";

}  // namespace

void tagWithSender(SampleBatch& batch, const SenderPod& sender) {
  const Symbol namespace_label = Symbol::intern(kNamespaceLabel);
  const Symbol pod_label = Symbol::intern(kPodLabel);
  const Symbol namespace_value = Symbol::intern(sender.namespace_name);
  const Symbol pod_value = Symbol::intern(sender.name);
  LabelsBuilder builder;
  Labels last_in;
  Labels last_out;
  for (Sample& sample : batch.samples) {
    if (sample.labels.contains(kNamespaceLabel) || sample.labels.contains(kPodLabel)) continue;
    // Lines of one series usually come together: reuse the last set.
    if (!(sample.labels == last_in) || last_out.empty()) {
      last_in = sample.labels;
      builder.reset(sample.labels);
      builder.set(namespace_label, namespace_value).set(pod_label, pod_value);
      last_out = builder.build();
    }
    sample.labels = last_out;
  }
}

bool namesASenderLabel(const AgentTags::Snapshot& tags) {
  for (const Label& tag : tags.tags) {
    if (tag.name.view() == kNamespaceLabel || tag.name.view() == kPodLabel) return true;
  }
  return false;
}

}  // namespace kubemetrics::scrapers::listeners
