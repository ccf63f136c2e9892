#include "ksm_source.h"

#include <chrono>

namespace kubemetrics::scrapers::kube_state_metrics {

namespace {

std::int64_t wallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

KsmSource::KsmSource(std::unique_ptr<scrape::PrometheusTarget> target, bool aggregates,
                     const AgentTags* tags)
    : target_(std::move(target)), aggregates_(aggregates), emitter_(tags) {}

Result<ScrapeStats> KsmSource::scrape(SampleBatch& out, Deadline deadline) {
  const std::size_t before = out.samples.size();
  Result<ScrapeStats> result = target_->scrape(out, deadline);
  if (!aggregates_) return result;
  if (!result) {
    emitter_.retire(wallClockMs(), out);
    return result;
  }
  PodInventory inventory;
  // Every sample of one scrape has the scrape's timestamp; the aggregates
  // take it too, so they line up with the series they sum.
  std::int64_t ts_ms = 0;
  for (std::size_t i = before; i < out.samples.size(); ++i) {
    if (inventory.add(out.samples[i]) && ts_ms == 0) ts_ms = out.samples[i].timestamp_ms;
  }
  if (ts_ms == 0) ts_ms = wallClockMs();
  emitter_.emit(computeAggregates(inventory), ts_ms, out);
  return ScrapeStats{out.samples.size() - before};
}

}  // namespace kubemetrics::scrapers::kube_state_metrics
