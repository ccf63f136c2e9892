// HttpClient over TLS against cpp-httplib SSL servers on 127.0.0.1, with a
// PKI generated at test time (support/tls_certs.h): verification, mutual
// TLS, and TLS files rotated while the client lives.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "kubemetrics/http_client.h"
#include "support/process.h"
#include "support/tls_certs.h"
#include "unit/common/http/client_test_support.h"

namespace kubemetrics {
namespace {

using namespace std::chrono_literals;
using testing::get;
using testing::PortRecorder;
using testing::ServerRunner;
using testing::soon;
using testing::TempDir;
using testing::TlsCerts;

class HttpClientTlsTest : public ::testing::Test {
 protected:
  static const TlsCerts& certs() { return TlsCerts::shared(); }

  // An HTTPS server with the given certificate answering "secure" on /.
  static std::unique_ptr<httplib::SSLServer> makeServer(const std::string& cert,
                                                        const std::string& key,
                                                        const char* client_ca = nullptr) {
    auto server = std::make_unique<httplib::SSLServer>(cert.c_str(), key.c_str(), client_ca);
    EXPECT_TRUE(server->is_valid());
    server->Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("secure", "text/plain");
    });
    return server;
  }

  static HttpClientOptions trusting(const std::string& ca_file) {
    HttpClientOptions options;
    options.tls.ca_file = ca_file;
    return options;
  }

  static Result<HttpClientResponse> fetch(const ServerRunner& runner,
                                          const HttpClientOptions& options) {
    HttpClient client(options);
    return client.send(get(runner.url("/", "https")), soon());
  }
};

TEST_F(HttpClientTlsTest, VerifiesAgainstTheConfiguredCa) {
  auto server = makeServer(certs().server_cert, certs().server_key);
  PortRecorder ports;
  server->Get("/port", [&](const httplib::Request& req, httplib::Response& res) {
    ports.record(req.remote_port);
    res.set_content("p", "text/plain");
  });
  ServerRunner runner(*server);
  auto response = fetch(runner, trusting(certs().ca_cert));
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "secure");

  // Keep-alive works over TLS too.
  HttpClient client(trusting(certs().ca_cert));
  for (int i = 0; i < 3; ++i) {
    auto again = client.send(get(runner.url("/port", "https")), soon());
    ASSERT_TRUE(again.has_value()) << again.error().message();
  }
  EXPECT_EQ(ports.distinct(), 1u);
}

TEST_F(HttpClientTlsTest, VerifiesTheDnsNameGivenAsServerName) {
  auto server = makeServer(certs().server_cert, certs().server_key);
  ServerRunner runner(*server);
  HttpClientOptions options = trusting(certs().ca_cert);
  options.tls.server_name = "localhost";
  auto ok = fetch(runner, options);
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  options.tls.server_name = "kubelet.example.com";
  auto mismatch = fetch(runner, options);
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_NE(mismatch.error().message().find("name mismatch"), std::string::npos)
      << mismatch.error().message();
  EXPECT_NE(mismatch.error().message().find("kubelet.example.com"), std::string::npos);
}

TEST_F(HttpClientTlsTest, UnknownCaIsUnavailableAndSaysSo) {
  auto server = makeServer(certs().server_cert, certs().server_key);
  ServerRunner runner(*server);
  auto response = fetch(runner, trusting(certs().other_ca_cert));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(response.error().message().find("unknown CA"), std::string::npos)
      << response.error().message();
  EXPECT_NE(response.error().message().find(certs().other_ca_cert), std::string::npos)
      << response.error().message();
}

TEST_F(HttpClientTlsTest, ServerCertFromAnotherCaIsRejected) {
  auto server = makeServer(certs().other_server_cert, certs().other_server_key);
  ServerRunner runner(*server);
  auto response = fetch(runner, trusting(certs().ca_cert));
  ASSERT_FALSE(response.has_value());
  EXPECT_NE(response.error().message().find("unknown CA"), std::string::npos)
      << response.error().message();
}

TEST_F(HttpClientTlsTest, ExpiredCertificateIsRejected) {
  auto server = makeServer(certs().expired_cert, certs().expired_key);
  ServerRunner runner(*server);
  auto response = fetch(runner, trusting(certs().ca_cert));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(response.error().message().find("expired"), std::string::npos)
      << response.error().message();
}

TEST_F(HttpClientTlsTest, WrongHostNameIsRejected) {
  auto server = makeServer(certs().wrong_host_cert, certs().wrong_host_key);
  ServerRunner runner(*server);
  auto response = fetch(runner, trusting(certs().ca_cert));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(response.error().message().find("name mismatch"), std::string::npos)
      << response.error().message();
  EXPECT_NE(response.error().message().find("127.0.0.1"), std::string::npos);
}

