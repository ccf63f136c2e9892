#include "agent/scheduler.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <algorithm>
#include <map>

#include "kubemetrics/log.h"

namespace kubemetrics {
namespace {

constexpr auto kTagDiscoveryWait = std::chrono::seconds(3);

}  // namespace

struct Scheduler::Slot {
  Slot(SourcePtr s, prometheus::Registry& registry)
      : source(std::move(s)),
        labels({{"source", std::string(source->name())}}),
        scrapes(prometheus::BuildCounter()
                    .Name("kubemetrics_scrapes_total")
                    .Help("Scrapes attempted, per source.")
                    .Register(registry)
                    .Add(labels)),
        errors(prometheus::BuildCounter()
                   .Name("kubemetrics_scrape_errors_total")
                   .Help("Scrapes that failed, per source.")
                   .Register(registry)
                   .Add(labels)),
        duration(prometheus::BuildGauge()
                     .Name("kubemetrics_scrape_duration_seconds")
                     .Help("Duration of the last scrape, per source.")
                     .Register(registry)
                     .Add(labels)),
        samples(prometheus::BuildGauge()
                    .Name("kubemetrics_scrape_samples")
                    .Help("Samples the last scrape produced, per source.")
                    .Register(registry)
                    .Add(labels)),
        up(prometheus::BuildGauge()
               .Name("kubemetrics_source_up")
               .Help("1 when the last scrape of the source succeeded, else 0.")
               .Register(registry)
               .Add(labels)) {}

  SourcePtr source;
  std::map<std::string, std::string> labels;
  prometheus::Counter& scrapes;
  prometheus::Counter& errors;
  prometheus::Gauge& duration;
  prometheus::Gauge& samples;
  prometheus::Gauge& up;
  LogLimiter log_limiter{std::chrono::minutes(1)};
  bool first_scrape_done = false;  // the source's own thread only
  bool exited = false;             // its thread is done; under Scheduler::mu_
  mutable Mutex status_mu;
  SourceStatus status KM_GUARDED_BY(status_mu);
};

Scheduler::Scheduler(std::vector<SourcePtr> sources, Sink sink, prometheus::Registry& metrics,
                     const Clock& clock)
    : sink_(std::move(sink)), clock_(clock) {
  for (SourcePtr& source : sources) {
    auto slot = std::make_unique<Slot>(std::move(source), metrics);
    {
      MutexLock lock(slot->status_mu);
      slot->status.name = std::string(slot->source->name());
    }
    slots_.push_back(std::move(slot));
  }
}

Scheduler::~Scheduler() {
  requestStop();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Scheduler::start() {
  for (const auto& slot : slots_) pending_tag_sources_ += slot->source->discoversTags() ? 1 : 0;
  for (auto& slot : slots_) {
    threads_.emplace_back([this, s = slot.get()] {
      run(*s);
      {
        std::lock_guard<std::mutex> lock(mu_);
        s->exited = true;
      }
      wake_.notify_all();
    });
  }
}

void Scheduler::requestStop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
}

bool Scheduler::stop(Deadline deadline) {
  requestStop();
  std::vector<bool> exited(threads_.size());
  {
    std::unique_lock<std::mutex> lock(mu_);
    const auto allExited = [this] {
      return std::all_of(slots_.begin(),
                         slots_.begin() + static_cast<std::ptrdiff_t>(threads_.size()),
                         [](const auto& slot) { return slot->exited; });
    };
    clock_.waitUntil(lock, wake_, deadline, allExited);
    for (std::size_t i = 0; i < threads_.size(); ++i) exited[i] = slots_[i]->exited;
  }
  std::string still_scraping;
  for (std::size_t i = 0; i < threads_.size(); ++i) {
    if (!exited[i]) {
      still_scraping +=
          (still_scraping.empty() ? "" : ", ") + std::string(slots_[i]->source->name());
    } else if (threads_[i].joinable()) {
      threads_[i].join();
    }
  }
  if (still_scraping.empty()) return true;
  logWarn("scheduler") << "stop deadline passed with sources still in a scrape (" << still_scraping
                       << "); left running so the pipeline can drain";
  return false;
}

std::vector<Scheduler::SourceStatus> Scheduler::status() const {
  std::vector<SourceStatus> out;
  for (const auto& slot : slots_) {
    MutexLock lock(slot->status_mu);
    out.push_back(slot->status);
  }
  return out;
}

void Scheduler::run(Slot& slot) {
  Source& source = *slot.source;
  const auto interval = source.interval();
  if (!source.discoversTags()) {
    // Bounded: a tag source that hangs delays the others by this at most.
    std::unique_lock<std::mutex> lock(mu_);
    clock_.waitUntil(lock, wake_, clock_.now() + kTagDiscoveryWait,
                     [this] { return stopping_.load() || pending_tag_sources_.load() == 0; });
  }
  // The fixed-rate schedule below keeps the phase for every later scrape.
  auto next = clock_.now() + std::min(source.phase(), interval);
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (clock_.waitUntil(lock, wake_, next, [this] { return stopping_.load(); })) return;
    }
    const auto began = clock_.now();
    // A scrape may use up to its interval: a later tick would overlap it.
    auto batch = std::make_unique<SampleBatch>();
    batch->source = std::string(source.name());
    Result<ScrapeStats> result = source.scrape(*batch, began + interval);
    const double seconds = std::chrono::duration<double>(clock_.now() - began).count();
    slot.scrapes.Increment();
    slot.duration.Set(seconds);
    slot.samples.Set(static_cast<double>(batch->samples.size()));
    slot.up.Set(result ? 1 : 0);
    {
      MutexLock lock(slot.status_mu);
      slot.status.scraped = true;
      slot.status.up = result.has_value();
      slot.status.last_error = result ? std::string() : result.error().message();
    }
    if (!result) {
      slot.errors.Increment();
      std::uint64_t suppressed = 0;
      // Limited per kind of error, so a new kind (a 500 after timeouts)
      // is logged at once rather than hidden for a minute.
      const std::string kind = "scrape/" + std::to_string(static_cast<int>(result.error().code()));
      if (slot.log_limiter.allow(kind, &suppressed)) {
        logWarn(source.name()) << "scrape failed: " << result.error().message()
                               << (suppressed ? " (" + std::to_string(suppressed) +
                                                    " similar errors suppressed)"
                                              : std::string());
      }
    }
    if (!batch->samples.empty()) sink_(std::move(batch));
    if (source.discoversTags() && !slot.first_scrape_done) {
      slot.first_scrape_done = true;
      {
        std::lock_guard<std::mutex> lock(mu_);
        --pending_tag_sources_;
      }
      wake_.notify_all();
    }
    // Fixed-rate schedule; after an overrun, skip the missed ticks.
    next += interval;
    const auto now = clock_.now();
    if (next <= now) next = now + interval - (now - next) % interval;
  }
}

}  // namespace kubemetrics
