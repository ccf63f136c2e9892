#include "common/http/tls_material.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <utility>

#include "kubemetrics/log.h"

namespace kubemetrics {

namespace ssl = boost::asio::ssl;

namespace {

std::vector<std::string> nonEmpty(std::initializer_list<const std::string*> paths) {
  std::vector<std::string> files;
  for (const std::string* path : paths) {
    if (!path->empty()) files.push_back(*path);
  }
  return files;
}

// Both roles: TLS 1.2 at least, no compression (CRIME).
ssl::context baseContext(ssl::context::method method) {
  ssl::context ctx(method);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  return ctx;
}

Result<void> loadKeyPair(ssl::context& ctx, const std::string& cert_file,
                         const std::string& key_file) {
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cert_file, ec);
  if (ec) {
    return makeError(ErrorCode::kInvalidArgument,
                     "tls: cannot load cert_file " + cert_file + ": " + ec.message());
  }
  ctx.use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) {
    return makeError(ErrorCode::kInvalidArgument,
                     "tls: cannot load key_file " + key_file + ": " + ec.message());
  }
  return {};
}

Result<ssl::context> buildClient(const TlsOptions& tls) {
  ssl::context ctx = baseContext(ssl::context::tls_client);
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
    if (auto loaded = loadKeyPair(ctx, tls.cert_file, tls.key_file); !loaded) {
      return tl::unexpected(loaded.error());
    }
  }
  return ctx;
}

Result<ssl::context> buildServer(const ServerTlsOptions& tls) {
  ssl::context ctx = baseContext(ssl::context::tls_server);
  if (auto loaded = loadKeyPair(ctx, tls.cert_file, tls.key_file); !loaded) {
    return tl::unexpected(loaded.error());
  }
  if (!tls.client_ca_file.empty()) {
    boost::system::error_code ec;
    ctx.load_verify_file(tls.client_ca_file, ec);
    if (ec) {
      return makeError(ErrorCode::kInvalidArgument, "tls: cannot load client_ca_file " +
                                                        tls.client_ca_file + ": " + ec.message());
    }
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return ctx;
}

}  // namespace

TlsMaterial::TlsMaterial(TlsOptions options)
    : TlsMaterial(nonEmpty({&options.ca_file, &options.cert_file, &options.key_file}),
                  [options] { return buildClient(options); }) {}

TlsMaterial::TlsMaterial(ServerTlsOptions options)
    : TlsMaterial(nonEmpty({&options.cert_file, &options.key_file, &options.client_ca_file}),
                  [options] { return buildServer(options); }) {}

TlsMaterial::TlsMaterial(std::vector<std::string> files, Build build)
    : files_(std::move(files)), build_(std::move(build)) {}

std::vector<std::optional<FileSignature>> TlsMaterial::signatures() const {
  std::vector<std::optional<FileSignature>> result;
  result.reserve(files_.size());
  for (const std::string& path : files_) result.push_back(FileSignature::of(path));
  return result;
}

Result<std::shared_ptr<ssl::context>> TlsMaterial::context() {
  auto now = signatures();
  if (context_ && now == built_from_) return context_;
  auto built = build_();
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
