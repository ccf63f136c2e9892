#include "common/scrape/aggregate_series.h"

#include <algorithm>
#include <utility>

namespace kubemetrics::scrape {

namespace {

enum Group : std::size_t { kNamespace, kCluster, kGroups };
constexpr std::string_view kGroupType[kGroups] = {"ns", "cluster"};

}  // namespace

AggregateSeriesEmitter::AggregateSeriesEmitter(std::vector<AggregateFamily> families,
                                               const AgentTags* tags)
    : families_(std::move(families)), tags_(tags) {
  names_.resize(kGroups);
  for (std::size_t g = 0; g < kGroups; ++g) {
    for (const AggregateFamily& family : families_) {
      names_[g].push_back(Symbol::intern("kubernetes." + std::string(kGroupType[g]) + "." +
                                         std::string(family.family)));
    }
  }
}

Labels AggregateSeriesEmitter::groupLabels(std::string_view type, std::string_view namespace_name) {
  builder_.clear();
  builder_.set("type", type);
  if (!namespace_name.empty()) builder_.set("namespace_name", namespace_name);
  if (snapshot_ != nullptr && !snapshot_->pipeline_only) snapshot_->addTo(builder_);
  return builder_.build();
}

void AggregateSeriesEmitter::emitGroup(std::size_t group, const Labels& labels,
                                       const std::vector<double>& values, std::int64_t ts_ms,
                                       SampleBatch& out, SeriesSet& emitted) {
  const std::size_t count = std::min(values.size(), families_.size());
  for (std::size_t f = 0; f < count; ++f) {
    out.samples.push_back(Sample{names_[group][f], labels, values[f], ts_ms});
    emitted.insert(Series{names_[group][f], labels});
  }
}

std::size_t AggregateSeriesEmitter::emit(const AggregateValues& values, std::int64_t ts_ms,
                                         SampleBatch& out) {
  const std::size_t before = out.samples.size();
  if (tags_ != nullptr) snapshot_ = tags_->current();
  SeriesSet emitted;
  for (const auto& [name, namespace_values] : values.namespaces) {
    emitGroup(kNamespace, groupLabels(kGroupType[kNamespace], name), namespace_values, ts_ms, out,
              emitted);
  }
  emitGroup(kCluster, groupLabels(kGroupType[kCluster], {}), values.cluster, ts_ms, out, emitted);
  for (const Series& s : last_) {
    if (!emitted.contains(s)) out.samples.push_back(Sample{s.name, s.labels, kStaleNaN, ts_ms});
  }
  last_ = std::move(emitted);
  for (std::size_t g = 0; g < kGroups; ++g) {
    if (g == kNamespace && values.namespaces.empty()) continue;
    for (std::size_t f = 0; f < families_.size(); ++f) {
      out.metadata.push_back(
          MetricMetadata{names_[g][f], MetricType::kGauge, std::string(families_[f].help), ""});
    }
  }
  return out.samples.size() - before;
}

std::size_t AggregateSeriesEmitter::retire(std::int64_t ts_ms, SampleBatch& out) {
  for (const Series& s : last_) out.samples.push_back(Sample{s.name, s.labels, kStaleNaN, ts_ms});
  const std::size_t markers = last_.size();
  last_.clear();
  return markers;
}

}  // namespace kubemetrics::scrape
