#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "agent/pipeline/tagged_labels_cache.h"
#include "kubemetrics/agent_tags.h"
#include "kubemetrics/labels.h"
#include "kubemetrics/sample.h"

namespace kubemetrics {

/// Adds the agent's tags (AgentTags: `cluster`, `node`, static tags, then
/// the run-time tags such as the EC2 identity) to every sample of a batch,
/// unless the source already added this version of them.
/// A label the sample already carries wins: a proxied point that names its
/// own cluster keeps it, as Prometheus' external labels behave.
///
/// Owned by one pipeline worker; not thread-safe. It caches input label set
/// -> tagged label set, because a scrape repeats the same series every
/// interval; the cache is bounded and cleared when full (or when the tags
/// change), and holding its entries keeps them from being swept, which the
/// bound makes harmless.
class Tagger {
 public:
  /// `tags` must outlive the tagger.
  explicit Tagger(const AgentTags& tags, std::size_t max_cache_entries = 1 << 20);

  void apply(SampleBatch& batch);
  std::size_t cacheSizeForTest() const { return cache_.size(); }

 private:
  Labels tagged(const Labels& labels);

  const AgentTags& tags_;
  std::shared_ptr<const AgentTags::Snapshot> snapshot_;
  TaggedLabelsCache cache_;
  LabelsBuilder builder_;
};

}  // namespace kubemetrics
