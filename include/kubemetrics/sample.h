#pragma once

#include <bit>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kubemetrics/labels.h"
#include "kubemetrics/symbol.h"

namespace kubemetrics {

/// One point of one series. The series is (name, labels); names are kept as
/// the source spells them (`kubernetes.node.cpu.usage` or
/// `node_cpu_seconds_total`) and each exporter maps them to its format.
/// A value type: 32 bytes, no heap of its own (name and labels are interned).
struct Sample {
  Symbol name;
  Labels labels;
  double value = 0;
  std::int64_t timestamp_ms = 0;  // Unix epoch, milliseconds
};

/// The bits of Prometheus' staleness marker (model/value.StaleNaN): a NaN
/// that no arithmetic produces, written as the value of a series that
/// vanished (its target stopped exposing it, or stopped answering), so that
/// a backend ends the series at that timestamp instead of showing its last
/// value for the query lookback (5 minutes by default). Remote write carries
/// it bit for bit; other exporters handle it explicitly (the Wavefront line
/// protocol has no NaN and drops it, the /metrics page removes the series).
inline constexpr std::uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;
/// The marker as a value (a signalling-NaN bit pattern: copy it, never
/// compute with it, or the CPU may quieten it into an ordinary NaN).
inline constexpr double kStaleNaN = std::bit_cast<double>(kStaleNaNBits);

/// True when `value` is a staleness marker. Compares bits: NaN != NaN, and
/// any other NaN (a scraped "NaN"; Prometheus' NormalNaN 0x7ff8000000000001)
/// is a value, not a marker.
inline bool isStaleMarker(double value) {
  return std::bit_cast<std::uint64_t>(value) == kStaleNaNBits;
}

/// The kind of a metric family, where the source knows it.
enum class MetricType : std::uint8_t { kUntyped, kGauge, kCounter, kHistogram, kSummary };

/// Optional per-family description a source may attach to a batch.
struct MetricMetadata {
  Symbol name;
  MetricType type = MetricType::kUntyped;
  std::string help;
  std::string unit;
};

/// The unit of work of the pipeline: everything one scrape (or one push)
/// produced. Many samples in one allocation. A source fills it on its own
/// thread and hands it over by unique pointer; once in the ring it is owned
/// by the pipeline, and after processing it is shared read-only (SharedBatch)
/// by every exporter's queue. Not thread-safe while mutable.
struct SampleBatch {
  std::string source;  // instance name of the producing source, e.g. "host"
  std::vector<Sample> samples;
  std::vector<MetricMetadata> metadata;  // may be empty
  /// The AgentTags version whose tags the source already added to every
  /// sample (0: none, the pipeline adds them).
  std::uint64_t tags_version = 0;
};

using SampleBatchPtr = std::unique_ptr<SampleBatch>;
using SharedBatch = std::shared_ptr<const SampleBatch>;

}  // namespace kubemetrics
