// HttpServer with TLS on its port (ServerTlsOptions) on 127.0.0.1, with a
// PKI generated at test time (support/tls_certs.h): HTTPS through the
// agent's own HttpClient, mutual TLS, a certificate rotated while serving,
// Wavefront-style lines over TLS, and what a client that does not speak
// TLS gets.
#include <gtest/gtest.h>
#include <httplib.h>
#include <prometheus/registry.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "common/http/http_server.h"
#include "kubemetrics/http_client.h"
#include "support/process.h"
#include "support/registry_value.h"
#include "support/tls_certs.h"
#include "support/wait_for.h"
#include "unit/common/http/client_test_support.h"

namespace kubemetrics {
namespace {

using testing::get;
using testing::registryValue;
using testing::soon;
using testing::TempDir;
using testing::TlsCerts;

const TlsCerts& certs() { return TlsCerts::shared(); }

// A server named "test" answering "secure" on /hello.
class HttpServerTlsTest : public ::testing::Test {
 protected:
  Result<void> start(ServerTlsOptions tls, LineProtocol lines = {}) {
    HttpServerOptions options;
    options.name = "test";
    options.tls = std::move(tls);
    options.lines = std::move(lines);
    server_ = std::make_unique<HttpServer>(options, &registry_);
    server_->add("/hello", [](const HttpRequest&) {
      HttpResponse response;
      response.body = "secure";
      return response;
    });
    return server_->start("127.0.0.1:0");
  }
  std::string url() const {
    return "https://127.0.0.1:" + std::to_string(server_->port()) + "/hello";
  }
  static HttpClientOptions trusting(const std::string& ca_file) {
    HttpClientOptions options;
    options.tls.ca_file = ca_file;
    return options;
  }
  Result<HttpClientResponse> fetch(const HttpClientOptions& options) {
    HttpClient client(options);
    return client.send(get(url()), soon());
  }
  double handshakeFailures() {
    return registryValue(registry_, "kubemetrics_http_tls_handshake_failures_total",
                         {{"server", "test"}});
  }
  bool waitForHandshakeFailures(double count) {
    testing::waitFor([&] { return handshakeFailures() >= count; });
    return handshakeFailures() == count;
  }

