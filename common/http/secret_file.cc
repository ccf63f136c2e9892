#include "common/http/secret_file.h"

#include <fstream>
#include <iterator>
#include <utility>

#include "kubemetrics/log.h"

namespace kubemetrics {

SecretFile::SecretFile(std::string path, std::string what)
    : path_(std::move(path)), what_(std::move(what)) {}

Result<void> SecretFile::load() {
  MutexLock lock(mu_);
  const auto signature = FileSignature::of(path_);
  if (!signature) {
    return makeError(ErrorCode::kInvalidArgument, what_ + ": cannot read " + path_);
  }
  return reloadLocked(*signature);
}

Result<std::string> SecretFile::value() {
  MutexLock lock(mu_);
  const auto signature = FileSignature::of(path_);
  if (signature && signature != signature_) {
    if (auto reloaded = reloadLocked(*signature); !reloaded) {
      if (!value_) return tl::unexpected(reloaded.error());
      logWarn("secret") << reloaded.error().message() << "; keeping the previous value";
    }
  }
  if (!value_) return makeError(ErrorCode::kInvalidArgument, what_ + ": cannot read " + path_);
  return *value_;
}

int SecretFile::reads() const {
  MutexLock lock(mu_);
  return reads_;
}

Result<void> SecretFile::reloadLocked(const FileSignature& signature) {
  // Remembered even when the read fails, so a broken file is reported once
  // per change, not on every request.
  signature_ = signature;
  std::ifstream in(path_, std::ios::binary);
  if (!in) return makeError(ErrorCode::kInvalidArgument, what_ + ": cannot read " + path_);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty())
    return makeError(ErrorCode::kInvalidArgument, what_ + ": " + path_ + " is empty");
  value_ = std::move(text);
  ++reads_;
  return {};
}

}  // namespace kubemetrics
