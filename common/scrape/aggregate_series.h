#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "kubemetrics/agent_tags.h"
#include "kubemetrics/labels.h"
#include "kubemetrics/sample.h"

namespace kubemetrics::scrape {

/// One family of the Wavefront collector's namespace and cluster
/// aggregates: the name after "kubernetes.<ns|cluster>." ("cpu.request")
/// and its HELP text. Both views must point to static storage.
struct AggregateFamily {
  std::string_view family;
  std::string_view help;
};

/// The values of one round of aggregates: per namespace and for the whole
/// cluster, one value per family, in the emitter's family order. Plain
/// value type.
struct AggregateValues {
  std::map<std::string, std::vector<double>> namespaces;  // by namespace name, sorted
  std::vector<double> cluster;
};

/// Turns AggregateValues into gauges named and tagged as the Wavefront
/// collector names its aggregates (docs/collector/metrics.md of
/// wavefrontHQ/observability-for-kubernetes):
///   kubernetes.ns.<family>       tags type="ns", namespace_name
///   kubernetes.cluster.<family>  tag  type="cluster"
/// Each series also carries the agent's tags (cluster, node, static and
/// run-time tags) when `tags` is given, because the sources that compute
/// aggregates tag their batches themselves; but not a snapshot marked
/// pipeline_only, which those sources leave to the pipeline too.
///
/// Staleness as Prometheus' scrape loop: a series emitted by the previous
/// emit() and absent from this one (a namespace that went away, or every
/// series when the tags changed) gets a staleness marker; retire() marks
/// every series of the last emit() (a failed round: a sum over part of the
/// cluster would be wrong).
///
/// Owned by one source's scheduler thread; not thread-safe.
class AggregateSeriesEmitter {
 public:
  /// `tags` may be null (tests): the samples then carry no agent tags.
  AggregateSeriesEmitter(std::vector<AggregateFamily> families, const AgentTags* tags);

  /// Appends the aggregates stamped `ts_ms` (Unix ms), the markers of the
  /// series that went away and the families' metadata to `out`; returns
  /// the samples appended. Every vector of `values` has one value per
  /// family (a shorter one emits only its first values).
  std::size_t emit(const AggregateValues& values, std::int64_t ts_ms, SampleBatch& out);

  /// Appends a staleness marker for every series of the last emit(),
  /// stamped `ts_ms`; returns how many.
  std::size_t retire(std::int64_t ts_ms, SampleBatch& out);

 private:
  struct Series {
    Symbol name;
    Labels labels;
    friend bool operator==(const Series&, const Series&) = default;
  };
  struct SeriesHash {
    std::size_t operator()(const Series& s) const {
      return std::hash<Symbol>()(s.name) * 31 + std::hash<Labels>()(s.labels);
    }
  };
  using SeriesSet = std::unordered_set<Series, SeriesHash>;

  void emitGroup(std::size_t group, const Labels& labels, const std::vector<double>& values,
                 std::int64_t ts_ms, SampleBatch& out, SeriesSet& emitted);
  Labels groupLabels(std::string_view type, std::string_view namespace_name);

  std::vector<AggregateFamily> families_;
  const AgentTags* tags_;
  std::shared_ptr<const AgentTags::Snapshot> snapshot_;
  std::vector<std::vector<Symbol>> names_;  // [group: ns, cluster][family]
  SeriesSet last_;                          // the series of the last emit()
  LabelsBuilder builder_;
};

}  // namespace kubemetrics::scrape
