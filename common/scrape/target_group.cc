#include "common/scrape/target_group.h"

#include <optional>
#include <utility>

namespace kubemetrics::scrape {

TargetGroup::TargetGroup(std::string log_name, std::string what, const AgentTags* tags,
                         prometheus::Counter* errors)
    : log_name_(std::move(log_name)), what_(std::move(what)), tags_(tags), errors_(errors) {}

TargetGroup::~TargetGroup() = default;

std::vector<std::string> TargetGroup::keys() const {
  std::vector<std::string> keys;
  keys.reserve(targets_.size());
  for (const auto& entry : targets_) keys.push_back(entry.first);
  return keys;
}

void TargetGroup::update(std::vector<DiscoveredTarget> targets) {
  std::map<std::string, TargetPtr> next;
  for (DiscoveredTarget& found : targets) {
    if (next.count(found.key) > 0) continue;
    if (auto it = targets_.find(found.key); it != targets_.end()) {
      next.emplace(found.key, std::move(it->second));
      targets_.erase(it);
      continue;
    }
    logDebug(log_name_) << "new target " << found.name << " (" << found.config.url << ")";
    next.emplace(found.key, std::make_unique<PrometheusTarget>(
                                std::move(found.config), std::move(found.name), nullptr, tags_));
  }
  for (auto& entry : targets_) {
    logDebug(log_name_) << "target gone: " << entry.second->config().url;
    gone_.push_back(std::move(entry.second));
  }
  targets_ = std::move(next);
}

Result<ScrapeStats> TargetGroup::scrape(SampleBatch& out, Deadline deadline) {
  const std::size_t samples_before = out.samples.size();
  std::size_t failed = 0;
  std::optional<Error> first_error;
  std::size_t left = targets_.size();
  for (auto& entry : targets_) {
    PrometheusTarget& target = *entry.second;
    // An equal share of what is left; what a fast target does not use
    // goes to those after it. The target caps it further at its timeout.
    const Deadline now = SteadyClock::now();
    const Deadline share =
        deadline > now ? now + (deadline - now) / static_cast<std::int64_t>(left) : now;
    --left;
    auto scraped = target.scrape(out, share);
    if (scraped) continue;
    ++failed;
    if (errors_ != nullptr) errors_->Increment();
    std::uint64_t suppressed = 0;
    const std::string kind = "target/" + std::to_string(static_cast<int>(scraped.error().code()));
    if (log_limiter_.allow(kind, &suppressed)) {
      logWarn(log_name_) << target.name() << ": " << scraped.error().message()
                         << (suppressed > 0
                                 ? " (" + std::to_string(suppressed) + " similar errors suppressed)"
                                 : std::string());
    }
    if (!first_error) first_error = scraped.error();
  }
  // After the live targets, so the first of them finds the batch empty and
  // stamps it with the tags it added (see PrometheusTarget).
  for (TargetPtr& target : gone_) target->retire(out);
  gone_.clear();

  if (first_error && failed == targets_.size()) {
    return makeError(first_error->code(), "all " + std::to_string(failed) + " " + what_ +
                                              " failed; first: " + first_error->message());
  }
  return ScrapeStats{out.samples.size() - samples_before};
}

}  // namespace kubemetrics::scrape
