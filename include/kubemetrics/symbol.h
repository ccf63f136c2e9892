#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace kubemetrics {

/// An interned, immutable string: every distinct text is stored once per
/// process, so a million series naming `namespace="default"` share one copy.
/// A Symbol is a reference-counted handle (a 32-bit id, so a Label is 8
/// bytes); copying it costs an atomic increment, comparing two is an integer
/// compare. The empty string is the null handle and costs nothing.
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
  Symbol(Symbol&& other) noexcept : id_(other.id_) { other.id_ = 0; }
  Symbol& operator=(const Symbol& other) noexcept;
  Symbol& operator=(Symbol&& other) noexcept;
  ~Symbol();

  std::string_view view() const;
  std::string str() const { return std::string(view()); }
  bool empty() const { return id_ == 0; }
  /// Stable for the lifetime of the text; equal texts give equal ids.
  const void* id() const { return reinterpret_cast<const void*>(std::uintptr_t{id_}); }

  friend bool operator==(const Symbol& a, const Symbol& b) { return a.id_ == b.id_; }

 private:
  explicit Symbol(std::uint32_t id) : id_(id) {}
  friend class SymbolPoolAccess;
  // An index into the pool's id table (agent/core/symbol.cc); 0 is "".
  std::uint32_t id_ = 0;
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
