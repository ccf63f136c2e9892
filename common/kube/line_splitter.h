#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "kubemetrics/result.h"

namespace kubemetrics::kube {

/// Cuts a WATCH response body, which arrives in chunks of any size, into
/// its newline-terminated lines (one JSON watch event each): a line may span
/// several chunks and a chunk may hold several lines. Empty lines are
/// skipped and a trailing '\r' is dropped. A line longer than `max_line`
/// bytes is an error (kResourceExhausted), so a server that never sends a
/// newline cannot grow the buffer without bound.
///
/// Not thread-safe: one per stream.
class LineSplitter {
 public:
  /// 16 MiB: far above any real object (etcd refuses values over 1.5 MiB).
  static constexpr std::size_t kDefaultMaxLine = 16u * 1024 * 1024;
  using LineHandler = std::function<Result<void>(std::string_view line)>;

  explicit LineSplitter(std::size_t max_line = kDefaultMaxLine) : max_line_(max_line) {}

  /// Hands every line completed by `chunk` to `on_line`; stops at and
  /// returns the first error of `on_line`.
  Result<void> feed(std::string_view chunk, const LineHandler& on_line);
  /// At the end of the stream: the last line when it had no newline.
  Result<void> finish(const LineHandler& on_line);
  /// Bytes held for an incomplete line.
  std::size_t pending() const { return partial_.size(); }
  void reset() { partial_.clear(); }

 private:
  Result<void> emit(std::string_view line, const LineHandler& on_line);

  const std::size_t max_line_;
  std::string partial_;
};

}  // namespace kubemetrics::kube
