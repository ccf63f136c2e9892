#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>

#include "kubemetrics/labels.h"
#include "kubemetrics/symbol.h"

namespace kubemetrics {

/// Computes per-second rates of cumulative counters between two scrapes of
/// the same series (e.g. kubelet `cpu.usage_rate` from `usageCoreNanoSeconds`).
/// A series is (name, labels); the tracker holds the handles of every series
/// it knows, so their interned texts stay alive until endScrape() prunes them.
///
/// Owned by one source's thread; not thread-safe.
class CounterRates {
 public:
  /// Returns the rate per second for `value` at `timestamp_ms` (Unix epoch,
  /// milliseconds) of series (name, labels), given the series'
  /// `start_marker` (e.g. container start time; 0 if unknown).
  /// nullopt on the first observation, when time does not advance, when the
  /// counter went down (reset) or the start marker changed; on a reset, a
  /// marker change or time going backwards the new point becomes the base,
  /// while a repeated timestamp keeps the old base. A non-finite value
  /// returns nullopt and leaves the base alone.
  std::optional<double> update(const Symbol& name, const Labels& labels, double value,
                               std::int64_t timestamp_ms, std::int64_t start_marker = 0);

  /// Ends one scrape: drops every series that missed more than
  /// `keep_unseen_scrapes` consecutive scrapes (with 0, every series not
  /// updated since the previous endScrape()). Call once per scrape so memory
  /// does not grow with pod churn. O(series).
  void endScrape(std::uint32_t keep_unseen_scrapes = 2);

  /// Number of series tracked.
  std::size_t size() const { return series_.size(); }

 private:
  // Keyed by the interned identities: equal texts have equal ids, and the
  // entry holds the handles, so an id cannot be reused while it is a key.
  // Looking up by id costs no reference-count traffic on the hot path.
  struct Key {
    const void* name;
    const void* labels;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& key) const noexcept;
  };
  struct Entry {
    Symbol name;
    Labels labels;
    double value = 0;
    std::int64_t timestamp_ms = 0;
    std::int64_t start_marker = 0;
    std::uint64_t last_seen_scrape = 0;
  };

  std::unordered_map<Key, Entry, KeyHash> series_;
  std::uint64_t scrape_ = 0;  // index of the scrape in progress
};

}  // namespace kubemetrics
