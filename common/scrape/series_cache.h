#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/scrape/parser.h"
#include "kubemetrics/labels.h"
#include "kubemetrics/sample.h"
#include "kubemetrics/symbol.h"

namespace kubemetrics::scrape {

/// Turns a scraped series (its name and labels as exposed) into the labels
/// the sample carries (adding job/instance, honoring labels). Called only
/// when a series text is seen for the first time: its result is cached.
using SeriesLabeler = std::function<Labels(const Symbol& name, LabelsBuilder& scraped)>;

struct SeriesCacheOptions {
  bool stale_markers = true;  // append staleness markers (see SeriesCache)
};

/// Statistics of one scrape.
struct SeriesCacheStats {
  std::size_t new_series = 0;     // series texts not in the cache (first seen this scrape)
  std::size_t stale_markers = 0;  // staleness markers appended (endScrape())
  std::size_t in_order = 0;       // finds answered by the previous scrape's order, no lookup
};

/// What one target keeps between scrapes, as Prometheus' scrape cache
/// (scrape/scrape.go's scrapeCache): its series and their staleness. The
/// TextParser of each scrape resolves every sample line's series here.
///
/// The cache maps each series' raw text (`name{labels}`, stored as a
/// 128-bit hash of it) to its interned name, final labels and what the
/// grammar read of it (SeriesInfo), so a steady target costs no allocation
/// per sample: each line is a hash plus a number parse. A target exposes
/// its series in the same order every scrape, so find() first checks the
/// series that came next in the previous scrape (prefetched a few lines
/// ahead) and looks the text up only when that is not it; after a lookup
/// it goes on from where the found series was, so a series that vanished
/// or appeared costs one lookup, not the rest of the scrape. A series
/// absent from two scrapes in a row leaves the cache when the second one
/// ends. The same text reads differently under another grammar, so a scrape
/// in another format than the previous one starts an empty cache.
///
/// Staleness, as Prometheus does it (the scrape loop's seriesPrev/seriesCur):
/// a scrape ends with endScrape(kept): kept when its samples stay in the
/// batch, not kept when the caller dropped them (a failed scrape). Either
/// appends to the batch a staleness marker (kStaleNaN, same name and final
/// labels, stamped with the scrape's default timestamp) for each series the
/// previous ended scrape kept and this one does not: after a success the
/// series that vanished, after a failure every series of the previous
/// scrape. Each vanished series is marked once; one that comes back is an
/// ordinary series again. Markers come in the order of the series' first
/// samples in the last scrape that kept them (similar series stay together,
/// as they compress better). A series exposed with its own timestamp gets no
/// marker (Prometheus tracks staleness only for series stamped at scrape
/// time). The state is two bits in the cache entry; a steady scrape (same
/// series as the previous one) costs no pass over the cache.
///
/// Owned by one target's TargetParser and used by its scrape thread only:
/// not thread-safe. The batch given to beginScrape() is the caller's; the
/// cache only appends markers to it.
class SeriesCache final : public SeriesResolver {
 public:
  explicit SeriesCache(SeriesLabeler labeler = {}, SeriesCacheOptions options = {});
  ~SeriesCache() override;
  SeriesCache(const SeriesCache&) = delete;
  SeriesCache& operator=(const SeriesCache&) = delete;

  /// Starts a scrape in `format` whose markers go to `out` (which must
  /// outlive endScrape()), stamped `default_timestamp_ms`. A scrape still
  /// open (neither ended) is forgotten: it changes no series' staleness.
  void beginScrape(ExpositionFormat format, SampleBatch* out, std::int64_t default_timestamp_ms);
  /// Ends the open scrape (none open: does nothing): appends the markers
  /// owed (see above). `kept`: its samples stay in the batch.
  void endScrape(bool kept);
  /// Drops every series (when the labeler's inputs change); call between
  /// scrapes. The name and final labels of each series of the previous
  /// scrape are kept until the next scrape ends: those whose series does
  /// not come back with the very same labels get their staleness marker
  /// then (a change of the labeler's output makes every series a new one).
  void clear();

  /// Series texts currently cached (a bound for tests and self-metrics).
  std::size_t size() const { return entries_.size(); }
  /// Of the current (or last) scrape.
  const SeriesCacheStats& stats() const { return stats_; }

  // kubemetrics::scrape::SeriesResolver
  const SeriesInfo* find(std::string_view series_text) override;
  const SeriesInfo* add(SeriesInfo&& info, LabelsBuilder& scraped) override;
  void accepted(const SeriesInfo& series, bool own_timestamp) override;

