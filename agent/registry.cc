#include "registry.h"

#include "exporters/common/push_exporter.h"
#include "exporters/prometheus_endpoint/prometheus_endpoint_exporter.h"
#include "exporters/remote_write/remote_write_exporter.h"
#include "exporters/wavefront/wavefront_exporter.h"
#include "scrapers/ec2_metadata/ec2_source.h"
#include "scrapers/host/host_source.h"
#include "scrapers/kube_state_metrics/ksm_source.h"
#include "scrapers/kubelet_summary/kubelet_source.h"
#include "scrapers/prometheus/prometheus_target.h"

namespace kubemetrics {

// One line per component: its config key under `sources:` or `exporters:`
// and its factory.

const std::vector<SourceEntry>& registeredSources() {
  static const std::vector<SourceEntry> entries = {
      {"host", &host::buildHostSources},
      {"kubelet", &kubelet_summary::buildKubeletSources},
      {"ec2", &ec2_metadata::buildEc2Sources},
      {"prometheus", &prometheus_scrape::buildPrometheusSources},
      {"kube_state_metrics", &kube_state_metrics::buildKsmSources},
  };
  return entries;
}

const std::vector<ExporterEntry>& registeredExporters() {
  static const std::vector<ExporterEntry> entries = {
      {"prometheus", &prometheus_endpoint::buildPrometheusEndpointExporters},
      // Before the push exporters: publishes the spool settings they share.
      {"spool", &push::buildSpoolSettings},
      {"wavefront", &wavefront::buildWavefrontExporters},
      {"remote_write", &remote_write::buildRemoteWriteExporters},
  };
  return entries;
}

}  // namespace kubemetrics
