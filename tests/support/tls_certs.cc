#include "support/tls_certs.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace kubemetrics::testing {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct CertFree {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free_all(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

[[noreturn]] void fail(const std::string& what) {
  std::string message = "TlsCerts: " + what;
  if (const unsigned long e = ERR_get_error(); e != 0) {
    char buffer[256];
    ERR_error_string_n(e, buffer, sizeof buffer);
    message += ": ";
    message += buffer;
  }
  ERR_clear_error();
  throw std::runtime_error(message);
}

KeyPtr newKey() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) fail("EC key generation failed");
  return key;
}

struct CertSpec {
  std::string common_name;
  bool is_ca = false;
  std::string san;                    // "IP:127.0.0.1,DNS:localhost", or "" for none
  std::string extended_key_usage;     // "serverAuth", "clientAuth", or ""
  long not_before_offset = -3600;     // seconds from now
  long not_after_offset = 24 * 3600;  // seconds from now
};

void addExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (!ext) fail("extension " + std::string(OBJ_nid2sn(nid)) + "=" + value);
  const int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (added != 1) fail("X509_add_ext");
}

// A certificate for `key`, signed by `issuer_key` (and named after
// `issuer`), or self-signed when `issuer` is null.
CertPtr makeCert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  CertPtr cert(X509_new());
  if (!cert) fail("X509_new");
  X509_set_version(cert.get(), 2);  // v3
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) fail("RAND_bytes");
  serial_bytes[0] &= 0x7f;  // positive
  BIGNUM* serial = BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr);
  if (!serial || !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()))) {
    BN_free(serial);
    fail("serial number");
  }
  BN_free(serial);
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before_offset) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after_offset)) {
    fail("validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("kubemetrics tests"), -1, -1,
                             0);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                                 -1, -1, 0) != 1) {
    fail("subject name");
  }
  if (X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name) != 1) {
    fail("issuer name");
  }
  if (X509_set_pubkey(cert.get(), key) != 1) fail("X509_set_pubkey");

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  if (spec.is_ca) {
    addExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
    addExtension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    addExtension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  }
  addExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  addExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  if (!spec.extended_key_usage.empty()) {
    addExtension(cert.get(), &ctx, NID_ext_key_usage, spec.extended_key_usage);
  }
  if (!spec.san.empty()) addExtension(cert.get(), &ctx, NID_subject_alt_name, spec.san);

  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) <= 0) fail("X509_sign");
  return cert;
}

void writeCert(const std::string& path, X509* cert) {
  BioPtr bio(BIO_new_file(path.c_str(), "w"));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) fail("writing " + path);
}

void writeKey(const std::string& path, EVP_PKEY* key) {
  BioPtr bio(BIO_new_file(path.c_str(), "w"));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    fail("writing " + path);
  }
}

// ::1 too, for fake upstreams of an IPv6 node (a kubelet at [::1]).
constexpr const char* kServerNames = "IP:127.0.0.1,IP:::1,DNS:localhost";

}  // namespace

TlsCerts::TlsCerts() {
  if (dir_.path().empty()) throw std::runtime_error("TlsCerts: cannot create a temp directory");
  const std::string base = dir_.path() + "/";

  struct Issued {
    KeyPtr key;
    CertPtr cert;
  };
  auto issue = [&](const CertSpec& spec, const Issued* issuer, const std::string& stem,
                   std::string& cert_path, std::string& key_path) {
    Issued out{newKey(), nullptr};
    out.cert = makeCert(spec, out.key.get(), issuer ? issuer->cert.get() : nullptr,
                        issuer ? issuer->key.get() : nullptr);
    cert_path = base + stem + ".crt";
    key_path = base + stem + ".key";
    writeCert(cert_path, out.cert.get());
    writeKey(key_path, out.key.get());
    return out;
  };

  CertSpec ca_spec;
  ca_spec.common_name = "kubemetrics test CA";
  ca_spec.is_ca = true;
  ca_spec.not_after_offset = 7 * 24 * 3600;
  const Issued ca = issue(ca_spec, nullptr, "ca", ca_cert, ca_key);

  CertSpec other_ca_spec = ca_spec;
  other_ca_spec.common_name = "kubemetrics other test CA";
  const Issued other_ca = issue(other_ca_spec, nullptr, "other-ca", other_ca_cert, other_ca_key);

  CertSpec server_spec;
  server_spec.common_name = "127.0.0.1";
  server_spec.san = kServerNames;
  server_spec.extended_key_usage = "serverAuth";
  issue(server_spec, &ca, "server", server_cert, server_key);
  issue(server_spec, &other_ca, "other-server", other_server_cert, other_server_key);

  CertSpec expired_spec = server_spec;
  expired_spec.not_before_offset = -3 * 24 * 3600;
  expired_spec.not_after_offset = -24 * 3600;
  issue(expired_spec, &ca, "expired", expired_cert, expired_key);

  CertSpec wrong_spec = server_spec;
  wrong_spec.common_name = "wrong.example.com";
  wrong_spec.san = "DNS:wrong.example.com";
  issue(wrong_spec, &ca, "wrong-host", wrong_host_cert, wrong_host_key);

  CertSpec client_spec;
  client_spec.common_name = "kubemetrics-test-client";
  client_spec.extended_key_usage = "clientAuth";
  issue(client_spec, &ca, "client", client_cert, client_key);
}

const TlsCerts& TlsCerts::shared() {
  static const TlsCerts certs;  // C++11 magic static: thread-safe
  return certs;
}

}  // namespace kubemetrics::testing
