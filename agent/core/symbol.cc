#include "kubemetrics/symbol.h"

#include <atomic>
#include <string>

#include "core/intern_pool.h"

namespace kubemetrics {
namespace detail {

struct SymbolNode {
  std::atomic<std::uint32_t> refs{0};
  std::size_t hash = 0;
  std::string text;
  std::string_view key() const { return text; }
};

struct StringViewHash {
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>()(s);
  }
};

using SymbolPool = InternPool<SymbolNode, std::string_view, StringViewHash>;

SymbolPool& symbolPool() {
  // Leaked on purpose: handles in static objects may outlive any destructor
  // order we could choose.
  static auto* pool = new SymbolPool();
  return *pool;
}

std::size_t sweepSymbols() { return symbolPool().sweep(); }

}  // namespace detail

Symbol Symbol::intern(std::string_view text) {
  if (text.empty()) return Symbol();
  const std::size_t hash = detail::StringViewHash()(text);
  return Symbol(detail::symbolPool().intern(text, hash, [&] {
    auto* node = new detail::SymbolNode();
    node->text.assign(text);
    return node;
  }));
}

Symbol::Symbol(const Symbol& other) noexcept : node_(other.node_) {
  detail::SymbolPool::acquire(node_);
}

Symbol& Symbol::operator=(const Symbol& other) noexcept {
  detail::SymbolPool::acquire(other.node_);
  detail::SymbolPool::release(node_);
  node_ = other.node_;
  return *this;
}

Symbol& Symbol::operator=(Symbol&& other) noexcept {
  if (this != &other) {
    detail::SymbolPool::release(node_);
    node_ = other.node_;
    other.node_ = nullptr;
  }
  return *this;
}

Symbol::~Symbol() { detail::SymbolPool::release(node_); }

std::string_view Symbol::view() const {
  return node_ ? std::string_view(node_->text) : std::string_view();
}

std::size_t internedSymbolCount() { return detail::symbolPool().size(); }

}  // namespace kubemetrics
