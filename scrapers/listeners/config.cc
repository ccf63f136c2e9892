#include "config.h"

#include "common/config/units.h"
#include "common/http/endpoint_config.h"

namespace kubemetrics::scrapers::listeners {
namespace {

void readCommon(ConfigNode& node, ListenerCommon& out) {
  out.enabled = node.getBool("enabled", out.enabled);
  const std::string listen = node.getString("listen", out.listen);
  if (splitListenAddress(listen, nullptr, nullptr)) {
    out.listen = listen;
  } else {
    node.error("listen", "expected ADDR:PORT such as 0.0.0.0:2878 (got \"" + listen + "\")");
  }
  out.max_connections = static_cast<std::size_t>(
      node.getInt("max_connections", static_cast<std::int64_t>(out.max_connections), 1, 100000));
  out.idle_timeout = node.getDuration("idle_timeout", out.idle_timeout);
  out.max_request_body = node.getBytes("max_request_body", out.max_request_body);
  out.max_body_bytes_in_flight =
      node.getBytes("max_body_bytes_in_flight", out.max_body_bytes_in_flight);
  out.token_file = node.getString("token_file", out.token_file);
  out.basic_auth = parseBasicAuth(node);
  out.tls = parseServerTls(node);
}

}  // namespace

ListenersConfig parseListenersConfig(ConfigNode& node) {
  ListenersConfig config;
  ConfigNode wavefront = node.child("wavefront");
  readCommon(wavefront, config.wavefront);
  config.wavefront.max_line_bytes =
      wavefront.getBytes("max_line_bytes", config.wavefront.max_line_bytes);
  config.wavefront.max_tags = static_cast<std::size_t>(
      wavefront.getInt("max_tags", static_cast<std::int64_t>(config.wavefront.max_tags), 1, 1000));
  wavefront.finish();

  ConfigNode remote_write = node.child("remote_write");
  readCommon(remote_write, config.remote_write);
  config.remote_write.max_samples_per_request = static_cast<std::size_t>(remote_write.getInt(
      "max_samples_per_request",
      static_cast<std::int64_t>(config.remote_write.max_samples_per_request), 1, 100'000'000));
  if (config.wavefront.enabled && config.remote_write.enabled &&
      config.wavefront.listen == config.remote_write.listen) {
    remote_write.error("listen", "the same address as sources.listeners.wavefront.listen (" +
                                     config.remote_write.listen + "); give each its own port");
  }
  remote_write.finish();
  node.finish();
  return config;
}

}  // namespace kubemetrics::scrapers::listeners
