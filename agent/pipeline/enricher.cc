#include "agent/pipeline/enricher.h"

#include <re2/re2.h>

#include <algorithm>
#include <string>

namespace kubemetrics {
namespace {

Result<std::vector<std::shared_ptr<const re2::RE2>>> compileAll(
    const std::vector<std::string>& patterns, const std::string& path) {
  std::vector<std::shared_ptr<const re2::RE2>> out;
  RE2::Options options;
  options.set_log_errors(false);
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    auto re = std::make_shared<const re2::RE2>(patterns[i], options);
    if (!re->ok()) {
      return makeError(ErrorCode::kInvalidArgument,
                       path + "[" + std::to_string(i) + "]: invalid regex: " + re->error());
    }
    out.push_back(std::move(re));
  }
  return out;
}

constexpr std::string_view kLabelTagPrefix = "label.";
constexpr std::string_view kWorkloadKind = "workload_kind";
constexpr std::string_view kWorkloadName = "workload_name";
constexpr std::string_view kPhase = "phase";
constexpr std::string_view kNodeRole = "node_role";

// The tag a pod or node label becomes.
Symbol labelTag(std::string_view key) {
  std::string name;
  name.reserve(kLabelTagPrefix.size() + key.size());
  name.append(kLabelTagPrefix).append(key);
  return Symbol::intern(name);
}

}  // namespace

Result<LabelKeyFilter> LabelKeyFilter::create(const LabelKeyLists& lists, std::string_view path) {
  LabelKeyFilter filter;
  auto allow = compileAll(lists.allow, std::string(path) + ".allow");
  if (!allow) return tl::unexpected(allow.error());
  auto deny = compileAll(lists.deny, std::string(path) + ".deny");
  if (!deny) return tl::unexpected(deny.error());
  filter.allow_ = std::move(*allow);
  filter.deny_ = std::move(*deny);
  return filter;
}

bool LabelKeyFilter::takes(std::string_view key) const {
  const auto matches = [&](const std::shared_ptr<const re2::RE2>& re) {
    return RE2::FullMatch(key, *re);
  };
  return std::any_of(allow_.begin(), allow_.end(), matches) &&
         std::none_of(deny_.begin(), deny_.end(), matches);
}

Result<std::unique_ptr<Enricher>> Enricher::create(const EnrichConfig& config,
                                                   const KubeMetadata& metadata,
                                                   std::size_t max_cache_entries) {
  auto pods = LabelKeyFilter::create(config.pod_labels, "pipeline.enrich.pod_labels");
  if (!pods) return tl::unexpected(pods.error());
  auto nodes = LabelKeyFilter::create(config.node_labels, "pipeline.enrich.node_labels");
  if (!nodes) return tl::unexpected(nodes.error());
  return std::unique_ptr<Enricher>(
      new Enricher(std::move(*pods), std::move(*nodes), metadata, max_cache_entries));
}

Enricher::Enricher(LabelKeyFilter pods, LabelKeyFilter nodes, const KubeMetadata& metadata,
                   std::size_t max_cache_entries)
    : pod_filter_(std::move(pods)),
      node_filter_(std::move(nodes)),
      metadata_(metadata),
      max_cache_entries_(max_cache_entries) {}

void Enricher::refresh() {
  std::shared_ptr<const KubeSnapshot> latest = metadata_.snapshot();
  if (snapshot_ != nullptr && latest != nullptr && latest->version == snapshot_->version) return;
  // A new version may have relabelled, added or removed any pod: every
  // cached answer may be wrong now.
  snapshot_ = latest != nullptr ? std::move(latest) : std::make_shared<const KubeSnapshot>();
  cache_.clear();
  pod_tags_.clear();
  node_tags_.reset();
}

