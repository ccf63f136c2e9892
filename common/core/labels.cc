#include "kubemetrics/labels.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <vector>

#include "common/core/intern_pool.h"

namespace kubemetrics {
namespace detail {

std::size_t sweepSymbols();

namespace {

// Symbols are interned, so hashing their identities (32-bit ids) hashes the
// texts.
std::uint64_t hashLabels(std::span<const Label> labels) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const Label& l : labels) {
    const auto name = reinterpret_cast<std::uintptr_t>(l.name.id());
    const auto value = reinterpret_cast<std::uintptr_t>(l.value.id());
    h = (h ^ ((std::uint64_t{name} << 32) | value)) * 0x100000001b3ULL;
  }
  // MurmurHash3's finalizer: the pool uses the low, middle and high bits.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace

// One allocation per set: this header, then the labels. 8 + 8 * n bytes.
struct LabelsNode {
  std::atomic<std::uint32_t> refs{0};
  std::uint32_t size = 0;

  const Label* labels() const { return std::launder(reinterpret_cast<const Label*>(this + 1)); }
  std::span<const Label> items() const { return {labels(), size}; }

  static LabelsNode* create(std::span<const Label> labels) {
    void* memory = ::operator new(sizeof(LabelsNode) + labels.size() * sizeof(Label));
    auto* node = new (memory) LabelsNode();
    node->size = static_cast<std::uint32_t>(labels.size());
    std::uninitialized_copy(labels.begin(), labels.end(), reinterpret_cast<Label*>(node + 1));
    return node;
  }
  static void destroy(LabelsNode* node) {
    std::destroy_n(std::launder(reinterpret_cast<Label*>(node + 1)), node->size);
    node->~LabelsNode();
    ::operator delete(node);
  }
};
static_assert(sizeof(LabelsNode) % alignof(Label) == 0, "labels follow the header");

struct LabelsTraits {
  using Ref = LabelsNode*;
  using Key = std::span<const Label>;
  struct ShardState {};
  static std::atomic<std::uint32_t>& refs(Ref node) { return node->refs; }
  static std::uint64_t hash(Ref node) { return hashLabels(node->items()); }
  static bool equals(Ref node, const Key& key) {
    return std::equal(key.begin(), key.end(), node->labels(), node->labels() + node->size);
  }
  static void destroy(Ref node, ShardState&) { LabelsNode::destroy(node); }
};

using LabelsPool = InternPool<LabelsTraits>;

LabelsPool& labelsPool() {
  static auto* pool = new LabelsPool();  // leaked on purpose, like the symbol pool
  return *pool;
}

}  // namespace detail

Labels::Labels(const Labels& other) noexcept : node_(other.node_) {
  detail::LabelsPool::acquire(node_);
}

Labels& Labels::operator=(const Labels& other) noexcept {
  detail::LabelsPool::acquire(other.node_);
  detail::LabelsPool::release(node_);
  node_ = other.node_;
  return *this;
}

Labels& Labels::operator=(Labels&& other) noexcept {
  if (this != &other) {
    detail::LabelsPool::release(node_);
    node_ = other.node_;
    other.node_ = nullptr;
  }
  return *this;
}

Labels::~Labels() { detail::LabelsPool::release(node_); }

std::span<const Label> Labels::items() const {
  return node_ ? node_->items() : std::span<const Label>();
}

std::string_view Labels::get(std::string_view name) const {
  for (const Label& l : items()) {
    if (l.name.view() == name) return l.value.view();
  }
  return {};
}

void LabelsBuilder::reset(const Labels& base) { labels_.assign(base.begin(), base.end()); }

LabelsBuilder& LabelsBuilder::set(std::string_view name, std::string_view value) {
  return set(Symbol::intern(name), Symbol::intern(value));
}

LabelsBuilder& LabelsBuilder::set(Symbol name, Symbol value) {
  for (Label& l : labels_) {
    if (l.name == name) {
      l.value = std::move(value);
      return *this;
    }
  }
  labels_.push_back(Label{std::move(name), std::move(value)});
  return *this;
}

LabelsBuilder& LabelsBuilder::setIfAbsent(Symbol name, Symbol value) {
  for (const Label& l : labels_) {
    if (l.name == name && !l.value.empty()) return *this;
  }
  return set(std::move(name), std::move(value));
}

LabelsBuilder& LabelsBuilder::erase(std::string_view name) {
  std::erase_if(labels_, [&](const Label& l) { return l.name.view() == name; });
  return *this;
}

std::string_view LabelsBuilder::get(std::string_view name) const {
  for (const Label& l : labels_) {
    if (l.name.view() == name) return l.value.view();
  }
  return {};
}

void LabelsBuilder::sortByName() {
  // Sorts (name text, position) pairs, so each name's text is looked up once
  // rather than at every comparison, and only moves labels when they are out
  // of order (sources often add them sorted).
  order_.clear();
  for (std::size_t i = 0; i < labels_.size(); ++i) {
    order_.emplace_back(labels_[i].name.view(), static_cast<std::uint32_t>(i));
  }
  // Byte-wise, like std::string_view's <, but the first byte, which decides
  // most comparisons of label names, without a call to memcmp. Names are
  // distinct and not empty (build() dropped those).
  const auto by_name = [](const auto& a, const auto& b) {
    const auto a0 = static_cast<unsigned char>(a.first[0]);
    const auto b0 = static_cast<unsigned char>(b.first[0]);
    return a0 != b0 ? a0 < b0 : a.first < b.first;
  };
  if (std::is_sorted(order_.begin(), order_.end(), by_name)) return;
  std::sort(order_.begin(), order_.end(), by_name);
  sorted_.clear();
  for (const auto& [name, i] : order_) sorted_.push_back(std::move(labels_[i]));
  labels_.swap(sorted_);
}

Labels LabelsBuilder::build() {
  std::erase_if(labels_, [](const Label& l) { return l.value.empty() || l.name.empty(); });
  if (labels_.empty()) return Labels();
  sortByName();
  const std::span<const Label> key(labels_);
  return Labels(detail::labelsPool().intern(key, detail::hashLabels(key), [&](auto&, std::size_t) {
    return detail::LabelsNode::create(key);
  }));
}

std::size_t sweepInterned() {
  // Label sets first: freeing them drops the last references to their texts.
  const std::size_t sets = detail::labelsPool().sweep();
  return sets + detail::sweepSymbols();
}

std::size_t internedLabelSetCount() { return detail::labelsPool().size(); }

}  // namespace kubemetrics
