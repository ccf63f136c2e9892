#pragma once

#include <string>

#include "support/process.h"

namespace kubemetrics::testing {

/// A small PKI generated at test time with the OpenSSL C API (EC P-256
/// keys, SHA-256 signatures, a few milliseconds), written as PEM files into
/// a temporary directory that lives as long as the object. For fake HTTPS
/// upstreams (httplib::SSLServer(cert, key)) and the clients that talk to
/// them:
///
///   const auto& certs = TlsCerts::shared();
///   httplib::SSLServer server(certs.server_cert.c_str(), certs.server_key.c_str());
///   options.tls.ca_file = certs.ca_cert;   // verifies: 127.0.0.1, ::1 and localhost
///
/// Every server certificate below except other_server_* is signed by `ca`.
/// The constructor throws std::runtime_error when OpenSSL or the file system
/// fails. Immutable after construction; the paths are absolute.
class TlsCerts {
 public:
  TlsCerts();
  TlsCerts(const TlsCerts&) = delete;
  TlsCerts& operator=(const TlsCerts&) = delete;

  /// One set per test process, generated on first use; thread-safe.
  static const TlsCerts& shared();

  const std::string& dir() const { return dir_.path(); }

  // The CA that signs the server certificates (CN "kubemetrics test CA").
  std::string ca_cert;
  std::string ca_key;
  // Valid for IPs 127.0.0.1 and ::1 and DNS localhost (SAN), serverAuth, 1 day.
  std::string server_cert;
  std::string server_key;
  // An unrelated CA (CN "kubemetrics other test CA"): a client that trusts
  // only this one rejects server_cert as "unknown CA".
  std::string other_ca_cert;
  std::string other_ca_key;
  // Signed by other_ca, valid for 127.0.0.1, ::1 and localhost: a server with
  // this certificate is rejected by a client that trusts only `ca`.
  std::string other_server_cert;
  std::string other_server_key;
  // Signed by `ca`, for 127.0.0.1, ::1 and localhost, expired yesterday.
  std::string expired_cert;
  std::string expired_key;
  // Signed by `ca`, valid in time, but only for DNS wrong.example.com.
  std::string wrong_host_cert;
  std::string wrong_host_key;
  // Signed by `ca`, clientAuth, CN "kubemetrics-test-client": for mutual TLS.
  std::string client_cert;
  std::string client_key;

 private:
  TempDir dir_;
};

}  // namespace kubemetrics::testing
