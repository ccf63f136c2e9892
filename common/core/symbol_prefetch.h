#pragma once

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

}  // namespace kubemetrics
