#include "agent/pipeline/tagger.h"

#include <vector>

namespace kubemetrics {

namespace {

// How many samples ahead apply() prefetches the memo's slots.
constexpr std::size_t kPrefetchAhead = 8;

}  // namespace

Tagger::Tagger(const AgentTags& tags, std::size_t max_cache_entries)
    : tags_(tags), cache_(max_cache_entries) {}

Labels Tagger::tagged(const Labels& labels) {
  if (const Labels* hit = cache_.find(labels)) return *hit;
  builder_.reset(labels);
  snapshot_->addTo(builder_);
  Labels result = builder_.build();
  cache_.insert(labels, result);
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
  std::vector<Sample>& samples = batch.samples;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    // With a proxy's many series each lookup is a miss: start the next ones.
    if (i + kPrefetchAhead < samples.size()) cache_.prefetch(samples[i + kPrefetchAhead].labels);
    samples[i].labels = tagged(samples[i].labels);
  }
}

}  // namespace kubemetrics
