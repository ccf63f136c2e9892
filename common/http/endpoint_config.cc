#include "common/http/endpoint_config.h"

namespace kubemetrics {

ServerTlsOptions parseServerTls(ConfigNode& parent) {
  ServerTlsOptions tls;
  if (!parent.has("tls")) return tls;
  ConfigNode node = parent.child("tls");
  tls.cert_file = node.getString("cert_file", "");
  tls.key_file = node.getString("key_file", "");
  tls.client_ca_file = node.getString("client_ca_file", "");
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    node.error(tls.cert_file.empty() ? "cert_file" : "key_file",
               "TLS needs both cert_file and key_file");
    tls = {};
  } else if (!tls.client_ca_file.empty() && tls.cert_file.empty()) {
    node.error("client_ca_file", "needs cert_file and key_file (client certificates need TLS)");
    tls = {};
  }
  node.finish();
  return tls;
}

BasicAuthOptions parseBasicAuth(ConfigNode& parent) {
  BasicAuthOptions basic;
  if (!parent.has("basic_auth")) return basic;
  ConfigNode node = parent.child("basic_auth");
  basic.username = node.getString("username", "");
  basic.password_file = node.getString("password_file", "");
  if (basic.username.empty() != basic.password_file.empty()) {
    node.error(basic.username.empty() ? "username" : "password_file",
               "basic authentication needs both username and password_file");
    basic = {};
  } else if (basic.username.find(':') != std::string::npos) {
    node.error("username", "must not contain ':' (it separates the name from the password)");
    basic = {};
  }
  node.finish();
  return basic;
}

}  // namespace kubemetrics
