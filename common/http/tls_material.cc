#include "common/http/tls_material.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <utility>

#include "kubemetrics/log.h"

namespace kubemetrics {

namespace ssl = boost::asio::ssl;

std::vector<std::optional<FileSignature>> TlsMaterial::signatures() const {
  std::vector<std::optional<FileSignature>> result;
  for (const std::string* path : {&options_.ca_file, &options_.cert_file, &options_.key_file}) {
    if (!path->empty()) result.push_back(FileSignature::of(*path));
  }
  return result;
}

Result<std::shared_ptr<ssl::context>> TlsMaterial::context() {
  auto now = signatures();
  if (context_ && now == built_from_) return context_;
  auto built = build();
  if (!built) {
    if (!context_) return tl::unexpected(built.error());
    logWarn("http") << built.error().message() << "; keeping the TLS material loaded before";
    built_from_ = std::move(now);  // warned once per change
    return context_;
  }
  context_ = std::make_shared<ssl::context>(std::move(*built));
  built_from_ = std::move(now);
  return context_;
}

Result<ssl::context> TlsMaterial::build() const {
  const TlsOptions& tls = options_;
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  boost::system::error_code ec;
  if (tls.insecure_skip_verify) {
    ctx.set_verify_mode(ssl::verify_none);
  } else {
    ctx.set_verify_mode(ssl::verify_peer);
    if (!tls.ca_file.empty()) {
      ctx.load_verify_file(tls.ca_file, ec);
      if (ec) {
        return makeError(ErrorCode::kInvalidArgument,
                         "tls: cannot load ca_file " + tls.ca_file + ": " + ec.message());
      }
    } else {
      ctx.set_default_verify_paths(ec);
      if (ec) {
        return makeError(ErrorCode::kInternal, "tls: cannot load the system CAs: " + ec.message());
      }
    }
  }
  if (!tls.cert_file.empty() || !tls.key_file.empty()) {
    if (tls.cert_file.empty() || tls.key_file.empty()) {
      return makeError(ErrorCode::kInvalidArgument,
                       "tls: a client certificate needs both cert_file and key_file");
    }
    ctx.use_certificate_chain_file(tls.cert_file, ec);
    if (ec) {
      return makeError(ErrorCode::kInvalidArgument,
                       "tls: cannot load cert_file " + tls.cert_file + ": " + ec.message());
    }
    ctx.use_private_key_file(tls.key_file, ssl::context::pem, ec);
    if (ec) {
      return makeError(ErrorCode::kInvalidArgument,
                       "tls: cannot load key_file " + tls.key_file + ": " + ec.message());
    }
  }
  return ctx;
}

std::string describeVerifyFailure(long result, const std::string& ca_file,
                                  const std::string& name) {
  switch (result) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return ca_file.empty()
                 ? "unknown CA (the server's certificate is not signed by a system CA)"
                 : "unknown CA (the server's certificate is not signed by the configured CA " +
                       ca_file + ")";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "name mismatch (the certificate is not valid for " + name + ")";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate is not yet valid";
    default:
      return X509_verify_cert_error_string(result);
  }
}

}  // namespace kubemetrics
