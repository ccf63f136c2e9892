#pragma once

#include <prometheus/counter.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/scrape/config.h"
#include "common/scrape/prometheus_target.h"
#include "kubemetrics/agent_tags.h"
#include "kubemetrics/log.h"
#include "kubemetrics/source.h"

namespace kubemetrics::scrape {

/// One target a discovery found. Plain value type.
struct DiscoveredTarget {
  /// Identity: a target whose key changes (a new IP, port or path) is a new
  /// target, and the old one goes away.
  std::string key;
  TargetConfig config;  // name (the job), url and labels set by the discovery
  std::string name;     // for logs: "kubernetes_pods/<ns>/<pod>/<host:port>"
};

/// The targets of one discovery source (pods of a node, endpoints of
/// services), scraped as Prometheus targets (PrometheusTarget, one per
/// target) within one scrape of the source.
///
/// update() replaces the set: a new key starts a target, a kept key keeps
/// its target (and its series cache, so staleness works across scrapes), a
/// key that went away is retired at the next scrape(): its series, up and
/// scrape_* included, get staleness markers in that scrape's batch, after
/// the samples of the live targets.
///
/// scrape() scrapes the targets one after the other within the deadline;
/// each gets at most its `timeout` and an equal share of the time left for
/// the targets not scraped yet (time a fast target leaves over goes to the
/// ones after it), so one slow target cannot starve the rest. It fails only
/// when every target failed; a failed target is still reported by its
/// up = 0, counted in `errors` and logged (once a minute per kind of error).
///
/// Owned by the scheduler thread of its source; not thread-safe.
class TargetGroup {
 public:
  /// `log_name` prefixes log lines ("kubernetes_pods"); `what` names a
  /// target in the error of a scrape where all failed ("pod targets").
  /// `tags` and `errors` may be null and must outlive the group.
  TargetGroup(std::string log_name, std::string what, const AgentTags* tags,
              prometheus::Counter* errors);
  ~TargetGroup();

  void update(std::vector<DiscoveredTarget> targets);
  Result<ScrapeStats> scrape(SampleBatch& out, Deadline deadline);

  std::size_t size() const { return targets_.size(); }
  /// The current keys, sorted.
  std::vector<std::string> keys() const;

 private:
  using TargetPtr = std::unique_ptr<PrometheusTarget>;

  std::string log_name_;
  std::string what_;
  const AgentTags* tags_;
  prometheus::Counter* errors_;
  std::map<std::string, TargetPtr> targets_;  // by DiscoveredTarget::key
  std::vector<TargetPtr> gone_;               // retired at the next scrape()
  LogLimiter log_limiter_{std::chrono::minutes(1)};
};

}  // namespace kubemetrics::scrape
