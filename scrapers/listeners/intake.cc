#include "intake.h"

#include <utility>

#include "kubemetrics/log.h"

namespace kubemetrics::scrapers::listeners {

bool Intake::offer(SampleBatchPtr& batch, const std::optional<SenderPod>& sender) {
  if (!batch || batch->samples.empty()) return true;
  SampleSink* sink = sink_.load(std::memory_order_acquire);
  if (sink == nullptr) return false;
  if (sender) tagWithSender(*batch, *sender);
  const std::size_t samples = batch->samples.size();
  if (!sink->offer(batch)) return false;
  metrics_.received(samples);
  return true;
}

HttpResponse Intake::answerOffer(SampleBatchPtr& batch, const std::optional<SenderPod>& sender,
                                 int ok_status, std::string ok_body) {
  if (!offer(batch, sender)) {
    HttpResponse response =
        refuse(503, "pipeline_full", "the agent's pipeline is full; retry after the pause\n");
    response.headers.emplace_back("Retry-After", "1");
    return response;
  }
  HttpResponse response;
  response.status = ok_status;
  response.body = std::move(ok_body);
  return response;
}

std::shared_ptr<const AgentTags::Snapshot> Intake::tagsToAdd() const {
  if (tags_ == nullptr) return nullptr;
  auto snapshot = tags_->current();
  return snapshot->pipeline_only || namesASenderLabel(*snapshot) ? nullptr : snapshot;
}

HttpResponse Intake::refuse(int status, std::string_view reason, std::string text) {
  metrics_.refused(reason);
  HttpResponse response;
  response.status = status;
  response.body = std::move(text);
  return response;
}

std::optional<HttpResponse> Intake::checkAuth(const HttpRequest& request) {
  if (auth_.allows(request)) return std::nullopt;
  HttpResponse response =
      refuse(401, "unauthorized", "missing or wrong credentials (" + auth_.expected() + ")\n");
  response.headers.emplace_back("WWW-Authenticate", auth_.challenge());
  return response;
}

HttpServerOptions listenerServerOptions(const ListenerCommon& config, std::string name) {
  HttpServerOptions options;
  options.name = std::move(name);
  options.max_connections = config.max_connections;
  options.idle_timeout = config.idle_timeout;
  options.max_body_bytes = config.max_request_body;
  options.max_body_bytes_in_flight = config.max_body_bytes_in_flight;
  options.io_thread_nice = 10;
  options.tls = config.tls;
  return options;
}

Result<void> startListening(HttpServer& server, Intake& intake, SampleSink& sink,
                            const ListenerCommon& config, std::string_view config_path,
                            std::string_view serving) {
  intake.open(sink);
  auto started = server.start(config.listen);
  if (!started) {
    return makeError(started.error().code(),
                     std::string(config_path) + ": " + started.error().message());
  }
  logInfo("listeners") << config_path << " on " << config.listen << " (port " << server.port()
                       << "): " << serving;
  return {};
}

}  // namespace kubemetrics::scrapers::listeners
