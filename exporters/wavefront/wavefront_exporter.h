#pragma once

#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "common/push/push_exporter.h"
#include "config.h"
#include "kubemetrics/clock.h"
#include "kubemetrics/component.h"
#include "kubemetrics/config.h"
#include "kubemetrics/exporter.h"
#include "kubemetrics/result.h"
#include "wavefront_encoder.h"

namespace kubemetrics::exporters::wavefront {

/// Builds the "wavefront" push exporter from a validated config: a
/// WavefrontEncoder (lines, then zstd/gzip/none) and, by URL scheme, a TCP
/// proxy transport or the shared HTTP transport (POST .../report?f=wavefront,
/// Authorization: Bearer <token> when a token is configured). Batching,
/// retries, the spool and the generic self-metrics are push::PushExporter's.
/// `default_source` is the agent's node name. Errors: the token cannot be
/// loaded (kInvalidArgument), or PushExporter::create failed. `clock`
/// times batching, retries and replays (PushExporter::create).
Result<std::unique_ptr<push::PushExporter>> createWavefrontExporter(
    const WavefrontConfig& config, const std::string& default_source,
    prometheus::Registry& registry, const Clock& clock = systemClock());

/// Factory for `exporters.wavefront` (agent/registry.cc): parses the
/// config; with a null context (validation only) or `enabled: false`
/// returns no exporter; otherwise creates one.
ExporterFactory buildExporters;

}  // namespace kubemetrics::exporters::wavefront
