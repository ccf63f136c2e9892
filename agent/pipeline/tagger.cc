#include "pipeline/tagger.h"

namespace kubemetrics {

namespace {

void appendTags(const std::vector<std::pair<std::string, std::string>>& tags,
                std::vector<Label>& out) {
  for (const auto& [name, value] : tags) {
    if (!name.empty() && !value.empty()) {
      out.push_back(Label{Symbol::intern(name), Symbol::intern(value)});
    }
  }
}

}  // namespace

Tagger::Tagger(const std::vector<std::pair<std::string, std::string>>& tags,
               const RuntimeTags* runtime, std::size_t max_cache_entries)
    : runtime_(runtime), max_cache_entries_(max_cache_entries) {
  appendTags(tags, static_tags_);
  tags_ = static_tags_;
}

void Tagger::refreshRuntimeTags() {
  if (runtime_ == nullptr) return;
  const std::uint64_t version = runtime_->version();
  if (version == runtime_version_) return;
  runtime_version_ = version;
  tags_ = static_tags_;
  appendTags(*runtime_->tags(), tags_);
  cache_.clear();
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
  refreshRuntimeTags();
  if (tags_.empty()) return;
  for (Sample& sample : batch.samples) sample.labels = tagged(sample.labels);
}

}  // namespace kubemetrics
