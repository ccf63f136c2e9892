#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <utility>

#include "common/http/secret_file.h"
#include "common/push/push_exporter.h"

namespace kubemetrics::push {
namespace {

constexpr std::size_t kBodyExcerpt = 256;
constexpr auto kMaxRetryAfter = std::chrono::hours(1);

std::string excerpt(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, kBodyExcerpt)) {
    out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (body.size() > kBodyExcerpt) out += "...";
  return out;
}

class HttpTransport : public Transport {
 public:
  HttpTransport(std::shared_ptr<const HttpTransportOptions> options, std::string content_encoding)
      : options_(std::move(options)),
        content_encoding_(std::move(content_encoding)),
        client_(options_->client) {
    request_.method = "POST";
    request_.url = options_->url;
  }

  // kubemetrics::push::Transport
  DeliveryOutcome deliver(const EncodedPayload& payload, Deadline deadline) override {
    request_.headers = options_->headers;
    if (options_->authorization) {
      // Re-read per attempt: a rotated token is used from the next request.
      auto authorization = options_->authorization();
      if (!authorization) return DeliveryOutcome::retry(authorization.error().message());
      request_.headers.emplace_back("Authorization", std::move(*authorization));
    }
    const std::string& encoding =
        payload.content_encoding.empty() ? content_encoding_ : payload.content_encoding;
    if (!encoding.empty()) request_.headers.emplace_back("Content-Encoding", encoding);
    // The body is copied once per attempt: HttpClientRequest owns its body.
    request_.body = payload.body;
    auto response = client_.send(request_, deadline);
    request_.body.clear();
    if (!response) {
      // Every client-side failure is worth retrying: a bad URL or header is
      // refused at start-up, so what is left here is the network, TLS
      // (a certificate being rotated) or the peer; none of it is the body's
      // fault, and the spool keeps the body meanwhile.
      return DeliveryOutcome::retry(options_->url + ": " + response.error().message());
    }
    DeliveryOutcome outcome =
        classifyHttpStatus(response->status, response->header("Retry-After"), response->body);
    if (!outcome.message.empty()) outcome.message = options_->url + ": " + outcome.message;
    return outcome;
  }

  void cancel() override { client_.cancel(); }

 private:
  std::shared_ptr<const HttpTransportOptions> options_;
  std::string content_encoding_;
  HttpClient client_;
  HttpClientRequest request_;
};

}  // namespace

std::chrono::milliseconds parseRetryAfter(std::string_view value) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) {
    value.remove_prefix(1);
  }
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
    value.remove_suffix(1);
  }
  if (value.empty()) return std::chrono::milliseconds(0);
  std::uint64_t seconds = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && end == value.data() + value.size()) {
    return std::min<std::chrono::milliseconds>(
        std::chrono::seconds(std::min<std::uint64_t>(seconds, 3600)), kMaxRetryAfter);
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  const std::string text(value);
  const char* parsed = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (parsed == nullptr || *parsed != '\0') return std::chrono::milliseconds(0);
  const std::time_t when = timegm(&tm);
  const std::time_t now = std::time(nullptr);
  if (when <= now) return std::chrono::milliseconds(0);
  return std::min<std::chrono::milliseconds>(std::chrono::seconds(when - now), kMaxRetryAfter);
}

namespace {

// Whether a 400 body is about some samples rather than the request: the
// phrases of Prometheus ("out of order sample", "out of bounds",
// "duplicate sample for timestamp"), Mimir ("err-mimir-sample-out-of-order",
// "...-timestamp-too-old", "...-duplicate-timestamp") and Cortex/AMP.
bool namesRefusedSample(std::string_view body) {
  std::string lower(body.substr(0, 4096));
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (std::string_view phrase : {"out of order", "out-of-order", "out of bounds", "too old",
                                  "duplicate sample", "duplicate-timestamp"}) {
    if (lower.find(phrase) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

DeliveryOutcome classifyHttpStatus(int status, std::string_view retry_after,
                                   std::string_view body) {
  if (status >= 200 && status < 300) return DeliveryOutcome::delivered();
  std::string message = "HTTP " + std::to_string(status);
  const std::string text = excerpt(body);
  if (!text.empty()) message += ": " + text;
  // The receiver refused this body or its samples for good (Prometheus,
  // Mimir, AMP, VictoriaMetrics: 400 for an undecodable body or an
  // out-of-order/too-old sample; 422 the same for some gateways):
  // re-sending it fails again. When it names a refused sample, the others
  // may still go, in smaller requests.
  if (status == 400 || status == 422) {
    return DeliveryOutcome::drop(std::move(message), namesRefusedSample(body));
  }
  // Everything else is about the receiver's state, not the body: 401/403
  // (a token expired, rotated on one side first), 404 (an ingress or route
  // being deployed), 408, 413 (a limit lowered for a while), 429, 5xx.
  return DeliveryOutcome::retry(std::move(message), parseRetryAfter(retry_after));
}

TransportFactory makeHttpTransportFactory(HttpTransportOptions options,
                                          std::string content_encoding) {
  auto shared = std::make_shared<const HttpTransportOptions>(std::move(options));
  return [shared, content_encoding = std::move(content_encoding)]() -> Result<TransportPtr> {
    return TransportPtr(new HttpTransport(shared, content_encoding));
  };
}

Authorization bearerAuthorization(std::shared_ptr<SecretFile> token) {
  return [token = std::move(token)]() -> Result<std::string> {
    auto value = token->value();
    if (!value) return tl::unexpected(value.error());
    return "Bearer " + *value;
  };
}

}  // namespace kubemetrics::push
