#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kubemetrics/labels.h"
#include "kubemetrics/runtime_tags.h"
#include "kubemetrics/sample.h"

namespace kubemetrics {

/// Adds the agent's tags (`cluster`, `node`, static tags, then the run-time
/// tags such as the EC2 identity) to every sample.
/// A label the sample already carries wins: a proxied point that names its
/// own cluster keeps it, as Prometheus' external labels behave.
///
/// Owned by one pipeline worker; not thread-safe. It caches input label set
/// -> tagged label set, because a scrape repeats the same series every
/// interval; the cache is bounded and cleared when full, and holding its
/// entries keeps them from being swept, which the bound makes harmless.
class Tagger {
 public:
  /// `runtime` may be null; when set, its tags are re-read whenever its
  /// version changes (and the cache is cleared).
  explicit Tagger(const std::vector<std::pair<std::string, std::string>>& tags,
                  const RuntimeTags* runtime = nullptr, std::size_t max_cache_entries = 1 << 20);

  void apply(SampleBatch& batch);
  std::size_t cacheSizeForTest() const { return cache_.size(); }

 private:
  Labels tagged(const Labels& labels);
  void refreshRuntimeTags();

  std::vector<Label> static_tags_;
  std::vector<Label> tags_;  // static, then run-time
  const RuntimeTags* runtime_;
  std::uint64_t runtime_version_ = 0;
  std::size_t max_cache_entries_;
  std::unordered_map<Labels, Labels> cache_;
  LabelsBuilder builder_;
};

}  // namespace kubemetrics
