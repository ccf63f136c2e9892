#include "wavefront_exporter.h"

#include <utility>

#include "kubemetrics/log.h"
#include "tcp_transport.h"

namespace kubemetrics::exporters::wavefront {

namespace {
constexpr const char* kName = "wavefront";
}

Result<std::unique_ptr<push::PushExporter>> createWavefrontExporter(
    const WavefrontConfig& config, const std::string& default_source,
    prometheus::Registry& registry, const Clock& clock) {
  WavefrontEndpoint endpoint;
  std::string reason;
  if (!parseEndpoint(config.url, &endpoint, &reason)) {
    return makeError(ErrorCode::kInvalidArgument, "exporters.wavefront.url: " + reason);
  }
  const Compression compression = parseCompression(config.effectiveCompression());
  auto encoder = std::make_unique<WavefrontEncoder>(
      LineFormatOptions{config.source, default_source, config.exclude_tags}, compression,
      config.compression_level, std::make_unique<WavefrontFormatMetrics>(registry, kName));

  push::TransportFactory transports;
  if (endpoint.mode == WavefrontEndpoint::Mode::kProxyTcp) {
    TcpTransportOptions options;
    options.host = endpoint.host;
    options.port = endpoint.port;
    options.connect_timeout = std::min(options.connect_timeout, config.push.timeout);
    transports = makeTcpTransportFactory(std::move(options));
  } else {
    auto authorization = tokenAuthorization(config);
    if (!authorization) return tl::unexpected(authorization.error());
    push::HttpTransportOptions options;
    options.url = endpoint.report_url;
    // As wavefront-sdk-java's ReportingService sends /report bodies.
    options.headers.emplace_back("Content-Type", "application/octet-stream");
    options.authorization = std::move(*authorization);
    options.client.accept_gzip = false;
    transports = push::makeHttpTransportFactory(std::move(options),
                                                std::string(contentEncodingOf(compression)));
  }
  logInfo(kName) << "sending to " << config.url << " (compression " << config.effectiveCompression()
                 << ")";
  return push::PushExporter::create(kName, config.push, std::move(encoder), std::move(transports),
                                    registry, clock);
}

Result<std::vector<ExporterPtr>> buildExporters(ConfigNode& node, const ComponentContext* context) {
  WavefrontConfig config = parseConfig(node);
  std::vector<ExporterPtr> exporters;
  if (context == nullptr || !config.enabled) return exporters;
  config.push.spool = context->spool;
  auto exporter =
      createWavefrontExporter(config, context->agent.node, context->metrics, context->clock);
  if (!exporter) return tl::unexpected(exporter.error());
  exporters.push_back(std::move(*exporter));
  return exporters;
}

}  // namespace kubemetrics::exporters::wavefront
