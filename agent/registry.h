#pragma once

#include <string_view>
#include <vector>

#include "kubemetrics/component.h"

namespace kubemetrics {

/// One registered source: its config key under `sources:` (also its folder
/// under scrapers/ and its namespace) and its factory.
struct SourceEntry {
  std::string_view key;
  SourceFactory* factory;
};
/// One registered exporter: its key under `exporters:`, folder under
/// exporters/, and factory.
struct ExporterEntry {
  std::string_view key;
  ExporterFactory* factory;
};

/// One registered listener: its key under `sources:` (also its folder under
/// scrapers/ and its namespace) and its factory.
struct ListenerEntry {
  std::string_view key;
  ListenerFactory* factory;
};

/// Every source, listener and exporter the agent knows, in the order the agent builds
/// them, one line each in registry.cc. Immutable.
const std::vector<SourceEntry>& registeredSources();
const std::vector<ListenerEntry>& registeredListeners();
const std::vector<ExporterEntry>& registeredExporters();

}  // namespace kubemetrics
