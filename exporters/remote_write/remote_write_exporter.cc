#include "remote_write_exporter.h"

#include <memory>
#include <utility>

#include "common/http/secret_file.h"
#include "kubemetrics/log.h"
#include "remote_write_encoder.h"

namespace kubemetrics::exporters::remote_write {
namespace {

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(in[i]) << 16) |
                   (static_cast<unsigned char>(in[i + 1]) << 8) |
                   static_cast<unsigned char>(in[i + 2]);
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63],
            kAlphabet[n & 63]};
  }
  if (i + 1 == in.size()) {
    const auto n = static_cast<unsigned char>(in[i]) << 16;
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const auto n =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<push::PushExporter>> createRemoteWriteExporter(
    std::string name, const RemoteWriteConfig& config, prometheus::Registry& metrics,
    const Clock& clock) {
  push::HttpTransportOptions options;
  options.url = config.url;
  options.client.tls = config.tls;
  options.client.accept_gzip = false;  // responses are tiny
  options.client.max_response_bytes = 1 << 20;
  options.headers = {{"Content-Type", std::string(kContentType)},
                     {std::string(kVersionHeader), std::string(kVersion)}};
  // Secrets are files re-read when they change (a rotated token or
  // password is used from the next request); unreadable at start is a
  // start-up error.
  if (!config.basic_auth_username.empty()) {
    auto password = std::make_shared<SecretFile>(config.basic_auth_password_file,
                                                 "exporters.remote_write.basic_auth.password_file");
    if (auto loaded = password->load(); !loaded) return tl::unexpected(loaded.error());
    options.authorization = [password, user = config.basic_auth_username]() -> Result<std::string> {
      auto secret = password->value();
      if (!secret) return tl::unexpected(secret.error());
      return "Basic " + base64(user + ":" + *secret);
    };
  } else if (!config.bearer_token_file.empty()) {
    auto token = std::make_shared<SecretFile>(config.bearer_token_file,
                                              "exporters.remote_write.bearer_token_file");
    if (auto loaded = token->load(); !loaded) return tl::unexpected(loaded.error());
    options.authorization = push::bearerAuthorization(std::move(token));
  }
  if (config.tls.insecure_skip_verify) {
    logWarn(name) << "tls.insecure_skip_verify is on: the certificate of " << config.url
                  << " is NOT verified";
  }
  std::vector<std::pair<std::string, std::string>> external(config.external_labels.begin(),
                                                            config.external_labels.end());
  auto encoder = std::make_unique<RemoteWriteEncoder>(std::move(external), "snappy");
  auto transports = push::makeHttpTransportFactory(std::move(options), "snappy");
  return push::PushExporter::create(std::move(name), config.push, std::move(encoder),
                                    std::move(transports), metrics, clock);
}

Result<std::vector<ExporterPtr>> buildExporters(ConfigNode& node, const ComponentContext* context) {
  RemoteWriteConfig config = parseConfig(node);
  std::vector<ExporterPtr> out;
  if (context == nullptr || !config.enabled) return out;
  config.push.spool = context->spool;
  auto exporter =
      createRemoteWriteExporter("remote_write", config, context->metrics, context->clock);
  if (!exporter) return tl::unexpected(exporter.error());
  logInfo("remote_write") << "sending to " << config.url << " (batch "
                          << config.push.batch.max_samples << " samples / "
                          << config.push.batch.max_wait.count() << "ms, "
                          << config.push.max_in_flight << " in flight, spool "
                          << (config.push.spool.enabled ? config.push.spool.dir + "/remote_write"
                                                        : std::string("off"))
                          << ")";
  out.push_back(std::move(*exporter));
  return out;
}

}  // namespace kubemetrics::exporters::remote_write
