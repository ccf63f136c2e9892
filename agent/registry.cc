#include "registry.h"

#include "exporters/prometheus_endpoint/prometheus_endpoint_exporter.h"
#include "scrapers/host/host_source.h"

namespace kubemetrics {

// One line per component: its config key under `sources:` or `exporters:`
// and its factory.

const std::vector<SourceEntry>& registeredSources() {
  static const std::vector<SourceEntry> entries = {
      {"host", &host::buildHostSources},
  };
  return entries;
}

const std::vector<ExporterEntry>& registeredExporters() {
  static const std::vector<ExporterEntry> entries = {
      {"prometheus", &prometheus_endpoint::buildPrometheusEndpointExporters},
  };
  return entries;
}

}  // namespace kubemetrics
