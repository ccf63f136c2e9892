// The HttpClient-backed transport lives apart from imds_client.cc so that
// tests driving ImdsClient through a fake transport do not need HttpClient.
#include "imds_client.h"

namespace kubemetrics::scrapers::ec2 {
namespace {

class HttpTransport final : public ImdsTransport {
 public:
  explicit HttpTransport(HttpClientOptions options) : client_(std::move(options)) {}

  // kubemetrics::scrapers::ec2::ImdsTransport
  Result<HttpClientResponse> send(const HttpClientRequest& request, Deadline deadline) override {
    return client_.send(request, deadline);
  }

 private:
  HttpClient client_;
};

}  // namespace

std::unique_ptr<ImdsTransport> makeHttpTransport(std::chrono::milliseconds connect_timeout) {
  HttpClientOptions options;
  options.connect_timeout = connect_timeout;
  // IMDS documents are tiny; anything big is not IMDS.
  options.max_response_bytes = 1024 * 1024;
  options.accept_gzip = false;
  options.keep_alive = true;
  return std::make_unique<HttpTransport>(std::move(options));
}

}  // namespace kubemetrics::scrapers::ec2
