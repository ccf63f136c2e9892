#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "kubemetrics/symbol.h"

namespace kubemetrics {

/// One label (a Prometheus label, a Wavefront point tag).
struct Label {
  Symbol name;
  Symbol value;
  friend bool operator==(const Label&, const Label&) = default;
};

namespace detail {
struct LabelsNode;
}

/// An interned, immutable label set, sorted by name, with no empty values and
/// no duplicate names. Every distinct set is stored once per process (and its
/// texts are Symbols, stored once too), so samples of one series share their
/// labels and a Labels handle is one pointer. Equality is a pointer compare.
/// The empty set is the null handle.
///
/// Thread-safe like Symbol: handles may be created, copied and destroyed on
/// any thread. Build one with LabelsBuilder.
class Labels {
 public:
  Labels() = default;
  Labels(const Labels& other) noexcept;
  Labels(Labels&& other) noexcept : node_(other.node_) { other.node_ = nullptr; }
  Labels& operator=(const Labels& other) noexcept;
  Labels& operator=(Labels&& other) noexcept;
  ~Labels();

  std::span<const Label> items() const;
  const Label* begin() const { return items().data(); }
  const Label* end() const { return items().data() + items().size(); }
  std::size_t size() const { return items().size(); }
  bool empty() const { return node_ == nullptr; }
  /// The value of label `name`, or "" when absent. Linear: sets are small.
  std::string_view get(std::string_view name) const;
  bool contains(std::string_view name) const { return !get(name).empty(); }
  /// Stable for the lifetime of the set; equal sets give equal ids.
  const void* id() const { return node_; }

  friend bool operator==(const Labels& a, const Labels& b) { return a.node_ == b.node_; }

 private:
  explicit Labels(detail::LabelsNode* node) : node_(node) {}
  friend class LabelsBuilder;
  detail::LabelsNode* node_ = nullptr;
};

/// Collects labels, then interns them as a Labels. Setting a name twice keeps
/// the last value; empty values are dropped (as Prometheus treats them as
/// absent). Not thread-safe: one builder per thread; reuse it with clear() to
/// avoid allocations on hot paths.
class LabelsBuilder {
 public:
  LabelsBuilder() = default;
  explicit LabelsBuilder(const Labels& base) { reset(base); }

  void reset(const Labels& base);
  void clear() { labels_.clear(); }
  LabelsBuilder& set(std::string_view name, std::string_view value);
  LabelsBuilder& set(Symbol name, Symbol value);
  /// Adds the label only when the set has no label of that name.
  LabelsBuilder& setIfAbsent(Symbol name, Symbol value);
  LabelsBuilder& erase(std::string_view name);
  std::string_view get(std::string_view name) const;

  Labels build();

 private:
  void sortByName();

  std::vector<Label> labels_;
  // build()'s scratch space, kept so that reuse does not allocate.
  std::vector<std::pair<std::string_view, std::uint32_t>> order_;
  std::vector<Label> sorted_;
};

/// Frees pooled label sets and then texts that no handle references any
/// more. Returns how many entries it freed. Safe to call from any thread at
/// any time; the agent calls it periodically.
std::size_t sweepInterned();

/// Number of distinct label sets currently pooled (a self-metric).
std::size_t internedLabelSetCount();

}  // namespace kubemetrics

template <>
struct std::hash<kubemetrics::Labels> {
  std::size_t operator()(const kubemetrics::Labels& l) const noexcept {
    return std::hash<const void*>()(l.id());
  }
};
