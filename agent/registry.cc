#include "registry.h"

namespace kubemetrics {

const std::vector<SourceEntry>& registeredSources() {
  static const std::vector<SourceEntry> entries = {};
  return entries;
}

const std::vector<ExporterEntry>& registeredExporters() {
  static const std::vector<ExporterEntry> entries = {};
  return entries;
}

}  // namespace kubemetrics
