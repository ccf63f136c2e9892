#pragma once

#include <string>
#include <tl/expected.hpp>
#include <utility>

namespace kubemetrics {

/// What went wrong, coarse enough for callers to choose a reaction.
enum class ErrorCode {
  kInvalidArgument,    // bad input or config; retrying the same input fails again
  kUnavailable,        // peer down, refused, reset: worth retrying
  kTimeout,            // deadline passed: worth retrying
  kPermissionDenied,   // 401/403 and the like: retrying without a fix fails
  kResourceExhausted,  // a bound was hit (queue full, body too large)
  kDataLoss,           // corrupt or truncated data
  kInternal,           // a bug or an unexpected library failure
};

/// An error value: a code, a message with context, and whether a retry may
/// succeed. Immutable value type; safe to copy between threads.
class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool retryable() const {
    return code_ == ErrorCode::kUnavailable || code_ == ErrorCode::kTimeout ||
           code_ == ErrorCode::kResourceExhausted;
  }

 private:
  ErrorCode code_;
  std::string message_;
};

/// Hot-path error handling without exceptions. tl::expected has the API of
/// C++23 std::expected, so switching later is a one-alias change.
template <class T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> makeError(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}

}  // namespace kubemetrics
