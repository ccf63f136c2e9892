#include "agent/pipeline/tagger.h"

namespace kubemetrics {

Tagger::Tagger(const AgentTags& tags, std::size_t max_cache_entries)
    : tags_(tags), max_cache_entries_(max_cache_entries) {}

Labels Tagger::tagged(const Labels& labels) {
  auto it = cache_.find(labels);
  if (it != cache_.end()) return it->second;
  builder_.reset(labels);
  snapshot_->addTo(builder_);
  Labels result = builder_.build();
  if (cache_.size() >= max_cache_entries_) cache_.clear();
  cache_.emplace(labels, result);
  return result;
}

void Tagger::apply(SampleBatch& batch) {
  const std::uint64_t version = tags_.version();
  // A batch tagged with an older version keeps those values: its samples
  // were taken under them. The newer tags it lacks are still added below.
  if (batch.tags_version == version) return;
  if (snapshot_ == nullptr || snapshot_->version != version) {
    snapshot_ = tags_.current();
    cache_.clear();
  }
  if (snapshot_->tags.empty()) return;
  for (Sample& sample : batch.samples) sample.labels = tagged(sample.labels);
}

}  // namespace kubemetrics
