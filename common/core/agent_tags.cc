#include "kubemetrics/agent_tags.h"

#include <algorithm>
#include <utility>

namespace kubemetrics {
namespace {

void appendTags(const AgentTags::Tags& tags, std::vector<Label>& out) {
  for (const auto& [name, value] : tags) {
    if (!name.empty() && !value.empty()) {
      out.push_back(Label{Symbol::intern(name), Symbol::intern(value)});
    }
  }
}

}  // namespace

AgentTags::AgentTags(const Tags& static_tags, const RuntimeTags* runtime,
                     NamePredicate added_before_tags)
    : runtime_(runtime), added_before_tags_(std::move(added_before_tags)) {
  appendTags(static_tags, static_tags_);
}

std::shared_ptr<const AgentTags::Snapshot> AgentTags::current() const {
  // Read the version before the tags: if they change in between, the
  // snapshot is stamped older than its content and the next call rebuilds.
  const std::uint64_t wanted = version();
  MutexLock lock(mu_);
  if (snapshot_ == nullptr || snapshot_->version != wanted) {
    auto fresh = std::make_shared<Snapshot>();
    fresh->version = wanted;
    fresh->tags = static_tags_;
    if (runtime_ != nullptr) appendTags(*runtime_->tags(), fresh->tags);
    fresh->pipeline_only =
        added_before_tags_ && std::ranges::any_of(fresh->tags, [&](const Label& t) {
          return added_before_tags_(t.name.view());
        });
    snapshot_ = std::move(fresh);
  }
  return snapshot_;
}

}  // namespace kubemetrics
