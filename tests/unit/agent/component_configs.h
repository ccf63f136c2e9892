#pragma once

#include <map>
#include <string>

// For every registered component, the config subtree (flow-style YAML) that
// makes its factory create an instance, talking to loopback only: port 1 on
// 127.0.0.1 refuses every connection, and the host source reads the fixture
// tree of tests/testdata. The lifecycle test fails for a registered
// component missing here, so a new component arrives with its case.

namespace kubemetrics::testing {

inline const std::map<std::string, std::string>& enablingConfigs() {
  static const std::map<std::string, std::string> configs = {
      {"sources.host", "{enabled: true, interval: 15s, proc_path: \"" KM_TESTDATA_DIR
                       "/host/proc\", rootfs_path: \"" KM_TESTDATA_DIR "/host\"}"},
      {"sources.kubelet",
       "{enabled: true, url: \"https://127.0.0.1:1/stats/summary\", timeout: 1s, "
       "bearer_token_file: \"\", ca_file: \"\", insecure_skip_verify: true}"},
      {"sources.ec2", "{enabled: true, endpoint: \"http://127.0.0.1:1\", timeout: 1s}"},
      {"sources.prometheus", "[{name: lifecycle, url: \"http://127.0.0.1:1/metrics\"}]"},
      {"sources.kube_state_metrics", "{enabled: true, url: \"http://127.0.0.1:1/metrics\"}"},
      // Its pods come from the context's fake Kubernetes API (lifecycle_test.cc).
      {"sources.kubernetes_pods", "{enabled: true, interval: 15s, timeout: 1s}"},
      // Its services come from the context's fake catalog (lifecycle_test.cc).
      {"sources.kubernetes_services", "{enabled: true, interval: 15s, timeout: 1s}"},
      // The API server of the context (lifecycle_test.cc), on a refusing port.
      {"sources.kubernetes_apiserver", "{enabled: true, interval: 15s, timeout: 1s}"},
      // The same API server, for the resource metrics API.
      {"sources.kubernetes_resource_metrics", "{enabled: true, interval: 15s, timeout: 1s}"},
      {"sources.listeners", "{wavefront: {enabled: true, listen: \"127.0.0.1:0\"}}"},
      {"exporters.prometheus", "{enabled: true, path: /metrics}"},
      {"exporters.wavefront", "{enabled: true, url: \"tcp://127.0.0.1:1\"}"},
      {"exporters.remote_write", "{enabled: true, url: \"http://127.0.0.1:1/api/v1/write\"}"},
  };
  return configs;
}

// The role (`role:` of the agent) a component needs to create its instance:
// kube-state-metrics runs in the cluster replica only, pod discovery in the
// DaemonSet's agents only. Any other runs in either.
inline std::string enablingRole(const std::string& path) {
  return path == "sources.kubernetes_pods" ? "node" : "cluster";
}

}  // namespace kubemetrics::testing
