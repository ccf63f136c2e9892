#pragma once

#include <string_view>
#include <vector>

#include "component.h"
#include "config/config_node.h"
#include "kubemetrics/exporter.h"
#include "kubemetrics/result.h"
#include "kubemetrics/source.h"

namespace kubemetrics {

/// Reads one component's config subtree (`sources.<key>` or
/// `exporters.<key>`), reporting problems through the node. With a null
/// context it only validates (--check-config); otherwise it also creates the
/// enabled instances. An error here is a start-up failure (a port taken, a
/// file unreadable), not a config error.
using SourceFactory = Result<std::vector<SourcePtr>> (*)(ConfigNode& node,
                                                         const ComponentContext* context);
using ExporterFactory = Result<std::vector<ExporterPtr>> (*)(ConfigNode& node,
                                                             const ComponentContext* context);

struct SourceEntry {
  std::string_view key;
  SourceFactory factory;
};
struct ExporterEntry {
  std::string_view key;
  ExporterFactory factory;
};

/// Every source and exporter the agent knows, by config key, one line each
/// in registry.cc. Immutable.
const std::vector<SourceEntry>& registeredSources();
const std::vector<ExporterEntry>& registeredExporters();

}  // namespace kubemetrics
