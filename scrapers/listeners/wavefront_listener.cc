#include "wavefront_listener.h"

#include <array>
#include <utility>

#include "common/compression/compression.h"

namespace kubemetrics::scrapers::listeners {
namespace {

constexpr std::string_view kComponent = "listeners";
// The first bytes of a rejected line that its log entry shows.
constexpr std::size_t kLoggedLineBytes = 80;

LineLimits parserLimits(const WavefrontListenerConfig& config) {
  LineLimits limits;
  limits.max_line_bytes = config.max_line_bytes;
  limits.max_tags = config.max_tags;
  return limits;
}

/// One TCP connection: parses what each read brings into one batch and
/// offers it when the connection asks to flush.
class LineConnectionConsumer final : public LineConsumer {
 public:
  LineConnectionConsumer(WavefrontListener& listener, std::string peer)
      : listener_(listener), peer_(std::move(peer)), parser_(parserLimits(listener.config())) {}

  void consume(std::string_view lines) override {
    if (!batch_) {
      batch_ = std::make_unique<SampleBatch>();
      batch_->source = "listeners/wavefront";
      // Once per read, not per line: the pod at this address may change.
      sender_ = listener_.intake().pods().find(peer_);
    }
    listener_.parseLines(lines, sender_ ? std::string_view(sender_->name) : peer_, peer_, parser_,
                         *batch_);
  }

  void overlong(std::string_view head) override {
    listener_.intake().metrics().rejected(rejectionName(LineRejection::kLineTooLong));
    (void)head;
  }

  bool flush() override {
    if (!batch_) return true;
    if (!listener_.intake().offer(batch_, sender_)) return false;
    batch_.reset();
    return true;
  }

  void finish(std::string_view partial, bool flushed) override {
    ListenerMetrics& metrics = listener_.intake().metrics();
    if (!partial.empty()) metrics.lost("truncated", 1);
    if (!flushed && batch_) metrics.lost("unflushed", batch_->samples.size());
  }

 private:
  WavefrontListener& listener_;
  const std::string peer_;
  WavefrontLineParser parser_;
  SampleBatchPtr batch_;
  std::optional<SenderPod> sender_;
};

}  // namespace

WavefrontListener::WavefrontListener(WavefrontListenerConfig config, prometheus::Registry& registry,
                                     std::unique_ptr<RequestAuth> auth, const KubeMetadata* kube,
                                     const Clock& clock)
    : config_(std::move(config)),
      clock_(clock),
      metrics_(registry, "wavefront"),
      auth_(std::move(auth)),
      pods_(kube),
      intake_(metrics_, *auth_, pods_) {
  HttpServerOptions options = listenerServerOptions(config_, "wavefront");
  options.lines.max_line_bytes = config_.max_line_bytes;
  // report() decodes a gzip or zstd body into up to max_request_body bytes.
  options.decoded_body_bytes = config_.max_request_body;
  options.lines.accept = [this](std::string_view peer) -> std::unique_ptr<LineConsumer> {
    if (intake_.authRequired()) {
      // A plain TCP line cannot carry a token: only HTTP senders get in.
      metrics_.refused("tcp_needs_token");
      return nullptr;
    }
    return std::make_unique<LineConnectionConsumer>(*this, std::string(peer));
  };
  server_ = std::make_unique<HttpServer>(std::move(options), &registry);
  server_->add("/report", [this](const HttpRequest& request) { return report(request); });
}

WavefrontListener::~WavefrontListener() { stop(); }

Result<void> WavefrontListener::start(SampleSink& sink) {
  return startListening(*server_, intake_, sink, config_, "sources.listeners.wavefront",
                        "TCP lines and HTTP POST /report");
}

void WavefrontListener::stop() {
  server_->stop();
  intake_.close();
}

void WavefrontListener::parseLines(std::string_view text, std::string_view default_source,
                                   std::string_view peer_address, WavefrontLineParser& parser,
                                   SampleBatch& batch) {
  std::array<std::uint64_t, kRejectionCount> rejected{};
  const std::int64_t now_ms = clock_.wallMs();
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    Sample sample;
    LineRejection why{};
    switch (parser.parse(line, now_ms, default_source, sample, &why)) {
      case LineResult::kPoint:
        batch.samples.push_back(std::move(sample));
        break;
      case LineResult::kSkipped:
        break;
      case LineResult::kRejected: {
        ++rejected[static_cast<std::size_t>(why)];
        std::uint64_t suppressed = 0;
        if (log_limiter_.allow("rejected", &suppressed)) {
          logWarn(kComponent) << "wavefront: rejected a line from " << peer_address << " ("
                              << rejectionName(why) << "): \"" << line.substr(0, kLoggedLineBytes)
                              << (line.size() > kLoggedLineBytes ? "..." : "") << "\" ("
                              << suppressed << " more suppressed)";
        }
        break;
      }
    }
  }
  for (std::size_t i = 0; i < rejected.size(); ++i) {
    if (rejected[i] != 0) {
      metrics_.rejected(rejectionName(static_cast<LineRejection>(i)), rejected[i]);
    }
  }
}

HttpResponse WavefrontListener::report(const HttpRequest& request) {
  if (auto denied = intake_.checkAuth(request)) return std::move(*denied);
  if (request.method != "POST") {
    HttpResponse response = intake_.refuse(405, "bad_request", "use POST\n");
    response.headers.emplace_back("Allow", "POST");
    return response;
  }
  // The Wavefront API's /report?f=wavefront; other formats (histograms,
  // spans) are not forwarded.
  const std::string_view query = request.query;
  if (!query.empty() && query.find("f=wavefront") == std::string_view::npos &&
      query.find("f=") != std::string_view::npos) {
    return intake_.refuse(400, "unsupported", "only f=wavefront (metrics) is accepted\n");
  }
  const std::string_view encoding = request.header("Content-Encoding");
  std::string decoded;
  std::string_view body = request.body;
  if (!encoding.empty() && encoding != "identity") {
    Result<std::string> inflated =
        encoding == "gzip" ? push::gzipDecompress(body, config_.max_request_body)
        : encoding == "zstd"
            ? push::zstdDecompress(body, config_.max_request_body)
            : makeError(ErrorCode::kInvalidArgument,
                        "Content-Encoding " + std::string(encoding) + " (gzip, zstd or none)");
    if (!inflated) {
      const bool too_large = inflated.error().code() == ErrorCode::kResourceExhausted;
      return intake_.refuse(too_large ? 413 : 400, too_large ? "too_large" : "bad_request",
                            "cannot decode the body: " + inflated.error().message() + "\n");
    }
    decoded = std::move(*inflated);
    body = decoded;
  }
  auto batch = std::make_unique<SampleBatch>();
  batch->source = "listeners/wavefront";
  const std::optional<SenderPod> sender = pods_.find(request.peer_address);
  WavefrontLineParser parser(parserLimits(config_));
  parseLines(body, sender ? std::string_view(sender->name) : request.peer_address,
             request.peer_address, parser, *batch);
  const std::size_t points = batch->samples.size();
  return intake_.answerOffer(batch, sender, 202,
                             "accepted " + std::to_string(points) + " points\n");
}

}  // namespace kubemetrics::scrapers::listeners
