#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <utility>

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
    const std::string& encoding =
        payload.content_encoding.empty() ? content_encoding_ : payload.content_encoding;
    if (!encoding.empty()) request_.headers.emplace_back("Content-Encoding", encoding);
    // The body is copied once per attempt: HttpClientRequest owns its body.
    request_.body = payload.body;
    auto response = client_.send(request_, deadline);
    request_.body.clear();
    if (!response) {
      const Error& error = response.error();
      if (error.code() == ErrorCode::kInvalidArgument ||
          error.code() == ErrorCode::kPermissionDenied) {
        return DeliveryOutcome::drop(options_->url + ": " + error.message());
      }
      return DeliveryOutcome::retry(options_->url + ": " + error.message());
    }
    DeliveryOutcome outcome =
        classifyHttpStatus(response->status, response->header("Retry-After"), response->body);
    if (!outcome.message.empty()) outcome.message = options_->url + ": " + outcome.message;
    return outcome;
  }

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

DeliveryOutcome classifyHttpStatus(int status, std::string_view retry_after,
                                   std::string_view body) {
  if (status >= 200 && status < 300) return DeliveryOutcome::delivered();
  std::string message = "HTTP " + std::to_string(status);
  const std::string text = excerpt(body);
  if (!text.empty()) message += ": " + text;
  if (status == 429 || status == 408 || status >= 500) {
    return DeliveryOutcome::retry(std::move(message), parseRetryAfter(retry_after));
  }
  return DeliveryOutcome::drop(std::move(message));
}

TransportFactory makeHttpTransportFactory(HttpTransportOptions options,
                                          std::string content_encoding) {
  auto shared = std::make_shared<const HttpTransportOptions>(std::move(options));
  return [shared, content_encoding = std::move(content_encoding)]() -> Result<TransportPtr> {
    return TransportPtr(new HttpTransport(shared, content_encoding));
  };
}

}  // namespace kubemetrics::push