Enricher::Stats Enricher::apply(SampleBatch& batch) {
  Stats stats;
  if (batch.samples.empty()) return stats;
  refresh();
  for (Sample& sample : batch.samples) {
    auto it = cache_.find(sample.labels);
    if (it == cache_.end()) {
      Entry entry = enrich(sample.labels);
      if (entry.outcome == Outcome::kEnriched) {
        if (last_enriched_.size() >= max_cache_entries_) last_enriched_.clear();
        last_enriched_.insert_or_assign(sample.labels, entry.labels);
      }
      if (cache_.size() >= max_cache_entries_) cache_.clear();
      it = cache_.emplace(sample.labels, std::move(entry)).first;
    }
    switch (it->second.outcome) {
      case Outcome::kEnriched:
        sample.labels = it->second.labels;
        ++stats.enriched;
        break;
      case Outcome::kUnknownPod:
        if (isStaleMarker(sample.value)) {
          if (auto last = last_enriched_.find(sample.labels); last != last_enriched_.end()) {
            sample.labels = last->second;
            ++stats.enriched;
            break;
          }
        }
        ++stats.unknown_pod;
        break;
      case Outcome::kUnchanged:
        break;
    }
  }
  return stats;
}

Enricher::Entry Enricher::enrich(const Labels& labels) {
  std::string_view namespace_name = labels.get("namespace_name");
  std::string_view pod_name = labels.get("pod_name");
  if (namespace_name.empty() || pod_name.empty()) {
    namespace_name = labels.get("namespace");
    pod_name = labels.get("pod");
  }
  if (!namespace_name.empty() && !pod_name.empty()) {
    const KubePod* pod = snapshot_->pod(namespace_name, pod_name);
    if (pod == nullptr) return Entry{labels, Outcome::kUnknownPod};
    return withTags(labels, podTags(*pod));
  }
  const KubeNode* node = snapshot_->node.get();
  if (node == nullptr) return Entry{labels, Outcome::kUnchanged};
  // kube-state-metrics' kube_node_* series name the node they describe,
  // which in the cluster role is rarely the agent's own.
  for (const std::string_view key : {"nodename", "node"}) {
    const std::string_view named = labels.get(key);
    if (!named.empty() && named != node->name) return Entry{labels, Outcome::kUnchanged};
  }
  return withTags(labels, nodeTags());
}

bool Enricher::addsLabel(std::string_view name) {
  return name.starts_with(kLabelTagPrefix) || name == kWorkloadKind || name == kWorkloadName ||
         name == kPhase || name == kNodeRole;
}

const Enricher::Tags& Enricher::podTags(const KubePod& pod) {
  auto it = pod_tags_.find(&pod);
  if (it != pod_tags_.end()) return it->second;
  Tags tags;
  if (!pod_filter_.takesNone()) {
    for (const auto& [key, value] : pod.labels) {
      if (!value.empty() && pod_filter_.takes(key)) {
        tags.emplace_back(labelTag(key), Symbol::intern(value));
      }
    }
  }
  const std::pair<std::string_view, std::string_view> fields[] = {
      {kWorkloadKind, pod.workload_kind},
      {kWorkloadName, pod.workload_name},
      {kPhase, pod.phase},
  };
  for (const auto& [name, value] : fields) {
    if (!value.empty()) tags.emplace_back(Symbol::intern(name), Symbol::intern(value));
  }
  // Bounded by the pods of one snapshot: the node role watches one node's.
  return pod_tags_.emplace(&pod, std::move(tags)).first->second;
}

const Enricher::Tags& Enricher::nodeTags() {
  if (node_tags_ != nullptr) return *node_tags_;
  node_tags_ = std::make_unique<Tags>();
  const KubeNode& node = *snapshot_->node;
  if (!node.role.empty()) {
    node_tags_->emplace_back(Symbol::intern(kNodeRole), Symbol::intern(node.role));
  }
  if (!node_filter_.takesNone()) {
    for (const auto& [key, value] : node.labels) {
      if (!value.empty() && node_filter_.takes(key)) {
        node_tags_->emplace_back(labelTag(key), Symbol::intern(value));
      }
    }
  }
  return *node_tags_;
}

Enricher::Entry Enricher::withTags(const Labels& labels, const Tags& tags) {
  if (tags.empty()) return Entry{labels, Outcome::kUnchanged};
  builder_.reset(labels);
  for (const auto& [name, value] : tags) builder_.setIfAbsent(name, value);
  Labels out = builder_.build();
  // Every tag may already have been there: then nothing was added.
  if (out == labels) return Entry{labels, Outcome::kUnchanged};
  return Entry{std::move(out), Outcome::kEnriched};
}

}  // namespace kubemetrics
