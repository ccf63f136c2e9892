#pragma once

#include <memory>
#include <string>

#include "common/http/secret_file.h"
#include "kubemetrics/http.h"
#include "kubemetrics/result.h"

namespace kubemetrics {

/// HTTP basic authentication an endpoint accepts (`basic_auth:`): one user
/// name, its password in a file. Plain value type.
struct BasicAuthOptions {
  std::string username;       // empty: no basic authentication
  std::string password_file;  // re-read when it changes
};

/// The credentials an endpoint accepts: `token_file` and `basic_auth`
/// (either may be unset). Plain value type.
struct EndpointCredentials {
  std::string token_file;
  BasicAuthOptions basic_auth;
};

/// An endpoint's optional authentication (/metrics', a listener's): a
/// request passes when it carries `Authorization: Bearer <token>` with the
/// token file's current content, or `Authorization: Basic` with the user
/// name and the password file's current content (files re-read when they
/// change: SecretFile). Compared in constant time. With neither set every
/// request passes. Thread-safe.
class RequestAuth {
 public:
  /// `config_path` ("exporters.prometheus") prefixes the setting in
  /// errors. Fails when a file cannot be read.
  static Result<std::unique_ptr<RequestAuth>> create(const EndpointCredentials& credentials,
                                                     const std::string& config_path);

  bool required() const { return token_ != nullptr || password_ != nullptr; }
  bool allows(const HttpRequest& request) const;
  /// The WWW-Authenticate value of a 401: the accepted schemes.
  std::string challenge() const;
  /// For a 401's body: what the client should send.
  std::string expected() const;

 private:
  bool allowsBearer(std::string_view credentials) const;
  bool allowsBasic(std::string_view credentials) const;

  std::unique_ptr<SecretFile> token_;
  std::string username_;
  std::unique_ptr<SecretFile> password_;
};

}  // namespace kubemetrics
