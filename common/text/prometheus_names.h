#pragma once

#include <string>
#include <string_view>

// How the agent's metric and tag names (`kubernetes.node.cpu.usage_rate`,
// `label.app`) become Prometheus names, shared by the /metrics endpoint and
// remote write so both show a series under the same name. Pure functions;
// thread-safe.

namespace kubemetrics::text {

/// A metric name as a Prometheus metric name: '.' and every other character
/// outside [a-zA-Z0-9_:] become '_', a leading digit gets a '_' prefix, ""
/// becomes "_". `kubernetes.node.cpu.usage_rate` ->
/// `kubernetes_node_cpu_usage_rate`.
std::string mapMetricName(std::string_view name);
/// Like mapMetricName, but ':' is not allowed in label names either.
std::string mapLabelName(std::string_view name);

}  // namespace kubemetrics::text
