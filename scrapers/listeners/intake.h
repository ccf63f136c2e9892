#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/http/http_server.h"
#include "common/http/request_auth.h"
#include "config.h"
#include "kubemetrics/agent_tags.h"
#include "kubemetrics/http.h"
#include "kubemetrics/listener.h"
#include "listener_metrics.h"
#include "sender_pods.h"

namespace kubemetrics::scrapers::listeners {

/// What a listener's connections and request handlers share: the sink
/// (set by start(), cleared by stop()), the metrics, the token check, the
/// sender pods and the agent's tags. Thread-safe; outlives the listener's
/// server. `tags`, when given, must outlive it.
class Intake {
 public:
  Intake(ListenerMetrics& metrics, RequestAuth& auth, SenderPods& pods,
         const AgentTags* tags = nullptr)
      : metrics_(metrics), auth_(auth), pods_(pods), tags_(tags) {}

  void open(SampleSink& sink) { sink_.store(&sink, std::memory_order_release); }
  void close() { sink_.store(nullptr, std::memory_order_release); }

  /// Tags `batch` with its sender pod, if there is one, and offers it: true
  /// when the pipeline took it (counted as received).
  bool offer(SampleBatchPtr& batch, const std::optional<SenderPod>& sender);

  /// The answer to an HTTP request whose batch was offered: 503 with
  /// Retry-After when the pipeline refused it (the sender retries; counted
  /// pipeline_full), else `ok_status`.
  HttpResponse answerOffer(SampleBatchPtr& batch, const std::optional<SenderPod>& sender,
                           int ok_status, std::string ok_body);

  /// The agent's tags for a listener to add itself as it builds its label
  /// sets (then stamping the batch's tags_version, see AgentTags), or null
  /// when the pipeline's Tagger must add them: no tags were given, the
  /// snapshot is pipeline_only, or they name `namespace` or `pod`. A sender
  /// pod's tags, added by offer() after the listener's, must then come
  /// first, as they do when the Tagger runs later; tags naming neither give
  /// the same labels in either order.
  std::shared_ptr<const AgentTags::Snapshot> tagsToAdd() const;

  /// A refusal: `status` with `text`, counted under `reason`.
  HttpResponse refuse(int status, std::string_view reason, std::string text);
  /// Null when the request may go on, else the 401 to send.
  std::optional<HttpResponse> checkAuth(const HttpRequest& request);

  ListenerMetrics& metrics() { return metrics_; }
  SenderPods& pods() { return pods_; }
  bool authRequired() const { return auth_.required(); }

 private:
  ListenerMetrics& metrics_;
  RequestAuth& auth_;
  SenderPods& pods_;
  const AgentTags* const tags_;
  std::atomic<SampleSink*> sink_{nullptr};
};

/// A listener's HttpServer options from its config; `name` is the `server`
/// label of its connection metrics.
HttpServerOptions listenerServerOptions(const ListenerCommon& config, std::string name);

/// Opens `intake` to `sink` and starts `server` on config.listen, logging
/// `serving` (what it serves); an error names `config_path`.
Result<void> startListening(HttpServer& server, Intake& intake, SampleSink& sink,
                            const ListenerCommon& config, std::string_view config_path,
                            std::string_view serving);

}  // namespace kubemetrics::scrapers::listeners
