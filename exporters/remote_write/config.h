#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/push/push_exporter.h"
#include "kubemetrics/config.h"
#include "kubemetrics/http_client.h"

namespace kubemetrics::exporters::remote_write {

/// `exporters.remote_write:`: Prometheus remote write 1.0 to one endpoint.
/// A plain value type.
struct RemoteWriteConfig {
  bool enabled = false;
  std::string url = "http://prometheus:9090/api/v1/write";  // http:// or https://
  push::PushConfig push;  // timeout, batch, max_in_flight, queue_capacity, retry (+ spool)
  std::string basic_auth_username;       // basic_auth.username
  std::string basic_auth_password_file;  // basic_auth.password_file (secret from a file)
  std::string bearer_token_file;         // Authorization: Bearer <file content>
  std::map<std::string, std::string> external_labels;  // added to every series lacking them
  TlsOptions tls;                                      // tls.{ca_file,insecure_skip_verify,...}

  /// Every problem at once, paths relative to `exporters.remote_write`.
  std::vector<ConfigError> validate() const;
};

/// Reads `exporters.remote_write`, validates it, records every error on
/// `node` and reports unknown keys. The spool part is left at its defaults:
/// the factory fills it from push::sharedSpoolConfig().
RemoteWriteConfig parseConfig(ConfigNode& node);

}  // namespace kubemetrics::exporters::remote_write
