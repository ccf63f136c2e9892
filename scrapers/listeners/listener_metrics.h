#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace kubemetrics::scrapers::listeners {

/// One listener's self-metrics, every series labelled `listener` (its
/// key: wavefront, remote_write):
///   kubemetrics_listener_received_samples_total  samples handed to the pipeline
///   kubemetrics_listener_rejected_total{reason}  lines (wavefront) or series
///     (remote_write) rejected alone, the rest of their payload delivered
///   kubemetrics_listener_refused_requests_total{reason}  whole requests or
///     connections refused: unauthorized, bad_request, too_large,
///     unsupported, pipeline_full, tcp_needs_token
///   kubemetrics_listener_lost_lines_total{reason}  lines a TCP sender wrote
///     that could not be delivered: truncated (the connection ended inside
///     the line), unflushed (the agent stopped while the pipeline was full)
/// Thread-safe (prometheus-cpp counters; Family::Add takes a lock, so hot
/// paths add per batch, not per line).
class ListenerMetrics {
 public:
  ListenerMetrics(prometheus::Registry& registry, std::string listener);

  void received(std::uint64_t samples) { received_.Increment(static_cast<double>(samples)); }
  void rejected(std::string_view reason, std::uint64_t count = 1);
  void refused(std::string_view reason);
  void lost(std::string_view reason, std::uint64_t lines);

 private:
  const std::string listener_;
  prometheus::Counter& received_;
  prometheus::Family<prometheus::Counter>& rejected_;
  prometheus::Family<prometheus::Counter>& refused_;
  prometheus::Family<prometheus::Counter>& lost_;
};

}  // namespace kubemetrics::scrapers::listeners
