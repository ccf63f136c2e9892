#include "kubernetes_pods_source.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "pod_targets.h"

namespace kubemetrics::scrapers::kubernetes_pods {

KubernetesPodsSource::KubernetesPodsSource(KubernetesPodsConfig config, std::string node,
                                           KubeMetadata* kube, prometheus::Registry* registry,
                                           const AgentTags* tags)
    : config_(std::move(config)), node_(std::move(node)), kube_(kube), tags_(tags) {
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
  errors_ = &prometheus::BuildCounter()
                 .Name("kubemetrics_kubernetes_pods_scrape_errors_total")
                 .Help("Failed scrapes of targets discovered from pods (each is also up = 0).")
                 .Register(*registry)
                 .Add({});
}

KubernetesPodsSource::~KubernetesPodsSource() = default;

std::vector<std::string> KubernetesPodsSource::targetKeysForTest() const {
  std::vector<std::string> keys;
  for (const auto& [key, target] : targets_) keys.push_back(key);
  return keys;
}

void KubernetesPodsSource::reconcile(std::vector<TargetPtr>& gone) {
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
  std::map<std::string, TargetPtr> next;
  for (PodTarget& pod_target : found.targets) {
    if (auto it = targets_.find(pod_target.key); it != targets_.end()) {
      next.emplace(pod_target.key, std::move(it->second));
      targets_.erase(it);
      continue;
    }
    scrape::TargetConfig target = config_.target;
    target.name = std::string(kJobName);
    target.url = pod_target.url;
    target.labels = {{"namespace", pod_target.namespace_name}, {"pod", pod_target.pod}};
    if (!pod_target.container.empty()) target.labels.emplace("container", pod_target.container);
    std::string name = std::string(kSourceName) + "/" + pod_target.namespace_name + "/" +
                       pod_target.pod + "/" + target.instance();
    logDebug(kSourceName) << "new target " << name << " (" << target.url << ")";
    next.emplace(pod_target.key, std::make_unique<scrape::PrometheusTarget>(
                                     std::move(target), std::move(name), nullptr, tags_));
  }
  for (auto& [key, target] : targets_) {
    logDebug(kSourceName) << "target gone: " << target->config().url;
    gone.push_back(std::move(target));
  }
  targets_ = std::move(next);

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
  const std::size_t samples_before = out.samples.size();
  std::vector<TargetPtr> gone;
  reconcile(gone);
  if (targets_gauge_ != nullptr) targets_gauge_->Set(static_cast<double>(targets_.size()));

  std::size_t failed = 0;
  std::optional<Error> first_error;
  std::size_t left = targets_.size();
  for (auto& [key, target] : targets_) {
    // An equal share of what is left; what a fast target does not use
    // goes to those after it. The target caps it further at its timeout.
    const Deadline now = SteadyClock::now();
    const Deadline share =
        deadline > now ? now + (deadline - now) / static_cast<std::int64_t>(left) : now;
    --left;
    auto scraped = target->scrape(out, share);
    if (scraped) continue;
    ++failed;
    if (errors_ != nullptr) errors_->Increment();
    std::uint64_t suppressed = 0;
    const std::string kind = "target/" + std::to_string(static_cast<int>(scraped.error().code()));
    if (log_limiter_.allow(kind, &suppressed)) {
      logWarn(kSourceName) << target->name() << ": " << scraped.error().message()
                           << (suppressed > 0 ? " (" + std::to_string(suppressed) +
                                                    " similar errors suppressed)"
                                              : std::string());
    }
    if (!first_error) first_error = scraped.error();
  }
  // After the live targets, so the first of them finds the batch empty and
  // stamps it with the tags it added (see PrometheusTarget).
  for (TargetPtr& target : gone) target->retire(out);

  if (first_error && failed == targets_.size()) {
    return makeError(
        first_error->code(),
        "all " + std::to_string(failed) + " pod targets failed; first: " + first_error->message());
  }
  return ScrapeStats{out.samples.size() - samples_before};
}

}  // namespace kubemetrics::scrapers::kubernetes_pods
