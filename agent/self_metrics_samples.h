#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <vector>

#include "kubemetrics/labels.h"
#include "kubemetrics/sample.h"

namespace kubemetrics {

/// Appends every series of `families` (a prometheus-cpp
/// Registry::Collect()) to `out` as samples named as on the /metrics page,
/// so a pushed self-metric is queried as a scraped one would be:
///   counter, gauge, untyped   <family>
///   histogram                 <family>_bucket{le} per bucket (+Inf
///                             included), <family>_sum, <family>_count
///   summary                   <family>{quantile} per quantile,
///                             <family>_sum, <family>_count
/// Each sample carries the series' own labels plus `extra` (a series'
/// label of the same name wins) and is stamped `timestamp_ms` (Unix epoch
/// milliseconds). `le` and `quantile` are written as the text exposition
/// writes them: shortest round-trip decimal, `+Inf`. Pure; any thread.
void appendSelfMetricSamples(const std::vector<prometheus::MetricFamily>& families,
                             const Labels& extra, std::int64_t timestamp_ms, SampleBatch& out);

}  // namespace kubemetrics