 private:
  // The cache's key: a 128-bit hash of a series text (see series_cache.cc).
  struct Key {
    std::uint64_t lo = 0;
    std::uint64_t hi = 0;
    friend bool operator==(const Key&, const Key&) = default;
  };
  // What the cache knows of one series text. There is one per active series
  // of every target, so its size matters (56 bytes, asserted in the .cc; a
  // set node of 64, as a map node of key and a 40-byte entry was): only the
  // final labels are kept (what the grammar needs of the scraped ones is
  // worked out once, in SeriesInfo), and the staleness state and the order
  // hint share one word. The key is in the entry, so an entry reached from
  // the previous scrape's order can be checked against a text's key. The
  // set's elements are const; only the key must not change, so the rest of
  // the state is mutable.
  struct Entry : SeriesInfo {
    Key key;
    // Of the last scrape that had a sample of it (38 bits: a scrape a
    // second for 8,000 years).
    mutable std::uint64_t generation : 38 = 0;
    // Where this series was in live_order_ when it was put there (a hint,
    // always checked by key; kNoPosition beyond the field's range).
    mutable std::uint64_t position : 24 = 0;
    // `live`: the last ended scrape kept a sample of this series stamped at
    // scrape time, and no marker was written since, so it gets one when it
    // vanishes. `tracked`: this scrape's first sample of it has no timestamp
    // of its own (meaningful while `generation` is this scrape's).
    mutable std::uint64_t live : 1 = 0;
    mutable std::uint64_t tracked : 1 = 0;
  };
  static constexpr std::uint64_t kNoPosition = (std::uint64_t{1} << 24) - 1;
  // The key is already a hash: any 64 bits of it will do. Transparent, so
  // the set is searched by key without making an entry.
  struct EntryHash {
    using is_transparent = void;
    std::size_t operator()(const Key& key) const noexcept { return key.lo; }
    std::size_t operator()(const Entry& entry) const noexcept { return entry.key.lo; }
  };
  struct EntryKeyEqual {
    using is_transparent = void;
    static const Key& keyIn(const Key& key) { return key; }
    static const Key& keyIn(const Entry& entry) { return entry.key; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      return keyIn(a) == keyIn(b);
    }
  };
  // A live series of a dropped cache, owed a marker at the end of the next
  // ended scrape unless that scrape has a sample of the same name and labels.
  struct Orphan {
    Symbol name;
    Labels labels;
    std::size_t rank = 0;  // in the live order, for the markers
    bool seen = false;
  };

  static Key keyOf(std::string_view text);
  template <class A, class B>
  static bool orphanBefore(const A& a, const B& b);
  void touch(const Entry& entry, bool own_timestamp);
  // Prefetches the entries the next finds will want if the order holds.
  void prefetchExpected() const;
  void appendMarker(const Symbol& name, const Labels& labels);

  SeriesLabeler labeler_;
  SeriesCacheOptions options_;
  // Node-based: entries stay put on rehash, for the pointers below and the
  // SeriesInfo pointers handed to the parser.
  std::unordered_set<Entry, EntryHash, EntryKeyEqual> entries_;
  std::uint64_t generation_ = 0;  // of the current (or last) scrape
  ExpositionFormat last_format_ = ExpositionFormat::kText;
  Key missed_;  // of the last find() that missed: add() stores under it

  // The scrape under way.
  SampleBatch* out_ = nullptr;
  std::int64_t default_ts_ = 0;
  SeriesCacheStats stats_;
  bool scrape_open_ = false;  // begun, not ended
  // Distinct series with a sample, and how many of those keep their `live`
  // state (live == tracked), so a scrape with the same series as the
  // previous one skips the pass.
  std::size_t touched_ = 0;
  std::size_t unchanged_ = 0;
  // Markers go out in the order the series were scraped: neighbours in an
  // exposition are alike, and a remote-write body compresses them better
  // together than in hash order. `order_`: this scrape's tracked series (the
  // ones it may make live), in the order of their first samples.
  // `live_order_`: the live series, in the order of the last kept scrape;
  // exactly the entries with `live` set, so never evicted.
  // `expected_`: the index in live_order_ of the series the next find()
  // most likely wants (the scrape's order follows the last kept one's).
  std::vector<const Entry*> order_;
  std::vector<const Entry*> live_order_;
  std::size_t expected_ = 0;
  // Sorted by (name id, labels id); empty but for the scrape after a drop.
  std::vector<Orphan> orphans_;
};

}  // namespace kubemetrics::scrape
