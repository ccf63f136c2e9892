#pragma once

#include <memory>
#include <string>

#include "common/http/secret_file.h"
#include "kubemetrics/http.h"
#include "kubemetrics/result.h"

namespace kubemetrics {

/// An endpoint's optional token (a listener's or /metrics' `token_file`): a
/// request passes when it carries `Authorization: Bearer <token>` with the
/// file's current content (the file is re-read when it changes:
/// SecretFile). Without a token file every request passes. Thread-safe.
class RequestAuth {
 public:
  /// `what` names the setting in errors. Fails when the file cannot be read.
  static Result<std::unique_ptr<RequestAuth>> create(const std::string& token_file,
                                                     const std::string& what);

  bool required() const { return token_ != nullptr; }
  bool allows(const HttpRequest& request) const;

 private:
  std::unique_ptr<SecretFile> token_;
};

}  // namespace kubemetrics
