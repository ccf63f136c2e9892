#include "remote_write_listener.h"

#include <utility>

#include "remote_write_decoder.h"

namespace kubemetrics::scrapers::listeners {
RemoteWriteListener::RemoteWriteListener(RemoteWriteListenerConfig config,
                                         prometheus::Registry& registry,
                                         std::unique_ptr<RequestAuth> auth,
                                         const KubeMetadata* kube, const AgentTags* tags)
    : config_(std::move(config)),
      metrics_(registry, "remote_write"),
      auth_(std::move(auth)),
      pods_(kube),
      intake_(metrics_, *auth_, pods_, tags),
      series_cache_(std::make_shared<SharedSeriesLabelCache>(
          kCachedSeries, kCachedSeries * RemoteWriteDecoder::kCachedKeyBytes)) {
  server_ = std::make_unique<HttpServer>(listenerServerOptions(config_, "remote_write"), &registry);
  server_->add("/api/v1/write", [this](const HttpRequest& request) { return write(request); });
}

RemoteWriteListener::~RemoteWriteListener() { stop(); }

Result<void> RemoteWriteListener::start(SampleSink& sink) {
  return startListening(*server_, intake_, sink, config_, "sources.listeners.remote_write",
                        "POST /api/v1/write");
}

void RemoteWriteListener::stop() {
  server_->stop();
  intake_.close();
}

HttpResponse RemoteWriteListener::write(const HttpRequest& request) {
  if (auto denied = intake_.checkAuth(request)) return std::move(*denied);
  if (request.method != "POST") {
    HttpResponse response = intake_.refuse(405, "bad_request", "use POST\n");
    response.headers.emplace_back("Allow", "POST");
    return response;
  }
  // Remote write 1.0: snappy, and version 0.1.x when the header is sent
  // (2.0 senders announce 2.0.0 and send another message type).
  const std::string_view encoding = request.header("Content-Encoding");
  if (!encoding.empty() && encoding != "snappy") {
    return intake_.refuse(415, "unsupported",
                          "Content-Encoding must be snappy (got " + std::string(encoding) + ")\n");
  }
  const std::string_view version = request.header("X-Prometheus-Remote-Write-Version");
  if (!version.empty() && version.substr(0, 4) != "0.1.") {
    return intake_.refuse(400, "unsupported",
                          "X-Prometheus-Remote-Write-Version " + std::string(version) +
                              " not supported (remote write 1.0: 0.1.0)\n");
  }
  std::unique_ptr<RemoteWriteDecoder> decoder = borrowDecoder();
  HttpResponse response = decodeAndOffer(request, *decoder);
  returnDecoder(std::move(decoder));
  return response;
}

std::unique_ptr<RemoteWriteDecoder> RemoteWriteListener::borrowDecoder() {
  {
    MutexLock lock(decoders_mu_);
    if (!idle_decoders_.empty()) {
      auto decoder = std::move(idle_decoders_.back());
      idle_decoders_.pop_back();
      return decoder;
    }
  }
  WriteDecodeLimits limits;
  limits.max_samples = config_.max_samples_per_request;
  return std::make_unique<RemoteWriteDecoder>(limits, series_cache_);
}

void RemoteWriteListener::returnDecoder(std::unique_ptr<RemoteWriteDecoder> decoder) {
  MutexLock lock(decoders_mu_);
  idle_decoders_.push_back(std::move(decoder));
}

HttpResponse RemoteWriteListener::decodeAndOffer(const HttpRequest& request,
                                                 RemoteWriteDecoder& decoder) {
  auto batch = std::make_unique<SampleBatch>();
  batch->source = "listeners/remote_write";
  const std::shared_ptr<const AgentTags::Snapshot> tags = intake_.tagsToAdd();
  auto decoded = decoder.decode(request.body, batch->samples, tags.get());
  if (!decoded) {
    const bool too_large = decoded.error().code() == ErrorCode::kResourceExhausted;
    return intake_.refuse(too_large ? 413 : 400, too_large ? "too_large" : "bad_request",
                          decoded.error().message() + "\n");
  }
  const std::pair<std::string_view, std::size_t> rejected[] = {
      {"no_name", decoded->rejected_no_name},
      {"bad_label_name", decoded->rejected_bad_label_name},
      {"invalid_utf8", decoded->rejected_invalid_utf8},
      {"too_many_labels", decoded->rejected_too_many_labels},
      {"native_histogram", decoded->ignored_histograms}};
  for (const auto& [reason, series] : rejected) {
    if (series != 0) metrics_.rejected(reason, series);
  }
  if (tags != nullptr) batch->tags_version = tags->version;
  return intake_.answerOffer(batch, pods_.find(request.peer_address), 204, "");
}

}  // namespace kubemetrics::scrapers::listeners
