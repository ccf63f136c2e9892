#include "common/kube/line_splitter.h"

namespace kubemetrics::kube {

Result<void> LineSplitter::emit(std::string_view line, const LineHandler& on_line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return {};
  return on_line(line);
}

Result<void> LineSplitter::feed(std::string_view chunk, const LineHandler& on_line) {
  while (!chunk.empty()) {
    const std::size_t newline = chunk.find('\n');
    const std::size_t take = newline == std::string_view::npos ? chunk.size() : newline;
    if (partial_.size() + take > max_line_) {
      const std::size_t held = partial_.size() + take;
      partial_.clear();
      return makeError(ErrorCode::kResourceExhausted,
                       "watch event line longer than " + std::to_string(max_line_) +
                           " bytes (at least " + std::to_string(held) + ")");
    }
    if (newline == std::string_view::npos) {
      partial_.append(chunk);
      return {};
    }
    Result<void> handled;
    if (partial_.empty()) {
      // The common case: a whole line inside one chunk, no copy.
      handled = emit(chunk.substr(0, newline), on_line);
    } else {
      partial_.append(chunk.substr(0, newline));
      handled = emit(partial_, on_line);
      partial_.clear();
    }
    if (!handled) return handled;
    chunk.remove_prefix(newline + 1);
  }
  return {};
}

Result<void> LineSplitter::finish(const LineHandler& on_line) {
  std::string last;
  last.swap(partial_);
  return emit(last, on_line);
}

}  // namespace kubemetrics::kube
