#include "common/kube/api_client.h"

#include <limits>

#include "common/kube/line_splitter.h"

namespace kubemetrics::kube {
namespace {

// A LIST page of 500 pods is a few MiB; this only stops a runaway body.
constexpr std::size_t kMaxListBody = 256u * 1024 * 1024;
// What is kept of a body that is not a watch stream (a Status object).
constexpr std::size_t kMaxErrorBody = 64 * 1024;
constexpr std::size_t kExcerpt = 300;

HttpClientOptions clientOptions(const KubeApiConfig& config) {
  HttpClientOptions options;
  // Watch streams run for minutes and add up: the limits that matter are
  // per page (kMaxListBody) and per line (LineSplitter).
  options.max_response_bytes = std::numeric_limits<std::size_t>::max();
  options.connect_timeout = std::min(options.connect_timeout, config.request_timeout);
  options.tls.insecure_skip_verify = config.insecure_skip_verify;
  options.tls.ca_file = config.insecure_skip_verify ? std::string() : config.ca_file;
  return options;
}

std::string excerpt(std::string_view body) {
  std::string out(body.substr(0, kExcerpt));
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace

std::string ApiError::reason() const {
  switch (failure) {
    case ApiFailure::kGone:
      return "gone";
    case ApiFailure::kUnauthorized:
      return "unauthorized";
    case ApiFailure::kHttpStatus:
      return "http_" + std::to_string(http_status);
    case ApiFailure::kConnect:
      return "connect";
    case ApiFailure::kTimeout:
      return "timeout";
    case ApiFailure::kDecode:
      return "decode";
    case ApiFailure::kStopped:
      return "stopped";
  }
  return "unknown";
}

std::string encodeQueryValue(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '.' || u == '_' || u == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

KubeApiClient::KubeApiClient(const KubeApiConfig& config, std::string server, SecretFile* token)
    : server_(std::move(server)), token_(token), http_(clientOptions(config)) {}

void KubeApiClient::cancel() { http_.cancel(); }

HttpClientRequest KubeApiClient::request(const std::string& path_and_query) const {
  HttpClientRequest request;
  request.url = server_ + path_and_query;
  request.headers.emplace_back("Accept", "application/json");
  if (token_ != nullptr) {
    // Errors only when the file was never read, which acquire() rules out;
    // without a token the server answers 401, which is counted.
    if (Result<std::string> token = token_->value(); token) {
      request.headers.emplace_back("Authorization", "Bearer " + *token);
    }
  }
  return request;
}

ApiError KubeApiClient::fromHttpError(const Error& error, const std::string& what) const {
  ApiFailure failure = ApiFailure::kConnect;
  if (error.code() == ErrorCode::kTimeout) failure = ApiFailure::kTimeout;
  if (error.code() == ErrorCode::kResourceExhausted) failure = ApiFailure::kDecode;
  return ApiError{failure, 0, what + ": " + error.message()};
}

ApiError KubeApiClient::fromStatus(int status, std::string_view body,
                                   const std::string& what) const {
  ApiFailure failure = ApiFailure::kHttpStatus;
  if (status == 410) failure = ApiFailure::kGone;
  if (status == 401) failure = ApiFailure::kUnauthorized;
  std::string message = what + ": HTTP " + std::to_string(status);
  if (status == 401) message += " (the bearer token was rejected, also after re-reading it)";
  if (status == 403) {
    message += " (the service account lacks RBAC permission list/watch on this resource)";
  }
  if (!body.empty()) message += ": " + excerpt(body);
  return ApiError{failure, status, std::move(message)};
}

ApiResult<std::string> KubeApiClient::get(const std::string& path_and_query, Deadline deadline) {
  const std::string what = "GET " + server_ + path_and_query;
  for (int attempt = 0;; ++attempt) {
    std::string body;
    bool too_large = false;
    Result<HttpClientResponse> response =
        http_.send(request(path_and_query), deadline, [&](std::string_view chunk) -> Result<void> {
          if (chunk.size() > kMaxListBody - body.size()) {
            too_large = true;
            return makeError(ErrorCode::kResourceExhausted, "body too large");
          }
          body.append(chunk);
          return {};
        });
    if (too_large) {
      return tl::unexpected(
          ApiError{ApiFailure::kDecode, 0,
                   what + ": body exceeds " + std::to_string(kMaxListBody) + " bytes"});
    }
    if (!response) return tl::unexpected(fromHttpError(response.error(), what));
    const int status = response->status;
    // A rotated token may not have been seen yet (same-second rewrite):
    // read it again and try once more.
    if (status == 401 && attempt == 0) continue;
    if (status >= 200 && status < 300) return body;
    return tl::unexpected(fromStatus(status, body, what));
  }
}

ApiResult<void> KubeApiClient::watch(
    const std::string& path_and_query, Deadline deadline,
    const std::function<LineVerdict(std::string_view line)>& on_line) {
  const std::string what = "GET " + server_ + path_and_query;
  for (int attempt = 0;; ++attempt) {
    LineSplitter splitter;
    bool applied_any = false;
    bool stopped = false;
    std::string unparsed;  // lines on_line could not parse, before any event
    std::optional<ApiError> failed;
    const LineSplitter::LineHandler handle_line = [&](std::string_view line) -> Result<void> {
      if (!unparsed.empty()) {
        // Already collecting an error body: keep it, bounded.
        if (unparsed.size() + line.size() > kMaxErrorBody) {
          failed =
              ApiError{ApiFailure::kDecode, 0, what + ": not a watch event: " + excerpt(unparsed)};
          return makeError(ErrorCode::kDataLoss, "not a watch stream");
        }
        unparsed.append(line).push_back('\n');
        return {};
      }
      switch (on_line(line)) {
        case LineVerdict::kApplied:
          applied_any = true;
          return {};
        case LineVerdict::kStop:
          stopped = true;
          return makeError(ErrorCode::kUnavailable, "stopped by the watch handler");
        case LineVerdict::kUnparsable:
          break;
      }
      if (applied_any) {
        // The status was 200: this is a bad event.
        failed =
            ApiError{ApiFailure::kDecode, 0, what + ": undecodable watch event: " + excerpt(line)};
        return makeError(ErrorCode::kDataLoss, "undecodable watch event");
      }
      unparsed.assign(line).push_back('\n');
      return {};
    };
    Result<HttpClientResponse> response =
        http_.send(request(path_and_query), deadline, [&](std::string_view chunk) -> Result<void> {
          if (Result<void> fed = splitter.feed(chunk, handle_line); !fed) {
            if (!failed && !stopped) {
              failed = ApiError{ApiFailure::kDecode, 0, what + ": " + fed.error().message()};
            }
            return fed;
          }
          return {};
        });
    if (stopped) return tl::unexpected(ApiError{ApiFailure::kStopped, 0, what + ": stopped"});
    if (response && !failed) {
      if (Result<void> last = splitter.finish(handle_line); !last && !stopped && !failed) {
        failed = ApiError{ApiFailure::kDecode, 0, what + ": " + last.error().message()};
      }
      if (stopped) return tl::unexpected(ApiError{ApiFailure::kStopped, 0, what + ": stopped"});
    }
    if (!response) {
      if (failed) return tl::unexpected(*failed);
      return tl::unexpected(fromHttpError(response.error(), what));
    }
    const int status = response->status;
    if (status == 401 && attempt == 0) continue;
    if (status < 200 || status >= 300) return tl::unexpected(fromStatus(status, unparsed, what));
    if (failed) return tl::unexpected(*failed);
    if (!unparsed.empty()) {
      return tl::unexpected(
          ApiError{ApiFailure::kDecode, 0, what + ": not a watch event: " + excerpt(unparsed)});
    }
    return {};
  }
}

}  // namespace kubemetrics::kube
