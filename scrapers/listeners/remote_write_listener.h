#pragma once

#include <memory>
#include <vector>

#include "common/http/http_server.h"
#include "config.h"
#include "intake.h"
#include "kubemetrics/listener.h"
#include "kubemetrics/mutex.h"
#include "remote_write_decoder.h"

namespace prometheus {
class Registry;
}

namespace kubemetrics::scrapers::listeners {

/// `sources.listeners.remote_write`: Prometheus remote write 1.0 receive
/// (`POST /api/v1/write`, snappy-compressed protobuf WriteRequest, as
/// Prometheus, vmagent and the OpenTelemetry collector send it). Answers
/// 204 when every sample entered the pipeline; 400 for a body that cannot
/// be decoded (the sender drops it: retrying cannot help); 413 over
/// max_request_body or max_samples_per_request; 503 with Retry-After when
/// the pipeline is full, so the sender retries instead of losing it
/// (Prometheus retries 5xx always, 429 only when configured to). A series
/// that cannot be taken (no name, bad labels) is rejected alone, counted.
/// The agent's tags are added as the series are decoded (Intake::tagsToAdd),
/// so a cached series is sent on tagged, without the pipeline's Tagger.
/// Thread-safety as Listener.
class RemoteWriteListener final : public Listener {
 public:
  /// `tags` (may be null: the pipeline adds them) must outlive the listener.
  RemoteWriteListener(RemoteWriteListenerConfig config, prometheus::Registry& registry,
                      std::unique_ptr<RequestAuth> auth, const KubeMetadata* kube,
                      const AgentTags* tags = nullptr);
  ~RemoteWriteListener() override;

  std::string_view name() const override { return "listeners/remote_write"; }
  Result<void> start(SampleSink& sink) override;
  void stop() override;
  unsigned short port() const { return server_->port(); }

 private:
  // Series one listener remembers: what the senders on one node send is
  // rarely above 100,000 series. Memory: under 48 MiB when full (64-128
  // bytes of slots a series plus at most 256 bytes of label bytes on
  // average), about 30 MiB with Kubernetes-sized labels.
  static constexpr std::size_t kCachedSeries = 131072;

  HttpResponse write(const HttpRequest& request);
  HttpResponse decodeAndOffer(const HttpRequest& request, RemoteWriteDecoder& decoder);

  // Requests borrow a decoder (at most one per io thread is ever made);
  // every decoder uses series_cache_.
  std::unique_ptr<RemoteWriteDecoder> borrowDecoder();
  void returnDecoder(std::unique_ptr<RemoteWriteDecoder> decoder);

  const RemoteWriteListenerConfig config_;
  ListenerMetrics metrics_;
  std::unique_ptr<RequestAuth> auth_;
  SenderPods pods_;
  Intake intake_;
  // The series every sender sends, by their labels' wire bytes, for every
  // decoder (kCachedSeries; memory as WriteDecodeLimits::cached_series).
  std::shared_ptr<SharedSeriesLabelCache> series_cache_;
  Mutex decoders_mu_;
  std::vector<std::unique_ptr<RemoteWriteDecoder>> idle_decoders_ KM_GUARDED_BY(decoders_mu_);
  std::unique_ptr<HttpServer> server_;
};

}  // namespace kubemetrics::scrapers::listeners
