#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "kubemetrics/result.h"
#include "kubemetrics/sample.h"

namespace re2 {
class RE2;
}

namespace kubemetrics {

/// Keeps a sample when its metric name fully matches some `allow` pattern
/// (or `allow` is empty) and no `deny` pattern. Patterns are RE2, so matching
/// is linear-time whatever the input.
///
/// Owned by one pipeline worker; not thread-safe. Decisions are cached per
/// interned name (a scrape repeats the same few hundred names), bounded and
/// cleared when full.
class NameFilter {
 public:
  /// Fails with kInvalidArgument naming the pattern that does not compile.
  static Result<NameFilter> create(const std::vector<std::string>& allow,
                                   const std::vector<std::string>& deny);
  NameFilter(NameFilter&&) noexcept;
  NameFilter& operator=(NameFilter&&) noexcept;
  ~NameFilter();

  bool active() const { return !allow_.empty() || !deny_.empty(); }
  bool keeps(const Symbol& name);
  /// Removes the samples filtered out; returns how many.
  std::size_t apply(SampleBatch& batch);

 private:
  NameFilter() = default;
  bool decide(std::string_view name) const;

  std::vector<std::unique_ptr<re2::RE2>> allow_;
  std::vector<std::unique_ptr<re2::RE2>> deny_;
  std::unordered_map<Symbol, bool> cache_;
};

}  // namespace kubemetrics
