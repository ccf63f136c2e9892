#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kubemetrics/labels.h"

namespace kubemetrics {

/// Cache hints for code that is about to read the texts of many label sets
/// (Symbol::view), such as the batch journal and the remote-write encoder
/// on a proxy's batches, where nearly every series is new and each text is
/// two dependent misses: its id's slot in the id table, then its node.
/// Called a few samples ahead in three stages, each a few samples after the
/// one before, so that each stage's loads are in cache when the next runs:
/// prefetchLabelsNode(), prefetchSymbolSlots() (which reads the node), then
/// prefetchSymbolTexts() (which reads the slots), then view().
///
/// Hints only: nothing is changed, and a label set's symbols are alive as
/// long as the caller holds the set. Thread-safe, as Symbol::view().

/// Stage 1: the label set's own node (header and labels, one or two cache
/// lines), which items() reads.
inline void prefetchLabelsNode(const Labels& labels) {
  // As integers: the second line may lie past a small node's end.
  const auto node = reinterpret_cast<std::uintptr_t>(labels.id());
  if (node == 0) return;
  __builtin_prefetch(reinterpret_cast<const void*>(node));
  __builtin_prefetch(reinterpret_cast<const void*>(node + 64));
}
/// Stage 2: the id-table slots of the set's names and values.
void prefetchSymbolSlots(std::span<const Label> labels);
/// Stage 3: their texts' nodes.
void prefetchSymbolTexts(std::span<const Label> labels);

/// Samples between two stages: far enough for a stage's loads to land
/// before the next stage reads them, near enough to stay in cache.
inline constexpr std::size_t kLabelsPrefetchStep = 4;

/// The three stages for a loop at `index` of `count` label sets, each
/// stage kLabelsPrefetchStep sets further ahead than the next;
/// `labels_at(i)` gives the i-th set.
template <typename LabelsAt>
inline void prefetchLabelsAhead(std::size_t index, std::size_t count, LabelsAt&& labels_at) {
  constexpr std::size_t step = kLabelsPrefetchStep;
  if (index + 3 * step < count) prefetchLabelsNode(labels_at(index + 3 * step));
  if (index + 2 * step < count) prefetchSymbolSlots(labels_at(index + 2 * step).items());
  if (index + step < count) prefetchSymbolTexts(labels_at(index + step).items());
}

}  // namespace kubemetrics
