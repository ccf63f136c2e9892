#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace kubemetrics {

namespace detail {
struct SymbolNode;
}

/// An interned, immutable string: every distinct text is stored once per
/// process, so a million series naming `namespace="default"` share one copy.
/// A Symbol is a reference-counted handle (one pointer); copying it costs an
/// atomic increment, comparing two is a pointer compare. The empty string is
/// the null handle and costs nothing.
///
/// Thread-safe: handles may be created, copied and destroyed on any thread.
/// Texts nobody references any more are freed by sweepInterned() (see
/// labels.h), which the agent calls periodically, so pod churn does not grow
/// memory without bound.
class Symbol {
 public:
  Symbol() = default;
  /// Returns the handle for `text`, creating the pooled copy if needed.
  static Symbol intern(std::string_view text);

  Symbol(const Symbol& other) noexcept;
  Symbol(Symbol&& other) noexcept : node_(other.node_) { other.node_ = nullptr; }
  Symbol& operator=(const Symbol& other) noexcept;
  Symbol& operator=(Symbol&& other) noexcept;
  ~Symbol();

  std::string_view view() const;
  std::string str() const { return std::string(view()); }
  bool empty() const { return node_ == nullptr; }
  /// Stable for the lifetime of the text; equal texts give equal ids.
  const void* id() const { return node_; }

  friend bool operator==(const Symbol& a, const Symbol& b) { return a.node_ == b.node_; }

 private:
  explicit Symbol(detail::SymbolNode* node) : node_(node) {}
  friend class SymbolPoolAccess;
  detail::SymbolNode* node_ = nullptr;
};

/// Number of distinct texts currently pooled (a self-metric).
std::size_t internedSymbolCount();

}  // namespace kubemetrics

template <>
struct std::hash<kubemetrics::Symbol> {
  std::size_t operator()(const kubemetrics::Symbol& s) const noexcept {
    return std::hash<const void*>()(s.id());
  }
};
