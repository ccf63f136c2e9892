#include "common/scrape/series_cache.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <utility>

#include "common/core/wyhash_mix.h"

namespace kubemetrics::scrape {

// The key, a 128-bit hash of a series text (`name{labels}` as scraped),
// stands for the text, which is ~150 bytes a series on kube-state-metrics.
// Two texts with one key would share an entry (one series carrying the
// other's labels). With the key as good as random, the chance that any two
// of n cached series collide is about n^2 / 2^129: 1.5e-27 at a million
// series, far below the odds of a memory error. A target that crafted a
// collision would only mix up its own series (a cache is one target's),
// which it can do anyway by exposing other labels.
//
// Two wyhash-style lanes over the same 16-byte blocks, each with its own
// secrets, so the halves are independent 64-bit hashes for the price of
// one pass (the two multiply chains overlap).
SeriesCache::Key SeriesCache::keyOf(std::string_view text) {
  constexpr std::uint64_t kA0 = 0xa0761d6478bd642fULL, kA1 = 0xe7037ed1a0b428dbULL;
  constexpr std::uint64_t kB0 = 0x8ebc6af09c88c6e3ULL, kB1 = 0x589965cc75374cc3ULL;
  const char* p = text.data();
  std::size_t n = text.size();
  std::uint64_t a = wyMix(kA0 ^ n, kA1);
  std::uint64_t b = wyMix(kB0 ^ n, kB1);
  for (; n > 16; n -= 16, p += 16) {
    a = wyMix(load64(p) ^ kA1, load64(p + 8) ^ a);
    b = wyMix(load64(p) ^ kB1, load64(p + 8) ^ b);
  }
  // The last 1 to 16 bytes, zero-padded: the length in the seeds tells
  // "a" from "a\0".
  char tail[16] = {};
  if (n > 0) std::memcpy(tail, p, n);
  a = wyMix(load64(tail) ^ kA1, load64(tail + 8) ^ a);
  b = wyMix(load64(tail) ^ kB1, load64(tail + 8) ^ b);
  return {wyMix(a ^ kA0, kA1), wyMix(b ^ kB0, kB1)};
}

static_assert(sizeof(SeriesInfo) <= 32, "one per cached series: mind its size");

namespace {

// How far ahead of the expected series its entry is prefetched, and (half
// as far) the label set whose count a sample's copy of the labels bumps:
// each stage finds the line the one before loaded, while the lookups
// between overlap the misses.
constexpr std::size_t kEntryPrefetchAhead = 8;
constexpr std::size_t kLabelsPrefetchAhead = 4;

}  // namespace

SeriesCache::SeriesCache(SeriesLabeler labeler, SeriesCacheOptions options)
    : labeler_(std::move(labeler)), options_(options) {
  // Here, where Entry is complete and its accessibility is the class's.
  static_assert(sizeof(Entry) <= 56, "one per cached series: mind its size");
}

SeriesCache::~SeriesCache() = default;

// ---- series ---------------------------------------------------------------

void SeriesCache::prefetchExpected() const {
  if (expected_ + kEntryPrefetchAhead < live_order_.size()) {
    const Entry* ahead = live_order_[expected_ + kEntryPrefetchAhead];
    __builtin_prefetch(ahead);
    __builtin_prefetch(&ahead->key);
  }
  if (expected_ + kLabelsPrefetchAhead < live_order_.size()) {
    const void* labels = live_order_[expected_ + kLabelsPrefetchAhead]->labels.id();
    if (labels != nullptr) __builtin_prefetch(labels);
  }
}

const SeriesInfo* SeriesCache::find(std::string_view series_text) {
  const Key key = keyOf(series_text);
  if (expected_ < live_order_.size()) {
    prefetchExpected();
    const Entry* next = live_order_[expected_];
    if (next->key == key) {
      ++expected_;
      ++stats_.in_order;
      return next;
    }
  }
  if (auto it = entries_.find(key); it != entries_.end()) {
    // Out of order: go on after where this series was in the previous
    // scrape, unless it had no place there or already had a sample in
    // this one (a repeated series; its position is then of order_).
    if (it->live && it->generation != generation_ && it->position != kNoPosition) {
      expected_ = it->position + 1;
    }
    return &*it;
  }
  missed_ = key;
  return nullptr;
}

const SeriesInfo* SeriesCache::add(SeriesInfo&& info, LabelsBuilder& scraped) {
  Entry entry;
  static_cast<SeriesInfo&>(entry) = std::move(info);
  entry.key = missed_;
  entry.labels = labeler_ ? labeler_(entry.name, scraped) : scraped.build();
  ++stats_.new_series;
  return &*entries_.insert(std::move(entry)).first;
}

void SeriesCache::accepted(const SeriesInfo& series, bool own_timestamp) {
  // Every SeriesInfo this resolver hands out is an entry's; the parser only
  // reads it, the cache may update the entry's staleness state.
  const Entry& entry = static_cast<const Entry&>(series);
  if (entry.generation != generation_) touch(entry, own_timestamp);
}

// ---- staleness --------------------------------------------------------------

void SeriesCache::beginScrape(ExpositionFormat format, SampleBatch* out,
                              std::int64_t default_timestamp_ms) {
  // A scrape left open is forgotten: it kept nothing and changes no
  // series' staleness state. Only eviction is done, so a caller that never
  // ends its scrapes still has a bounded cache.
  if (scrape_open_) {
    std::erase_if(entries_,
                  [g = generation_](const Entry& e) { return !e.live && e.generation + 2 <= g; });
  }
  scrape_open_ = true;
  touched_ = 0;
  unchanged_ = 0;
  expected_ = 0;
  order_.clear();
  for (Orphan& orphan : orphans_) orphan.seen = false;
  // The same series text is valid or not depending on the grammar, and a
  // cached series skips the parser's label checks: a new grammar starts a
  // new cache.
  if (format != last_format_) clear();
  last_format_ = format;
  out_ = out;
  default_ts_ = default_timestamp_ms;
  stats_ = SeriesCacheStats();
  ++generation_;
}

void SeriesCache::appendMarker(const Symbol& name, const Labels& labels) {
  if (!options_.stale_markers || out_ == nullptr) return;
  out_->samples.push_back(Sample{name, labels, kStaleNaN, default_ts_});
  ++stats_.stale_markers;
}

template <class A, class B>
bool SeriesCache::orphanBefore(const A& a, const B& b) {
  const std::less<const void*> less;
  if (a.name.id() != b.name.id()) return less(a.name.id(), b.name.id());
  return less(a.labels.id(), b.labels.id());
}

// Called at a series' first sample of the scrape, once its timestamp is known.
void SeriesCache::touch(const Entry& entry, bool own_timestamp) {
  entry.generation = generation_;
  entry.tracked = !own_timestamp;
  ++touched_;
  unchanged_ += entry.live == entry.tracked;
  if (entry.tracked) {
    // order_ becomes live_order_ when the scrape is kept.
    entry.position = std::min<std::uint64_t>(order_.size(), kNoPosition);
    order_.push_back(&entry);
  }
  if (!orphans_.empty()) {
    const auto it =
        std::lower_bound(orphans_.begin(), orphans_.end(), entry,
                         [](const Orphan& o, const Entry& e) { return orphanBefore(o, e); });
    if (it != orphans_.end() && it->name == entry.name && it->labels == entry.labels) {
      it->seen = true;
    }
  }
}

// Writes the markers owed, updates each series' `live` state and evicts the
// series absent from this scrape and the previous one, so churn cannot grow
// the cache without bound while a series missing once (a flapping target)
// stays. Skipped when every cached series had a sample and none changed
// state (the steady case): the live series are then the same, and only
// their order is new.
void SeriesCache::endScrape(bool kept) {
  if (!scrape_open_) return;
  scrape_open_ = false;
  const bool steady = kept && touched_ == entries_.size() && unchanged_ == touched_;
  if (!steady) {
    const std::uint64_t g = generation_;
    for (const Entry* e : live_order_) {
      if (!(kept && e->generation == g)) appendMarker(e->name, e->labels);
      e->live = false;
    }
    for (const Entry* e : order_) e->live = kept;
    if (touched_ < entries_.size()) {
      std::erase_if(entries_, [g](const Entry& e) { return e.generation + 2 <= g; });
    }
  }
  if (!orphans_.empty()) {
    std::sort(orphans_.begin(), orphans_.end(),
              [](const Orphan& a, const Orphan& b) { return a.rank < b.rank; });
    for (const Orphan& orphan : orphans_) {
      if (!(kept && orphan.seen)) appendMarker(orphan.name, orphan.labels);
    }
    std::vector<Orphan>().swap(orphans_);
  }
  live_order_.clear();
  if (kept) live_order_.swap(order_);
  order_.clear();
}

// Keeps the live series as orphans (their markers are still owed): the
// entries they were are gone.
void SeriesCache::clear() {
  for (const Entry* e : live_order_) {
    orphans_.push_back(Orphan{e->name, e->labels, orphans_.size()});
  }
  live_order_.clear();
  expected_ = 0;
  order_.clear();
  entries_.clear();
  std::sort(orphans_.begin(), orphans_.end(),
            [](const Orphan& a, const Orphan& b) { return orphanBefore(a, b); });
}

}  // namespace kubemetrics::scrape
