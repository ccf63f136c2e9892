#include "pipeline/tagger.h"

namespace kubemetrics {

Tagger::Tagger(const std::vector<std::pair<std::string, std::string>>& tags,
               std::size_t max_cache_entries)
    : max_cache_entries_(max_cache_entries) {
  for (const auto& [name, value] : tags) {
    if (!name.empty() && !value.empty()) {
      tags_.push_back(Label{Symbol::intern(name), Symbol::intern(value)});
    }
  }
}

Labels Tagger::tagged(const Labels& labels) {
  auto it = cache_.find(labels);
  if (it != cache_.end()) return it->second;
  builder_.reset(labels);
  for (const Label& tag : tags_) builder_.setIfAbsent(tag.name, tag.value);
  Labels result = builder_.build();
  if (cache_.size() >= max_cache_entries_) cache_.clear();
  cache_.emplace(labels, result);
  return result;
}

void Tagger::apply(SampleBatch& batch) {
  if (tags_.empty()) return;
  for (Sample& sample : batch.samples) sample.labels = tagged(sample.labels);
}

}  // namespace kubemetrics
