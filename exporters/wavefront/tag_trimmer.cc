#include "tag_trimmer.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

namespace kubemetrics::exporters::wavefront {
namespace {

constexpr std::string_view kLabelPrefix = "label.";
// Shorter values repeat by chance ("true", "prod"); the collector's bound.
constexpr std::size_t kMinDuplicateValueLength = 5;

bool isLabelTag(const Label& tag) { return tag.name.view().starts_with(kLabelPrefix); }

bool keyHolds(const Label& tag, std::initializer_list<std::string_view> words) {
  const std::string_view key = tag.name.view().substr(kLabelPrefix.size());
  return std::any_of(words.begin(), words.end(),
                     [&](std::string_view w) { return key.find(w) != std::string_view::npos; });
}

bool isAlphaBeta(const Label& tag) { return keyHolds(tag, {"alpha", "beta"}); }
bool isCloudProvider(const Label& tag) { return keyHolds(tag, {"gke", "azure", "eks"}); }

// Of two label.* tags with one value, the one that stays.
bool staysBefore(const Label& a, const Label& b) {
  const bool a_pre = isAlphaBeta(a);
  if (a_pre != isAlphaBeta(b)) return !a_pre;
  const std::string_view ka = a.name.view();
  const std::string_view kb = b.name.view();
  if (ka.size() != kb.size()) return ka.size() < kb.size();
  return ka < kb;
}

}  // namespace

std::string_view trimReasonName(TrimReason reason) {
  switch (reason) {
    case TrimReason::kExcluded:
      return "excluded";
    case TrimReason::kEmptyValue:
      return "empty_value";
    case TrimReason::kDuplicateValue:
      return "duplicate_value";
    case TrimReason::kLabelPriority:
      return "label_priority";
  }
  return "unknown";
}

bool globMatch(std::string_view pattern, std::string_view text) {
  // Greedy with one backtrack point (the last '*'): linear in practice,
  // O(pattern * text) at worst, both a few dozen characters.
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

TagTrimmer::TagTrimmer(std::vector<std::string> exclude_patterns) {
  for (std::string& glob : exclude_patterns) {
    std::string prefix = glob.substr(0, glob.find_first_of("*?"));
    patterns_.push_back({std::move(glob), std::move(prefix)});
  }
}

bool TagTrimmer::excluded(std::string_view key) const {
  for (const Pattern& pattern : patterns_) {
    if (key.starts_with(pattern.literal_prefix) && globMatch(pattern.glob, key)) return true;
  }
  return false;
}

void TagTrimmer::trim(std::vector<const Label*>& tags, std::size_t limit,
                      TrimCounts& counts) const {
  auto removeIf = [&](TrimReason reason, auto&& drop) {
    const std::size_t before = tags.size();
    std::erase_if(tags, drop);
    counts[static_cast<std::size_t>(reason)] += before - tags.size();
  };
  if (tags.size() <= limit) return;

  removeIf(TrimReason::kEmptyValue, [](const Label* tag) {
    const std::string_view v = tag->value.view();
    return v == "-" || v == "/";
  });
  if (tags.size() <= limit) return;

  // Every duplicate goes, not only as many as needed, as in the collector:
  // a repeated value adds nothing to the series.
  std::unordered_map<std::string_view, const Label*> keeper;  // value -> tag that stays
  for (const Label* tag : tags) {
    if (!isLabelTag(*tag) || tag->value.view().size() < kMinDuplicateValueLength) continue;
    auto [it, inserted] = keeper.emplace(tag->value.view(), tag);
    if (!inserted && staysBefore(*tag, *it->second)) it->second = tag;
  }
  removeIf(TrimReason::kDuplicateValue, [&](const Label* tag) {
    if (!isLabelTag(*tag) || tag->value.view().size() < kMinDuplicateValueLength) return false;
    return keeper.at(tag->value.view()) != tag;
  });

  // Then label.* tags by priority, lowest first, in key order.
  for (bool (*lowest)(const Label&) : {isAlphaBeta, isCloudProvider}) {
    std::size_t excess = tags.size() > limit ? tags.size() - limit : 0;
    removeIf(TrimReason::kLabelPriority, [&](const Label* tag) {
      if (excess == 0 || !isLabelTag(*tag) || !lowest(*tag)) return false;
      --excess;
      return true;
    });
  }
  std::size_t excess = tags.size() > limit ? tags.size() - limit : 0;
  removeIf(TrimReason::kLabelPriority, [&](const Label* tag) {
    if (excess == 0 || !isLabelTag(*tag)) return false;
    --excess;
    return true;
  });
}

}  // namespace kubemetrics::exporters::wavefront
