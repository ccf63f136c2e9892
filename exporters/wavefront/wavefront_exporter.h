#pragma once

#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "component.h"
#include "config/config_node.h"
#include "exporters/common/push_exporter.h"
#include "exporters/wavefront/config.h"
#include "exporters/wavefront/wavefront_encoder.h"
#include "kubemetrics/exporter.h"
#include "kubemetrics/result.h"

namespace kubemetrics::wavefront {

/// Builds the "wavefront" push exporter from a validated config: a
/// WavefrontEncoder (lines, then zstd/gzip/none) and, by URL scheme, a TCP
/// proxy transport or the shared HTTP transport (POST .../report?f=wavefront,
/// Authorization: Bearer <token> when a token is configured). Batching,
/// retries, the spool and the generic self-metrics are push::PushExporter's.
/// `default_source` is the agent's node name. Errors: the token cannot be
/// loaded (kInvalidArgument), or PushExporter::create failed.
Result<std::unique_ptr<push::PushExporter>> createWavefrontExporter(
    const WavefrontConfig& config, const std::string& default_source,
    prometheus::Registry& registry);

/// Factory for `exporters.wavefront` (agent/registry.cc): parses the
/// config; with a null context (validation only) or `enabled: false`
/// returns no exporter; otherwise creates one.
Result<std::vector<ExporterPtr>> buildWavefrontExporters(ConfigNode& node,
                                                         const ComponentContext* context);

}  // namespace kubemetrics::wavefront
