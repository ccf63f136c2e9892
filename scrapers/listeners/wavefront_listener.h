#pragma once

#include <memory>
#include <string>

#include "common/http/http_server.h"
#include "config.h"
#include "intake.h"
#include "kubemetrics/clock.h"
#include "kubemetrics/listener.h"
#include "kubemetrics/log.h"
#include "wavefront_line_parser.h"

namespace prometheus {
class Registry;
}

namespace kubemetrics::scrapers::listeners {

/// `sources.listeners.wavefront`: Wavefront data-format lines, over plain
/// TCP (newline-delimited, many connections, each its own parser and
/// batch: one batch per read) and over HTTP `POST /report` (body plain,
/// gzip or zstd) on the same port. A bad line is rejected alone (counted
/// by reason, logged rate-limited with its first bytes); the rest goes
/// through. A line without source= or host= gets the sending pod's name,
/// else the sender's address. When the pipeline refuses, TCP connections
/// stop reading until it takes the batch, and HTTP answers 503 with
/// Retry-After. Thread-safety as Listener.
class WavefrontListener final : public Listener {
 public:
  WavefrontListener(WavefrontListenerConfig config, prometheus::Registry& registry,
                    std::unique_ptr<RequestAuth> auth, const KubeMetadata* kube,
                    const Clock& clock);
  ~WavefrontListener() override;

  std::string_view name() const override { return "listeners/wavefront"; }
  Result<void> start(SampleSink& sink) override;
  void stop() override;
  /// The bound port once started (tests use port 0).
  unsigned short port() const { return server_->port(); }

  /// Parses `text` (lines separated by '\n') into `batch`, counting and
  /// logging the rejected ones. For connections and /report alike.
  void parseLines(std::string_view text, std::string_view default_source,
                  std::string_view peer_address, WavefrontLineParser& parser, SampleBatch& batch);

  const WavefrontListenerConfig& config() const { return config_; }
  Intake& intake() { return intake_; }

 private:
  HttpResponse report(const HttpRequest& request);

  const WavefrontListenerConfig config_;
  const Clock& clock_;
  ListenerMetrics metrics_;
  std::unique_ptr<RequestAuth> auth_;
  SenderPods pods_;
  Intake intake_;
  LogLimiter log_limiter_{std::chrono::seconds(30)};
  std::unique_ptr<HttpServer> server_;
};

}  // namespace kubemetrics::scrapers::listeners
