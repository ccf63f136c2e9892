#include "kubernetes_pods_source.h"

#include <utility>

#include "pod_targets.h"

namespace kubemetrics::scrapers::kubernetes_pods {

KubernetesPodsSource::KubernetesPodsSource(KubernetesPodsConfig config, std::string node,
                                           KubeMetadata* kube, prometheus::Registry* registry,
                                           const AgentTags* tags)
    : config_(std::move(config)),
      node_(std::move(node)),
      kube_(kube),
      errors_(registry == nullptr
                  ? nullptr
                  : &prometheus::BuildCounter()
                         .Name("kubemetrics_kubernetes_pods_scrape_errors_total")
                         .Help("Failed scrapes of targets discovered from pods (each is also up "
                               "= 0).")
                         .Register(*registry)
                         .Add({})),
      targets_(std::string(kSourceName), "pod targets", tags, errors_) {
  if (config_.target.insecure_skip_verify) {
    logWarn(kSourceName) << "tls.insecure_skip_verify is on: the certificates of https pods are "
                            "not verified";
  }
  if (registry == nullptr) return;
  targets_gauge_ = &prometheus::BuildGauge()
                        .Name("kubemetrics_kubernetes_pods_targets")
                        .Help("Scrape targets discovered from annotated pods on this node.")
                        .Register(*registry)
                        .Add({});
  skipped_gauge_ = &prometheus::BuildGauge()
                        .Name("kubemetrics_kubernetes_pods_skipped_pods")
                        .Help(
                            "Pods on this node annotated prometheus.io/scrape=\"true\" that give "
                            "no target (no port, an invalid annotation).")
                        .Register(*registry)
                        .Add({});
}

KubernetesPodsSource::~KubernetesPodsSource() = default;

std::vector<std::string> KubernetesPodsSource::targetKeysForTest() const { return targets_.keys(); }

void KubernetesPodsSource::reconcile() {
  const std::shared_ptr<const KubeSnapshot> snapshot = kube_->snapshot();
  if (snapshot == nullptr) return;
  if (seen_any_ && snapshot->version == seen_version_) return;
  if (!snapshot->synced) {
    // Before the first LIST a pod that is absent may simply not be known.
    if (!waiting_logged_) {
      waiting_logged_ = true;
      logDebug(kSourceName) << "waiting for the first pod list from the Kubernetes API";
    }
    return;
  }
  seen_any_ = true;
  seen_version_ = snapshot->version;

  Discovery found = discoverTargets(*snapshot, node_, config_.namespaces);
  std::vector<scrape::DiscoveredTarget> targets;
  targets.reserve(found.targets.size());
  for (PodTarget& pod_target : found.targets) {
    scrape::DiscoveredTarget target{pod_target.key, config_.target, ""};
    target.config.name = std::string(kJobName);
    target.config.url = pod_target.url;
    target.config.labels = {{"namespace", pod_target.namespace_name}, {"pod", pod_target.pod}};
    if (!pod_target.container.empty()) {
      target.config.labels.emplace("container", pod_target.container);
    }
    target.name = std::string(kSourceName) + "/" + pod_target.namespace_name + "/" +
                  pod_target.pod + "/" + target.config.instance();
    targets.push_back(std::move(target));
  }
  targets_.update(std::move(targets));

  // Each misconfigured pod is logged once (again when its reason changes);
  // the map holds only pods of the current snapshot.
  std::map<std::string, std::string> skipped;
  for (SkippedPod& pod : found.skipped) {
    auto it = skipped_.find(pod.pod);
    if (it == skipped_.end() || it->second != pod.reason) {
      logInfo(kSourceName) << "pod " << pod.pod << " is annotated " << kScrapeAnnotation
                           << "=\"true\" but not scraped: " << pod.reason;
    }
    skipped.emplace(std::move(pod.pod), std::move(pod.reason));
  }
  skipped_ = std::move(skipped);
  if (skipped_gauge_ != nullptr) skipped_gauge_->Set(static_cast<double>(skipped_.size()));
}

Result<ScrapeStats> KubernetesPodsSource::scrape(SampleBatch& out, Deadline deadline) {
  reconcile();
  if (targets_gauge_ != nullptr) targets_gauge_->Set(static_cast<double>(targets_.size()));
  return targets_.scrape(out, deadline);
}

}  // namespace kubemetrics::scrapers::kubernetes_pods
