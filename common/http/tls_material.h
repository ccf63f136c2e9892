#pragma once

#include <boost/asio/ssl/context.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/core/file_signature.h"
#include "common/http/http_server.h"
#include "kubemetrics/http_client.h"
#include "kubemetrics/result.h"

namespace kubemetrics {

/// The TLS context of an HttpClient (built from its TlsOptions: verify
/// mode, CA bundle or the system CAs, client certificate and key) or of an
/// HttpServer (ServerTlsOptions: certificate chain and key, and the CA that
/// client certificates must be signed by, if any). Built at first use and
/// built again when one of its files changes (checked by FileSignature at
/// every new connection), so a CA that appears later or a rotated
/// certificate (cert-manager, a Secret update) is used from the next
/// connection on without a restart. A rebuild that fails (a file caught
/// half-written) keeps the previous context and logs a warning once per
/// change; only without a previous one is it an error.
///
/// Contexts are shared: a connection keeps the one it was made with for
/// its lifetime, whatever a later reload does.
///
/// Not thread-safe: owned by one HttpClient, or by one HttpServer's
/// acceptor, and used on its thread or strand.
class TlsMaterial {
 public:
  explicit TlsMaterial(TlsOptions options);
  explicit TlsMaterial(ServerTlsOptions options);

  /// The context for a new connection. Errors (kInvalidArgument naming the
  /// file, kInternal for the system CAs) only when none was ever built.
  Result<std::shared_ptr<boost::asio::ssl::context>> context();

 private:
  using Build = std::function<Result<boost::asio::ssl::context>()>;
  TlsMaterial(std::vector<std::string> files, Build build);
  std::vector<std::optional<FileSignature>> signatures() const;

  const std::vector<std::string> files_;  // the files it is built from
  const Build build_;
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::vector<std::optional<FileSignature>> built_from_;  // the files' signatures then
};

/// The reason of a failed certificate verification (an X509_V_ERR_* code),
/// in words an operator can act on: "unknown CA (... ca_file)", "name
/// mismatch (... `name`)", "certificate has expired", ...
std::string describeVerifyFailure(long result, const std::string& ca_file, const std::string& name);

}  // namespace kubemetrics
