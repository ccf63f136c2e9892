#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kubemetrics/labels.h"
#include "kubemetrics/mutex.h"
#include "kubemetrics/runtime_tags.h"

namespace kubemetrics {

/// The tags the pipeline adds to every sample: `cluster`, `node` and the
/// static tags of the config, then the run-time tags (RuntimeTags, e.g. the
/// EC2 identity). A label a sample already carries wins, and among the tags
/// the first of a name wins.
///
/// The pipeline's Tagger applies them. A source that keeps one label set per
/// series between scrapes (a Prometheus target) may add them itself when it
/// builds the set, so the series holds one interned set instead of two (as
/// scraped, then tagged); it stamps the batch with the snapshot's version
/// (SampleBatch::tags_version) and the pipeline leaves that batch alone. Such
/// a source must rebuild its sets when version() changes, and must leave a
/// snapshot marked `pipeline_only` to the pipeline: one of its tags names a
/// label that a stage before the Tagger (the Enricher: a pod's `phase`, say)
/// adds with precedence over the tag, which only the pipeline's order keeps.
///
/// Thread-safe: version() is one atomic load; current() takes a mutex and
/// rebuilds the snapshot only when the run-time tags changed. Snapshots are
/// immutable. `runtime`, when set, must outlive this object.
class AgentTags {
 public:
  using Tags = std::vector<std::pair<std::string, std::string>>;

  /// One version of the tags, interned, in precedence order.
  struct Snapshot {
    std::uint64_t version = 0;  // never 0 for a snapshot from current()
    std::vector<Label> tags;
    bool pipeline_only = false;  // a tag names a label the pipeline adds first

    /// Adds every tag the builder's set lacks.
    void addTo(LabelsBuilder& builder) const {
      for (const Label& tag : tags) builder.setIfAbsent(tag.name, tag.value);
    }
  };

  /// Names of the labels a pipeline stage adds before the tags, its value
  /// winning over a tag's (Enricher::addsLabel); none when empty.
  using NamePredicate = std::function<bool(std::string_view)>;

  explicit AgentTags(const Tags& static_tags, const RuntimeTags* runtime = nullptr,
                     NamePredicate added_before_tags = {});

  /// Changes whenever the tags do; never 0, so a batch's default
  /// tags_version (0) never matches it.
  std::uint64_t version() const { return runtime_ != nullptr ? runtime_->version() + 1 : 1; }

  std::shared_ptr<const Snapshot> current() const;

 private:
  std::vector<Label> static_tags_;
  const RuntimeTags* runtime_;
  NamePredicate added_before_tags_;
  mutable Mutex mu_;
  mutable std::shared_ptr<const Snapshot> snapshot_ KM_GUARDED_BY(mu_);
};

}  // namespace kubemetrics