  prometheus::Registry registry_;
  std::unique_ptr<HttpServer> server_;
};

ServerTlsOptions serverCert() {
  ServerTlsOptions tls;
  tls.cert_file = certs().server_cert;
  tls.key_file = certs().server_key;
  return tls;
}

TEST_F(HttpServerTlsTest, ServesHttpsVerifiedAgainstItsCa) {
  ASSERT_TRUE(start(serverCert()));
  auto response = fetch(trusting(certs().ca_cert));
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "secure");
  // Keep-alive over TLS: several requests on one client.
  HttpClient client(trusting(certs().ca_cert));
  for (int i = 0; i < 3; ++i) {
    auto again = client.send(get(url()), soon());
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(again->body, "secure");
  }
  EXPECT_EQ(handshakeFailures(), 0);
  // A client that trusts another CA refuses the server.
  auto untrusted = fetch(trusting(certs().other_ca_cert));
  ASSERT_FALSE(untrusted);
  EXPECT_NE(untrusted.error().message().find("unknown CA"), std::string::npos)
      << untrusted.error().message();
}

TEST_F(HttpServerTlsTest, PlainHttpToATlsPortGetsNoAnswerAndIsCounted) {
  ASSERT_TRUE(start(serverCert()));
  httplib::Client plain("127.0.0.1", server_->port());
  plain.set_read_timeout(5, 0);
  auto answer = plain.Get("/hello");
  EXPECT_FALSE(answer && answer->status == 200);
  EXPECT_TRUE(waitForHandshakeFailures(1)) << handshakeFailures();
  // The port still serves TLS clients.
  auto response = fetch(trusting(certs().ca_cert));
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(response->body, "secure");
}

TEST_F(HttpServerTlsTest, MutualTlsRequiresAClientCertificateOfTheClientCa) {
  ServerTlsOptions tls = serverCert();
  tls.client_ca_file = certs().ca_cert;
  ASSERT_TRUE(start(tls));
  EXPECT_FALSE(fetch(trusting(certs().ca_cert)));  // no client certificate
  EXPECT_TRUE(waitForHandshakeFailures(1)) << handshakeFailures();

  HttpClientOptions with_cert = trusting(certs().ca_cert);
  with_cert.tls.cert_file = certs().client_cert;
  with_cert.tls.key_file = certs().client_key;
  auto response = fetch(with_cert);
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(response->body, "secure");

  // A client certificate from another CA is refused too.
  HttpClientOptions other = trusting(certs().ca_cert);
  other.tls.cert_file = certs().other_server_cert;
  other.tls.key_file = certs().other_server_key;
  EXPECT_FALSE(fetch(other));
  EXPECT_TRUE(waitForHandshakeFailures(2)) << handshakeFailures();
}

TEST_F(HttpServerTlsTest, ARotatedCertificateIsServedFromTheNextConnectionOn) {
  // cert-manager or a Secret update rewrites the files the config names.
  TempDir dir;
  const std::string cert = dir.path() + "/tls.crt";
  const std::string key = dir.path() + "/tls.key";
  std::filesystem::copy_file(certs().server_cert, cert);
  std::filesystem::copy_file(certs().server_key, key);
  ServerTlsOptions tls;
  tls.cert_file = cert;
  tls.key_file = key;
  ASSERT_TRUE(start(tls));
  ASSERT_TRUE(fetch(trusting(certs().ca_cert)));

  // Written as a Secret volume update does: new files renamed into place.
  std::filesystem::copy_file(certs().other_server_cert, cert + ".new");
  std::filesystem::copy_file(certs().other_server_key, key + ".new");
  std::filesystem::rename(key + ".new", key);
  std::filesystem::rename(cert + ".new", cert);
  auto rotated = fetch(trusting(certs().other_ca_cert));
  ASSERT_TRUE(rotated) << rotated.error().message();
  EXPECT_EQ(rotated->body, "secure");
  EXPECT_FALSE(fetch(trusting(certs().ca_cert)));
}

TEST_F(HttpServerTlsTest, StartFailsNamingTheFileItCannotLoad) {
  ServerTlsOptions tls = serverCert();
  tls.key_file = "/nonexistent/tls.key";
  auto started = start(tls);
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message().find("/nonexistent/tls.key"), std::string::npos)
      << started.error().message();
  EXPECT_EQ(server_->port(), 0);
}

// A consumer that records every line, shared with the test.
struct LineRecord {
  std::mutex mu;
  std::string lines;
};

class RecordingLines : public LineConsumer {
 public:
  explicit RecordingLines(LineRecord& record) : record_(record) {}
  void consume(std::string_view lines) override {
    std::lock_guard<std::mutex> lock(record_.mu);
    record_.lines += lines;
  }
  void overlong(std::string_view) override {}
  bool flush() override { return true; }
  void finish(std::string_view, bool) override {}

 private:
  LineRecord& record_;
};

TEST_F(HttpServerTlsTest, LinesAndHttpsShareATlsPort) {
  LineRecord record;
  LineProtocol lines;
  lines.accept = [&record](std::string_view) { return std::make_unique<RecordingLines>(record); };
  ASSERT_TRUE(start(serverCert(), lines));

  namespace net = boost::asio;
  net::io_context ioc;
  net::ssl::context context(net::ssl::context::tls_client);
  context.load_verify_file(certs().ca_cert);
  context.set_verify_mode(net::ssl::verify_peer);
  net::ssl::stream<net::ip::tcp::socket> stream(ioc, context);
  stream.next_layer().connect({net::ip::make_address("127.0.0.1"), server_->port()});
  stream.handshake(net::ssl::stream_base::client);
  const std::string sent = "cpu.load 1 source=a\nmem.used 2 source=b\n";
  net::write(stream, net::buffer(sent));
  EXPECT_TRUE(testing::waitFor([&] {
    std::lock_guard<std::mutex> lock(record.mu);
    return record.lines == sent;
  }));
  boost::system::error_code ignored;
  stream.next_layer().close(ignored);

  auto response = fetch(trusting(certs().ca_cert));
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(response->body, "secure");
}

}  // namespace
}  // namespace kubemetrics
