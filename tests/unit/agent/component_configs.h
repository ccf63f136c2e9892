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
      {"exporters.prometheus", "{enabled: true, path: /metrics}"},
      {"exporters.wavefront", "{enabled: true, url: \"tcp://127.0.0.1:1\"}"},
      {"exporters.remote_write", "{enabled: true, url: \"http://127.0.0.1:1/api/v1/write\"}"},
  };
  return configs;
}

}  // namespace kubemetrics::testing
