#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/agent_config.h"
#include "kubemetrics/kube_metadata.h"
#include "kubemetrics/labels.h"
#include "kubemetrics/result.h"
#include "kubemetrics/sample.h"

namespace re2 {
class RE2;
}

namespace kubemetrics {

/// Which label keys of a pod or node become `label.<key>` tags: a key is
/// taken when it fully matches an `allow` pattern and no `deny` pattern (deny
/// wins); an empty allow list takes no key. Immutable after create(); the
/// RE2 objects are thread-safe, so one filter may be shared.
class LabelKeyFilter {
 public:
  /// Fails (kInvalidArgument, naming `path` and the position) when a
  /// pattern does not compile.
  static Result<LabelKeyFilter> create(const LabelKeyLists& lists, std::string_view path);

  bool takes(std::string_view key) const;
  bool takesNone() const { return allow_.empty(); }

 private:
  std::vector<std::shared_ptr<const re2::RE2>> allow_;
  std::vector<std::shared_ptr<const re2::RE2>> deny_;
};

/// Adds Kubernetes metadata (KubeMetadata's latest KubeSnapshot) to the
/// samples of a batch, before the Tagger runs:
///  - a sample that names a pod, by `namespace_name`+`pod_name` (the kubelet
///    source) or else `namespace`+`pod` (Prometheus targets, kube-state-metrics
///    style), gets `label.<key>` for each of the pod's labels the filter
///    takes, `workload_kind`, `workload_name` and `phase`; a pod the snapshot
///    does not hold (not yet listed, or gone) leaves the sample unchanged
///    and is counted;
///  - every other sample is node-level: it gets `node_role` (when the node
///    has roles) and `label.<key>` for the node labels the filter takes,
///    unless it names another node (a `nodename` or `node` tag that is not
///    this node's name, as kube-state-metrics' node series do).
/// A label the sample already carries wins; empty values are never added.
/// A staleness marker of a pod that is gone gets the tags its series last
/// had, so that it ends the enriched series (a discovered pod's target is
/// retired after the pod left the snapshot).
///
/// Owned by one pipeline worker; not thread-safe. The snapshot is taken once
/// per batch. Input label set -> output label set is cached (a scrape
/// repeats its series every interval, so on a steady cluster a sample costs
/// one hash lookup); the cache is dropped when the snapshot version changes
/// and cleared when it reaches its bound. The tags of each pod and of the
/// node are computed once per snapshot version.
class Enricher {
 public:
  /// What apply() did, in samples.
  struct Stats {
    std::uint64_t enriched = 0;     // got at least one tag
    std::uint64_t unknown_pod = 0;  // named a pod the snapshot does not hold
  };

  /// Fails when a pattern of `config` does not compile (the error names
  /// `pipeline.enrich.<list>.<allow|deny>[i]`). `metadata` must outlive the
  /// enricher.
  static Result<std::unique_ptr<Enricher>> create(const EnrichConfig& config,
                                                  const KubeMetadata& metadata,
                                                  std::size_t max_cache_entries = 1 << 20);

  Stats apply(SampleBatch& batch);

  /// True for every name apply() may add (`phase`, `workload_kind`,
  /// `workload_name`, `node_role`, `label.*`), whatever the filters: the
  /// agent's tags of such a name must be added after it (AgentTags).
  static bool addsLabel(std::string_view name);

  std::size_t cacheSizeForTest() const { return cache_.size(); }

 private:
  enum class Outcome : std::uint8_t { kUnchanged, kEnriched, kUnknownPod };
  struct Entry {
    Labels labels;
    Outcome outcome = Outcome::kUnchanged;
  };
  using Tags = std::vector<std::pair<Symbol, Symbol>>;

  Enricher(LabelKeyFilter pods, LabelKeyFilter nodes, const KubeMetadata& metadata,
           std::size_t max_cache_entries);
  void refresh();
  Entry enrich(const Labels& labels);
  const Tags& podTags(const KubePod& pod);
  const Tags& nodeTags();
  Entry withTags(const Labels& labels, const Tags& tags);

  const LabelKeyFilter pod_filter_;
  const LabelKeyFilter node_filter_;
  const KubeMetadata& metadata_;
  const std::size_t max_cache_entries_;
  std::shared_ptr<const KubeSnapshot> snapshot_;
  std::unordered_map<Labels, Entry> cache_;
  // Input -> output of every enriched series, kept across versions (bounded
  // like cache_) for the staleness markers of pods that are gone.
  std::unordered_map<Labels, Labels> last_enriched_;
  // Keyed by the pod object, which the held snapshot keeps alive.
  std::unordered_map<const KubePod*, Tags> pod_tags_;
  std::unique_ptr<Tags> node_tags_;
  LabelsBuilder builder_;
};

}  // namespace kubemetrics
