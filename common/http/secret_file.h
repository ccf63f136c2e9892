#pragma once

#include <optional>
#include <string>

#include "common/core/file_signature.h"
#include "kubemetrics/mutex.h"
#include "kubemetrics/result.h"

namespace kubemetrics {

/// A credential kept in a file (a bearer token, a password) that may be
/// rotated while the agent runs: a service-account token is refreshed
/// hourly, a Secret volume is swapped on update. value() re-reads the file
/// whenever its FileSignature changed since the last read, so the next
/// request after a rotation carries the new secret, and costs one stat()
/// otherwise. Trailing newlines are trimmed (files written by `echo` and
/// most Secrets end in one).
///
/// When a re-read fails (the file is briefly missing during a swap, or
/// empty) the last good value is kept and the error is returned only if
/// there never was one: a rotation never turns into an outage.
///
/// Thread-safe: one mutex; senders on several threads share one instance.
class SecretFile {
 public:
  /// `what` names the setting in error messages ("exporters.remote_write.
  /// bearer_token_file").
  SecretFile(std::string path, std::string what);

  /// Reads the file for the first time: the error is a start-up error
  /// (unreadable or empty file).
  Result<void> load();
  /// The current secret, re-read if the file changed. Errors only when no
  /// read ever succeeded.
  Result<std::string> value();
  /// Successful reads since construction (1 after load()): tests and logs.
  int reads() const;

 private:
  Result<void> reloadLocked(const FileSignature& signature) KM_REQUIRES(mu_);

  const std::string path_;
  const std::string what_;
  mutable Mutex mu_;
  std::optional<FileSignature> signature_ KM_GUARDED_BY(mu_);
  std::optional<std::string> value_ KM_GUARDED_BY(mu_);
  int reads_ KM_GUARDED_BY(mu_) = 0;
};

}  // namespace kubemetrics
