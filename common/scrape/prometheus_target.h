#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/scrape/config.h"
#include "common/scrape/target_parser.h"
#include "kubemetrics/agent_tags.h"
#include "kubemetrics/component.h"
#include "kubemetrics/config.h"
#include "kubemetrics/http_client.h"
#include "kubemetrics/source.h"

namespace kubemetrics::scrape {

/// The Accept header Prometheus 2.42 sends: OpenMetrics first, then the
/// text format, then anything.
inline constexpr std::string_view kAcceptHeader =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Scrapes one Prometheus/OpenMetrics target over HTTP(S), streaming the
/// body through a TargetParser into the batch. Every series gets `job` (the
/// target name) and `instance` (host:port) and the configured extra labels,
/// with Prometheus' honor_labels semantics: a scraped label that conflicts
/// is kept as `exported_<name>` unless honor_labels is set, in which case
/// the scraped value wins. Each scrape also appends the series Prometheus
/// writes for a target: up, scrape_duration_seconds, scrape_samples_scraped,
/// scrape_samples_post_metric_relabeling, scrape_series_added.
///
/// A failed scrape (timeout, refused, HTTP error status, malformed or
/// truncated body, a limit exceeded) drops the partial samples, still
/// appends the synthetic series with up = 0, counts
/// kubemetrics_prometheus_scrape_errors_total{target,reason} and returns
/// the error (which the scheduler logs, rate-limited, with the source name).
///
/// Staleness, as Prometheus' scrape loop: after a scrape, a staleness marker
/// (kStaleNaN) for each series of the previous scrape that this one lacks,
/// and after a failed scrape for every series of the previous one (see
/// SeriesCache), counted in kubemetrics_prometheus_stale_markers_total
/// {target}. The synthetic series are not marked after a failed scrape (it
/// writes up = 0); as in Prometheus, only when the target goes away. A
/// statically configured target goes away only at shutdown, when Prometheus
/// writes no markers either (a restarted agent continues the series), or
/// when the agent's tags change: then every series of the target, the
/// synthetic ones included, has a new label set, and the old sets are
/// marked.
///
/// Owned by the scheduler thread that calls scrape(); not thread-safe.
class PrometheusTarget : public Source {
 public:
  /// `source_name` is the instance name ("prometheus/node-exporter");
  /// `registry` may be null (no self-metrics). `tags`, when set, are added
  /// to each series when its label set is built, instead of by the
  /// pipeline, so the series cache holds the only set of each series.
  PrometheusTarget(TargetConfig config, std::string source_name, prometheus::Registry* registry,
                   const AgentTags* tags = nullptr);
  ~PrometheusTarget() override;

  // kubemetrics::Source
  std::string_view name() const override { return source_name_; }
  std::chrono::milliseconds interval() const override { return config_.interval; }
  std::chrono::milliseconds phase() const override { return phase_; }
  Result<ScrapeStats> scrape(SampleBatch& out, Deadline deadline) override;

  /// The target went away (its pod was deleted or no longer matches a
  /// discovery rule): appends to `out`, stamped now, a staleness marker for
  /// every series of its last successful scrape and, once it has been
  /// scraped, for its up and scrape_* series, as Prometheus does for a
  /// target that disappears. Returns the markers appended. The target is not
  /// scraped again (a second call appends nothing).
  std::size_t retire(SampleBatch& out);

  const TargetConfig& config() const { return config_; }
  /// The labels every series of this target gets (job, instance, extras).
  const Labels& targetLabels() const { return target_labels_; }

 private:
  Labels labelSeries(const Symbol& name, LabelsBuilder& scraped) const;
  void appendReport(SampleBatch& out, std::int64_t ts_ms, double seconds, bool up,
                    std::size_t scraped, std::size_t added) const;
  void countError(const std::string& reason);
  // Follows a change of the agent's tags; `ts_ms`: this scrape's time.
  void refreshTags(SampleBatch& out, std::int64_t ts_ms);
  // The tags this target adds to its series itself; null when the pipeline
  // adds them (no AgentTags, or a snapshot marked pipeline_only).
  const AgentTags::Snapshot* ownTags() const {
    return tags_snapshot_ != nullptr && !tags_snapshot_->pipeline_only ? tags_snapshot_.get()
                                                                       : nullptr;
  }

  TargetConfig config_;
  std::string source_name_;
  std::vector<Label> target_label_list_;  // sorted
  Labels target_labels_;
  const AgentTags* tags_;
  std::shared_ptr<const AgentTags::Snapshot> tags_snapshot_;  // the latest taken, or null
  Labels report_labels_;  // target_labels_ with ownTags(), for up and scrape_*
  std::unique_ptr<HttpClient> client_;
  TargetParser parser_;  // the grammar, and the series cache with staleness
  std::chrono::milliseconds phase_{0};
  bool reported_ = false;  // up and scrape_* went out under report_labels_, unmarked since
  prometheus::Family<prometheus::Counter>* errors_family_ = nullptr;
  prometheus::Gauge* cached_series_ = nullptr;
  prometheus::Counter* stale_markers_ = nullptr;
  // up, scrape_duration_seconds, scrape_samples_scraped,
  // scrape_samples_post_metric_relabeling, scrape_series_added: the report.
  std::array<Symbol, 5> report_names_;
};

}  // namespace kubemetrics::scrape
