#include "agent/self_metrics_forwarder.h"

#include <algorithm>
#include <exception>

#include "agent/self_metrics_samples.h"
#include "common/push/push_exporter.h"
#include "kubemetrics/clock.h"
#include "kubemetrics/log.h"

namespace kubemetrics {

std::vector<SelfMetricsRoute> selfMetricsRoutes(const std::vector<ExporterPtr>& exporters) {
  std::vector<SelfMetricsRoute> routes;
  for (const ExporterPtr& exporter : exporters) {
    // The option is one of the shared push settings, so every push
    // exporter has it and no other exporter does.
    const auto* pushing = dynamic_cast<const push::PushExporter*>(exporter.get());
    if (pushing == nullptr || !pushing->config().self_metrics) continue;
    routes.push_back({std::string(pushing->name()), pushing->config().self_metrics_interval});
  }
  return routes;
}

SelfMetricsForwarder::SelfMetricsForwarder(std::vector<SelfMetricsRoute> routes,
                                           prometheus::Registry& registry, Deliver deliver)
    : routes_(std::move(routes)), registry_(registry), deliver_(std::move(deliver)) {}

SelfMetricsForwarder::~SelfMetricsForwarder() { stop(); }

void SelfMetricsForwarder::start() {
  if (thread_.joinable() || routes_.empty()) return;
  thread_ = std::thread([this] { run(); });
}

void SelfMetricsForwarder::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SelfMetricsForwarder::collectFor(std::span<const std::string> exporters) {
  std::vector<prometheus::MetricFamily> families;
  try {
    families = registry_.Collect();
  } catch (const std::exception& e) {
    logWarn("self_metrics") << "cannot collect the self-metrics: " << e.what();
    return;
  }
  const Labels extra = LabelsBuilder().set("job", kSelfMetricsJob).build();
  auto batch = std::make_unique<SampleBatch>();
  batch->source = "self_metrics";
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  appendSelfMetricSamples(families, extra, now_ms, *batch);
  // Refused only while the pipeline stops (or the exporter is gone): the
  // next interval sends current values anyway, cumulative as they are.
  (void)deliver_(std::move(batch), exporters);
}

void SelfMetricsForwarder::run() {
  std::vector<SteadyClock::time_point> due;
  for (const SelfMetricsRoute& route : routes_) due.push_back(SteadyClock::now() + route.interval);
  std::vector<std::string> names;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const auto next = *std::min_element(due.begin(), due.end());
    if (wake_.wait_until(lock, next, [this] { return stopping_; })) return;
    const auto now = SteadyClock::now();
    names.clear();
    for (std::size_t i = 0; i < routes_.size(); ++i) {
      if (due[i] > now) continue;
      names.push_back(routes_[i].exporter);
      // From the last due time, not from now: no drift; after a long stall
      // (a suspended VM) one collection, then back on the grid.
      while (due[i] <= now) due[i] += routes_[i].interval;
    }
    lock.unlock();
    collectFor(names);
    lock.lock();
  }
}

}  // namespace kubemetrics
