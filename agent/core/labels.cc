#include "kubemetrics/labels.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "core/intern_pool.h"

namespace kubemetrics {
namespace detail {

std::size_t sweepSymbols();

struct LabelsKey {
  std::span<const Label> labels;
  friend bool operator==(const LabelsKey& a, const LabelsKey& b) {
    return std::equal(a.labels.begin(), a.labels.end(), b.labels.begin(), b.labels.end());
  }
};

struct LabelsKeyHash {
  std::size_t operator()(const LabelsKey& key) const noexcept {
    // Symbols are interned, so hashing their identities hashes the texts.
    std::size_t h = 0xcbf29ce484222325ULL;
    for (const Label& l : key.labels) {
      h = (h ^ reinterpret_cast<std::uintptr_t>(l.name.id())) * 0x100000001b3ULL;
      h = (h ^ reinterpret_cast<std::uintptr_t>(l.value.id())) * 0x100000001b3ULL;
    }
    return h ^ (h >> 29);
  }
};

struct LabelsNode {
  std::atomic<std::uint32_t> refs{0};
  std::size_t hash = 0;
  std::vector<Label> labels;
  LabelsKey key() const { return LabelsKey{labels}; }
};

using LabelsPool = InternPool<LabelsNode, LabelsKey, LabelsKeyHash>;

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
  return node_ ? std::span<const Label>(node_->labels) : std::span<const Label>();
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

Labels LabelsBuilder::build() {
  std::erase_if(labels_, [](const Label& l) { return l.value.empty() || l.name.empty(); });
  if (labels_.empty()) return Labels();
  std::sort(labels_.begin(), labels_.end(),
            [](const Label& a, const Label& b) { return a.name.view() < b.name.view(); });
  const detail::LabelsKey key{labels_};
  const std::size_t hash = detail::LabelsKeyHash()(key);
  return Labels(detail::labelsPool().intern(key, hash, [&] {
    auto* node = new detail::LabelsNode();
    node->labels = labels_;
    return node;
  }));
}

std::size_t sweepInterned() {
  // Label sets first: freeing them drops the last references to their texts.
  const std::size_t sets = detail::labelsPool().sweep();
  return sets + detail::sweepSymbols();
}

std::size_t internedLabelSetCount() { return detail::labelsPool().size(); }

}  // namespace kubemetrics
