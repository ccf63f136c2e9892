#include "agent/registry.h"

// Every component, one line each: KM_SOURCE(key) for scrapers/<key>/,
// KM_LISTENER(key) for a scrapers/<key>/ that is pushed to,
// KM_EXPORTER(key) for exporters/<key>/. The key is the config section
// (sources.<key>, exporters.<key>), the folder and the namespace whose
// buildSources / buildListeners / buildExporters the agent calls, so the three names cannot
// drift apart. tests/unit/agent/lifecycle_test.cc checks that every folder
// is listed here and runs each component's whole lifecycle.
#define KM_COMPONENTS(KM_SOURCE, KM_LISTENER, KM_EXPORTER) \
  KM_SOURCE(host)                                          \
  KM_SOURCE(kubelet)                                       \
  KM_SOURCE(ec2)                                           \
  KM_SOURCE(prometheus)                                    \
  KM_SOURCE(kube_state_metrics)                            \
  KM_SOURCE(kubernetes_pods)                               \
  KM_SOURCE(kubernetes_services)                           \
  KM_SOURCE(kubernetes_apiserver)                          \
  KM_SOURCE(kubernetes_resource_metrics)                   \
  KM_LISTENER(listeners)                                   \
  KM_EXPORTER(prometheus)                                  \
  KM_EXPORTER(wavefront)                                   \
  KM_EXPORTER(remote_write)

// The factories are declared here from their names alone: the registry
// includes no component header, and a factory missing or with another
// signature fails at link time.
#define KM_DECLARE_SOURCE(key)           \
  namespace kubemetrics::scrapers::key { \
  SourceFactory buildSources;            \
  }
#define KM_DECLARE_LISTENER(key)         \
  namespace kubemetrics::scrapers::key { \
  ListenerFactory buildListeners;        \
  }
#define KM_DECLARE_EXPORTER(key)          \
  namespace kubemetrics::exporters::key { \
  ExporterFactory buildExporters;         \
  }
KM_COMPONENTS(KM_DECLARE_SOURCE, KM_DECLARE_LISTENER, KM_DECLARE_EXPORTER)

#define KM_NOTHING(key)
#define KM_SOURCE_ENTRY(key) {#key, &scrapers::key::buildSources},
#define KM_LISTENER_ENTRY(key) {#key, &scrapers::key::buildListeners},
#define KM_EXPORTER_ENTRY(key) {#key, &exporters::key::buildExporters},

namespace kubemetrics {

const std::vector<SourceEntry>& registeredSources() {
  static const std::vector<SourceEntry> entries = {
      KM_COMPONENTS(KM_SOURCE_ENTRY, KM_NOTHING, KM_NOTHING)};
  return entries;
}

const std::vector<ExporterEntry>& registeredExporters() {
  static const std::vector<ExporterEntry> entries = {
      KM_COMPONENTS(KM_NOTHING, KM_NOTHING, KM_EXPORTER_ENTRY)};
  return entries;
}

const std::vector<ListenerEntry>& registeredListeners() {
  static const std::vector<ListenerEntry> entries = {
      KM_COMPONENTS(KM_NOTHING, KM_LISTENER_ENTRY, KM_NOTHING)};
  return entries;
}

}  // namespace kubemetrics