TEST_F(HttpClientTlsTest, InsecureSkipVerifyAcceptsAnyCertificate) {
  auto server = makeServer(certs().wrong_host_cert, certs().wrong_host_key);
  ServerRunner runner(*server);
  HttpClientOptions options = trusting(certs().other_ca_cert);
  options.tls.insecure_skip_verify = true;
  auto response = fetch(runner, options);
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->body, "secure");
}

TEST_F(HttpClientTlsTest, ClientCertificateForMutualTls) {
  auto server = makeServer(certs().server_cert, certs().server_key, certs().ca_cert.c_str());
  ServerRunner runner(*server);
  HttpClientOptions options = trusting(certs().ca_cert);
  auto without = fetch(runner, options);
  EXPECT_FALSE(without.has_value());
  options.tls.cert_file = certs().client_cert;
  options.tls.key_file = certs().client_key;
  auto with = fetch(runner, options);
  ASSERT_TRUE(with.has_value()) << with.error().message();
  EXPECT_EQ(with->body, "secure");
}

TEST_F(HttpClientTlsTest, MissingCaFileIsInvalidArgument) {
  auto server = makeServer(certs().server_cert, certs().server_key);
  ServerRunner runner(*server);
  auto response = fetch(runner, trusting(certs().dir() + "/no-such-ca.crt"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kInvalidArgument) << response.error().message();
}

// Replaces `path` the way a Secret volume or cert-manager does: a new file
// renamed over the old one.
void replaceFile(const std::string& path, const std::string& from) {
  std::filesystem::copy_file(from, path + ".new",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(path + ".new", path);
}

TEST_F(HttpClientTlsTest, RotatedCaFileIsUsedFromTheNextConnection) {
  auto server = makeServer(certs().server_cert, certs().server_key);
  ServerRunner runner(*server);
  TempDir dir;
  const std::string ca = dir.path() + "/ca.crt";
  std::filesystem::copy_file(certs().other_ca_cert, ca);
  HttpClient client(trusting(ca));  // one client for the whole test
  auto before = client.send(get(runner.url("/", "https")), soon());
  ASSERT_FALSE(before.has_value());
  EXPECT_NE(before.error().message().find("unknown CA"), std::string::npos);
  replaceFile(ca, certs().ca_cert);
  auto after = client.send(get(runner.url("/", "https")), soon());
  ASSERT_TRUE(after.has_value()) << after.error().message();
  EXPECT_EQ(after->body, "secure");
}

TEST_F(HttpClientTlsTest, RotatedClientCertificateIsUsedFromTheNextConnection) {
  auto server = makeServer(certs().server_cert, certs().server_key, certs().ca_cert.c_str());
  ServerRunner runner(*server);
  TempDir dir;
  HttpClientOptions options = trusting(certs().ca_cert);
  options.keep_alive = false;
  options.tls.cert_file = dir.path() + "/tls.crt";
  options.tls.key_file = dir.path() + "/tls.key";
  // A certificate the server does not trust (another CA) first.
  std::filesystem::copy_file(certs().other_server_cert, options.tls.cert_file);
  std::filesystem::copy_file(certs().other_server_key, options.tls.key_file);
  HttpClient client(options);
  EXPECT_FALSE(client.send(get(runner.url("/", "https")), soon()).has_value());
  replaceFile(options.tls.key_file, certs().client_key);
  replaceFile(options.tls.cert_file, certs().client_cert);
  auto after = client.send(get(runner.url("/", "https")), soon());
  ASSERT_TRUE(after.has_value()) << after.error().message();
  EXPECT_EQ(after->body, "secure");
}

TEST_F(HttpClientTlsTest, UnreadableNewTlsFileKeepsThePreviousOne) {
  // A rotation caught half-way (an empty or partial PEM) must not break a
  // client that works.
  auto server = makeServer(certs().server_cert, certs().server_key);
  ServerRunner runner(*server);
  TempDir dir;
  const std::string ca = dir.path() + "/ca.crt";
  std::filesystem::copy_file(certs().ca_cert, ca);
  HttpClientOptions options = trusting(ca);
  options.keep_alive = false;  // every request makes a new connection
  HttpClient client(options);
  ASSERT_TRUE(client.send(get(runner.url("/", "https")), soon()).has_value());
  replaceFile(ca, dir.write("partial.pem", "-----BEGIN CERTIFICATE-----\nMIIB"));
  auto response = client.send(get(runner.url("/", "https")), soon());
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->body, "secure");
}

TEST_F(HttpClientTlsTest, PlainHttpServerFailsTheHandshake) {
  httplib::Server server;
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("plain", "text/plain");
  });
  ServerRunner runner(server);
  auto response = fetch(runner, trusting(certs().ca_cert));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kUnavailable) << response.error().message();
}

}  // namespace
}  // namespace kubemetrics
