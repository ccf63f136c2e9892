#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kubemetrics/labels.h"

namespace kubemetrics::exporters::wavefront {

/// Why a point tag was left out of a line that was sent. Each is a value of
/// the `reason` label of kubemetrics_wavefront_trimmed_tags_total.
enum class TrimReason : std::uint8_t {
  kExcluded,        // its key matches exporters.wavefront.exclude_tags
  kEmptyValue,      // over the limit, and its value is "-" or "/"
  kDuplicateValue,  // over the limit, a label.* tag repeating another's value
  kLabelPriority,   // over the limit, a label.* tag of the lowest priority
};
inline constexpr std::size_t kTrimReasonCount = 4;
using TrimCounts = std::array<std::uint64_t, kTrimReasonCount>;

/// "excluded", "empty_value", "duplicate_value", "label_priority".
std::string_view trimReasonName(TrimReason reason);

/// Whether `text` matches the glob `pattern` as the Wavefront collector's
/// filters write them: `*` any run of characters, `?` any one character,
/// everything else itself; the whole text must match.
bool globMatch(std::string_view pattern, std::string_view text);

/// Keeps a point within the Wavefront limit of point tags the way the
/// Wavefront Collector for Kubernetes does (its wavefront sink's tag
/// cleaning; the collector's own tags are the ones it protects), instead of
/// losing the whole point:
///  - tags whose key matches an exclude pattern never go out (the collector
///    drops them from every point: its sink's built-in list and the
///    `tagExclude` filter of its default configuration);
///  - then, only while the point has more tags than the limit:
///    1. tags whose value is a placeholder, "-" or "/" (the collector
///       counts them as empty; an empty value never reaches an exporter);
///    2. `label.*` tags whose value (5 characters or more) another `label.*`
///       tag also carries: of each such group one stays, the one whose key
///       has no "alpha"/"beta", then the shorter key, then the smaller key;
///    3. `label.*` tags whose key holds "alpha" or "beta" (pre-release
///       Kubernetes labels), then those holding "gke", "azure" or "eks"
///       (cloud-provider labels), then any `label.*` tag, each step in key
///       order and only as many as needed.
///  Tags that are not `label.*` (the source's own and the agent's) are
///  never trimmed: a point that still has too many is the caller's to drop.
///
/// Immutable after construction; thread-safe.
class TagTrimmer {
 public:
  explicit TagTrimmer(std::vector<std::string> exclude_patterns);

  /// True when a tag named `key` is never sent.
  bool excluded(std::string_view key) const;

  /// Removes tags from `tags` (sorted by key, none excluded) in the order
  /// above until at most `limit` remain or nothing more may go; adds the
  /// removed tags to `counts` by reason.
  void trim(std::vector<const Label*>& tags, std::size_t limit, TrimCounts& counts) const;

 private:
  struct Pattern {
    std::string glob;
    std::string literal_prefix;  // before the first wildcard: a cheap reject
  };
  std::vector<Pattern> patterns_;
};

}  // namespace kubemetrics::exporters::wavefront
