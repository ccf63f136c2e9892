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

namespace kubemetrics::exporters::remote_write {

/// Builds the remote write exporter: a push::PushExporter with a
/// RemoteWriteEncoder (protobuf + snappy) and an HTTP POST transport with the
/// spec's headers (Content-Encoding: snappy, Content-Type:
/// application/x-protobuf, X-Prometheus-Remote-Write-Version: 0.1.0,
/// User-Agent) and the configured authorization. Secret files are read here,
/// once: an unreadable one is kUnavailable (a start-up failure).
/// `config.push.spool` is used as given; `clock` times batching, retries
/// and replays (PushExporter::create). Thread-safety as PushExporter.
Result<std::unique_ptr<push::PushExporter>> createRemoteWriteExporter(
    std::string name, const RemoteWriteConfig& config, prometheus::Registry& metrics,
    const Clock& clock = systemClock());

/// Factory for `exporters.remote_write` (agent/registry.cc): parses and
/// validates; with a null context or `enabled: false` returns nothing;
/// otherwise one exporter named "remote_write" whose spool settings come
/// from `exporters.spool` (push::sharedSpoolConfig()).
ExporterFactory buildExporters;

}  // namespace kubemetrics::exporters::remote_write
