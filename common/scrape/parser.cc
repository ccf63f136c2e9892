#include "common/scrape/parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <span>
#include <unordered_set>

#include "common/text/utf8.h"

namespace kubemetrics::scrape {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

bool isNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool isNameChar(char c) { return isNameStart(c) || (c >= '0' && c <= '9'); }
bool isLabelStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isLabelChar(char c) { return isLabelStart(c) || (c >= '0' && c <= '9'); }
bool isBlank(char c) { return c == ' ' || c == '\t'; }

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

std::size_t scanMetricName(std::string_view s, std::size_t pos) {
  if (pos >= s.size() || !isNameStart(s[pos])) return pos;
  ++pos;
  while (pos < s.size() && isNameChar(s[pos])) ++pos;
  return pos;
}

// Short, printable excerpt of untrusted input for error messages.
std::string excerpt(std::string_view s) {
  constexpr std::size_t kMax = 64;
  std::string out;
  for (char c : s.substr(0, kMax)) {
    out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  }
  if (s.size() > kMax) out += "...";
  return out;
}

bool parseTimestampSeconds(std::string_view text, double* seconds) {
  if (!parseFloat(text, seconds)) return false;
  return std::isfinite(*seconds);
}

std::int64_t secondsToMs(double seconds) {
  const double ms = seconds * 1000.0;
  if (ms >= 9.2e18) return std::numeric_limits<std::int64_t>::max();
  if (ms <= -9.2e18) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(std::llround(ms));
}

// OpenMetrics family types.
enum class OmType : std::uint8_t {
  kUnknown,
  kCounter,
  kGauge,
  kHistogram,
  kGaugeHistogram,
  kSummary,
  kInfo,
  kStateset,
};

bool parseOmType(std::string_view word, OmType* type) {
  static constexpr std::pair<std::string_view, OmType> kTypes[] = {
      {"counter", OmType::kCounter},     {"gauge", OmType::kGauge},
      {"histogram", OmType::kHistogram}, {"gaugehistogram", OmType::kGaugeHistogram},
      {"summary", OmType::kSummary},     {"info", OmType::kInfo},
      {"stateset", OmType::kStateset},   {"unknown", OmType::kUnknown},
  };
  for (const auto& [name, t] : kTypes) {
    if (word == name) {
      *type = t;
      return true;
    }
  }
  return false;
}

MetricType toMetricType(OmType t) {
  switch (t) {
    case OmType::kCounter:
      return MetricType::kCounter;
    case OmType::kGauge:
    case OmType::kInfo:
    case OmType::kStateset:
      return MetricType::kGauge;
    case OmType::kHistogram:
    case OmType::kGaugeHistogram:
      return MetricType::kHistogram;
    case OmType::kSummary:
      return MetricType::kSummary;
    case OmType::kUnknown:
      break;
  }
  return MetricType::kUntyped;
}

// The sample-name suffixes a family of each type owns.
std::span<const std::string_view> suffixesOf(OmType t) {
  static constexpr std::string_view kCounter[] = {"_total", "_created"};
  static constexpr std::string_view kHistogram[] = {"_bucket", "_count", "_sum", "_created"};
  static constexpr std::string_view kGaugeHistogram[] = {"_bucket", "_gcount", "_gsum"};
  static constexpr std::string_view kSummary[] = {"", "_count", "_sum", "_created"};
  static constexpr std::string_view kInfo[] = {"_info"};
  static constexpr std::string_view kPlain[] = {""};
  switch (t) {
    case OmType::kCounter:
      return kCounter;
    case OmType::kHistogram:
      return kHistogram;
    case OmType::kGaugeHistogram:
      return kGaugeHistogram;
    case OmType::kSummary:
      return kSummary;
    case OmType::kInfo:
      return kInfo;
    default:
      return kPlain;
  }
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>()(s);
  }
};

// The cache's key: a 128-bit hash of a series text (`name{labels}` as
// scraped) stands for the text, which is ~150 bytes a series on
// kube-state-metrics. Two texts with one key would share an entry (one
// series carrying the other's labels). With the key as good as random, the
// chance that any two of n cached series collide is about n^2 / 2^129:
// 1.5e-27 at a million series, far below the odds of a memory error. A target
// that crafted a collision would only mix up its own series (a cache is one
// target's), which it can do anyway by exposing other labels.
struct SeriesKey {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  friend bool operator==(const SeriesKey&, const SeriesKey&) = default;
};

// Already a hash: any 64 bits of it will do.
struct SeriesKeyHash {
  std::size_t operator()(const SeriesKey& key) const noexcept { return key.lo; }
};

// wyhash's mixer: the 128-bit product folded to 64 bits.
inline std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

inline std::uint64_t load64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Two wyhash-style lanes over the same 16-byte blocks, each with its own
// secrets, so the halves are independent 64-bit hashes for the price of
// one pass (the two multiply chains overlap).
SeriesKey seriesKey(std::string_view text) {
  constexpr std::uint64_t kA0 = 0xa0761d6478bd642fULL, kA1 = 0xe7037ed1a0b428dbULL;
  constexpr std::uint64_t kB0 = 0x8ebc6af09c88c6e3ULL, kB1 = 0x589965cc75374cc3ULL;
  const char* p = text.data();
  std::size_t n = text.size();
  std::uint64_t a = mix(kA0 ^ n, kA1);
  std::uint64_t b = mix(kB0 ^ n, kB1);
  for (; n > 16; n -= 16, p += 16) {
    a = mix(load64(p) ^ kA1, load64(p + 8) ^ a);
    b = mix(load64(p) ^ kB1, load64(p + 8) ^ b);
  }
  // The last 1 to 16 bytes, zero-padded: the length in the seeds tells
  // "a" from "a\0".
  char tail[16] = {};
  if (n > 0) std::memcpy(tail, p, n);
  a = mix(load64(tail) ^ kA1, load64(tail + 8) ^ a);
  b = mix(load64(tail) ^ kB1, load64(tail + 8) ^ b);
  return {mix(a ^ kA0, kA1), mix(b ^ kB0, kB1)};
}

// What the cache knows of one series text. There is one per active series
// of every target, so its size matters: the flags are bits in one byte next
// to the name, where a 4-byte Symbol leaves room before the 8-byte fields;
// only the final labels are kept (what the checks need of the scraped ones
// is worked out once, when the series is new).
struct SeriesEntry {
  Symbol name;  // as exposed
  bool has_le : 1 = false;
  bool le_valid : 1 = false;  // le parses as a float (OpenMetrics: canonical +Inf)
  bool has_quantile : 1 = false;
  bool quantile_valid : 1 = false;  // a float in [0, 1]
  // OpenMetrics: has a label named like the series (a stateset's state label).
  bool labelled_by_name : 1 = false;
  // Staleness. `live`: the last ended scrape kept a sample of this series
  // stamped at scrape time, and no marker was written since, so it gets one
  // when it vanishes. `tracked`: this scrape's first sample of it has no
  // timestamp of its own (meaningful while `generation` is this scrape's).
  bool live : 1 = false;
  bool tracked : 1 = false;
  Labels labels;                 // final (after the labeler)
  Labels group;                  // OpenMetrics: scraped without `le` (histogram grouping)
  std::uint64_t generation = 0;  // of the last scrape that had a sample of it
  double le = 0;
};
static_assert(sizeof(SeriesEntry) <= 40, "one per cached series: mind its size");

}  // namespace

ExpositionFormat formatFromContentType(std::string_view content_type) {
  const std::size_t semi = content_type.find(';');
  std::string_view media = content_type.substr(0, semi);
  while (!media.empty() && isBlank(media.back())) media.remove_suffix(1);
  while (!media.empty() && isBlank(media.front())) media.remove_prefix(1);
  return equalsIgnoreCase(media, "application/openmetrics-text") ? ExpositionFormat::kOpenMetrics
                                                                 : ExpositionFormat::kText;
}

bool parseFloat(std::string_view text, double* out) {
  if (text.empty()) return false;
  bool negative = false;
  std::string_view s = text;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    s.remove_prefix(1);
    if (s.empty() || s[0] == '+' || s[0] == '-') return false;
  }
  if (equalsIgnoreCase(s, "inf") || equalsIgnoreCase(s, "infinity")) {
    *out = negative ? -kInf : kInf;
    return true;
  }
  if (equalsIgnoreCase(s, "nan")) {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  // from_chars would also take "inf"/"nan(...)" spellings, handled above.
  if (!((s[0] >= '0' && s[0] <= '9') || s[0] == '.')) return false;
  double v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ptr != s.data() + s.size()) return false;
  if (ec == std::errc::result_out_of_range) {
    // Go's ParseFloat returns ±Inf or 0 for out-of-range input; so do we.
    v = (s.find_first_of("eE") != std::string_view::npos && s.find("e-") != std::string_view::npos)
            ? 0.0
            : kInf;
  } else if (ec != std::errc()) {
    return false;
  }
  *out = negative ? -v : v;
  return true;
}

class TextParser::Impl {
 public:
  Impl(ParserOptions options, SeriesLabeler labeler)
      : options_(options), labeler_(std::move(labeler)) {}

  ParserOptions options_;
  SeriesLabeler labeler_;
  // Node-based: entries stay put on rehash, for the pointers below.
  std::unordered_map<SeriesKey, SeriesEntry, SeriesKeyHash> cache_;
  std::uint64_t generation_ = 0;
  std::size_t last_samples_ = 0;

  // Staleness (see TextParser). Per scrape: distinct series with a sample,
  // and how many of those keep their `live` state (live == tracked), so a
  // scrape with the same series as the previous one skips the pass.
  std::size_t touched_ = 0;
  std::size_t unchanged_ = 0;
  bool scrape_open_ = false;  // begun, neither finished nor abandoned
  // Markers go out in the order the series were scraped: neighbours in an
  // exposition are alike, and a remote-write body compresses them better
  // together than in hash order. `order_`: this scrape's tracked series (the
  // ones it may make live), in the order of their first samples.
  // `live_order_`: the live series, in the order of the last kept scrape;
  // exactly the entries with `live` set, so never evicted.
  std::vector<SeriesEntry*> order_;
  std::vector<SeriesEntry*> live_order_;
  // The live series of a dropped cache, owed a marker at the end of the next
  // ended scrape unless it has a sample of the same name and labels. Sorted
  // by (name id, labels id); empty but for the scrape after a drop.
  struct Orphan {
    Symbol name;
    Labels labels;
    std::size_t rank = 0;  // in the live order, for the markers
    bool seen = false;
  };
  std::vector<Orphan> orphans_;

  // Per scrape.
  ExpositionFormat format_ = ExpositionFormat::kText;
  ExpositionFormat last_format_ = ExpositionFormat::kText;
  SampleBatch* out_ = nullptr;
  ParseStats* stats_ = nullptr;
  std::int64_t default_ts_ = 0;
  std::string carry_;
  std::size_t line_no_ = 0;
  bool failed_ = false;
  bool saw_eof_ = false;
  std::size_t first_after_eof_line_ = 0;

  // kAuto: explicit timestamps whose unit depends on the final format.
  struct PendingTimestamp {
    std::size_t sample;
    double raw;  // as written
    bool is_integer;
    std::size_t line;
  };
  std::vector<PendingTimestamp> pending_ts_;

  // Scratch, reused between lines and scrapes.
  std::string value_scratch_;
  std::vector<std::pair<std::size_t, std::size_t>> label_names_;  // offsets into the line
  LabelsBuilder builder_;

  // Metadata of the current family (text: the TYPE/HELP name; OpenMetrics: the family).
  struct Family {
    std::string name;
    OmType type = OmType::kUnknown;
    bool typed = false;
    bool has_help = false;
    bool has_unit = false;
    bool has_samples = false;
    bool active = false;
    std::string help;
    std::string unit;
  };
  Family family_;

  // OpenMetrics checks.
  LabelsBuilder group_builder_;
  std::unordered_map<std::string, OmType, StringHash, std::equal_to<>> om_families_;
  std::unordered_set<const void*> om_groups_;
  struct Group {
    const void* id = nullptr;
    bool active = false;
    std::size_t first_line = 0;
    std::size_t buckets = 0;
    double last_le = -kInf;
    double last_bucket = 0;
    bool has_inf = false;
    double inf_value = 0;
    bool negative_bucket = false;
    bool has_count = false;
    double count = 0;
    bool has_sum = false;
    double sum = 0;
    bool after_buckets = false;
  };
  Group group_;
  const SeriesEntry* prev_entry_ = nullptr;
  bool prev_has_ts_ = false;
  double prev_ts_ = 0;

  Result<void> fail(std::string reason, ErrorCode code = ErrorCode::kInvalidArgument) {
    failed_ = true;
    return makeError(code, "line " + std::to_string(line_no_) + ": " + reason);
  }

  bool om() const { return format_ == ExpositionFormat::kOpenMetrics; }
  bool autoFormat() const { return format_ == ExpositionFormat::kAuto; }

  void begin(ExpositionFormat format, SampleBatch* out, std::int64_t ts, ParseStats* stats) {
    // A scrape left open is forgotten: it kept nothing and changes no
    // series' staleness state. Only eviction is done, so a caller that never
    // ends its scrapes still has a bounded cache.
    if (scrape_open_) {
      std::erase_if(cache_, [g = generation_](const auto& kv) {
        return !kv.second.live && kv.second.generation + 2 <= g;
      });
    }
    scrape_open_ = true;
    touched_ = 0;
    unchanged_ = 0;
    order_.clear();
    for (Orphan& orphan : orphans_) orphan.seen = false;
    // The same series text is valid or not depending on the grammar, and the
    // cache skips validation: a new grammar starts a new cache.
    if (format != last_format_) dropCache();
    last_format_ = format;
    format_ = format;
    out_ = out;
    stats_ = stats;
    *stats_ = ParseStats();
    default_ts_ = ts;
    carry_.clear();
    line_no_ = 0;
    failed_ = false;
    saw_eof_ = false;
    first_after_eof_line_ = 0;
    pending_ts_.clear();
    family_.active = false;
    om_families_.clear();
    om_groups_.clear();
    group_ = Group();
    prev_entry_ = nullptr;
    ++generation_;
    if (out_ != nullptr && last_samples_ > 0)
      out_->samples.reserve(out_->samples.size() + last_samples_);
  }

  Result<void> feed(std::string_view chunk) {
    if (failed_) return makeError(ErrorCode::kInvalidArgument, "parser already failed");
    while (!chunk.empty()) {
      const std::size_t nl = chunk.find('\n');
      if (nl == std::string_view::npos) {
        if (carry_.size() + chunk.size() > options_.max_line_bytes) {
          ++line_no_;
          return fail("line longer than " + std::to_string(options_.max_line_bytes) + " bytes",
                      ErrorCode::kResourceExhausted);
        }
        carry_.append(chunk);
        return {};
      }
      Result<void> r;
      if (!carry_.empty()) {
        if (carry_.size() + nl > options_.max_line_bytes) {
          ++line_no_;
          return fail("line longer than " + std::to_string(options_.max_line_bytes) + " bytes",
                      ErrorCode::kResourceExhausted);
        }
        carry_.append(chunk.substr(0, nl));
        r = line(carry_, true);
        carry_.clear();
      } else {
        if (nl > options_.max_line_bytes) {
          ++line_no_;
          return fail("line longer than " + std::to_string(options_.max_line_bytes) + " bytes",
                      ErrorCode::kResourceExhausted);
        }
        r = line(chunk.substr(0, nl), true);
      }
      if (!r) return r;
      chunk.remove_prefix(nl + 1);
    }
    return {};
  }

  Result<void> finish(ExpositionFormat resolved) {
    if (failed_) return makeError(ErrorCode::kInvalidArgument, "parser already failed");
    if (!carry_.empty()) {
      std::string last;
      last.swap(carry_);
      auto r = line(last, false);
      carry_.swap(last);
      carry_.clear();
      if (!r) return r;
    }
    if (autoFormat()) {
      format_ = resolved == ExpositionFormat::kAuto ? ExpositionFormat::kText : resolved;
      for (const PendingTimestamp& p : pending_ts_) {
        Sample& s = out_->samples[p.sample];
        if (om()) {
          s.timestamp_ms = secondsToMs(p.raw);
        } else if (!p.is_integer) {
          line_no_ = p.line;
          return fail("invalid timestamp (text format timestamps are integer milliseconds)");
        }
      }
    }
    if (om()) {
      if (auto r = closeFamily(); !r) return r;
      ++line_no_;
      if (!saw_eof_) return fail("missing \"# EOF\" at the end of an OpenMetrics body");
      if (first_after_eof_line_ != 0) {
        line_no_ = first_after_eof_line_;
        return fail("text after \"# EOF\"");
      }
    } else {
      emitMetadata();
    }
    last_samples_ = stats_->samples;
    endScrape(/*kept=*/true);
    return {};
  }

  void abandon() {
    if (scrape_open_) endScrape(/*kept=*/false);
  }

  // ---- staleness ----------------------------------------------------------

  void appendMarker(const Symbol& name, const Labels& labels) {
    if (!options_.stale_markers || out_ == nullptr) return;
    out_->samples.push_back(Sample{name, labels, kStaleNaN, default_ts_});
    ++stats_->stale_markers;
  }

  // Called at a series' first sample of the scrape, once its timestamp is known.
  void touch(SeriesEntry& entry, bool has_ts) {
    entry.generation = generation_;
    entry.tracked = !has_ts;
    ++touched_;
    unchanged_ += entry.live == entry.tracked;
    if (entry.tracked) order_.push_back(&entry);
    if (!orphans_.empty()) {
      const auto it = std::lower_bound(
          orphans_.begin(), orphans_.end(), entry,
          [](const Orphan& o, const SeriesEntry& e) { return orphanBefore(o, e); });
      if (it != orphans_.end() && it->name == entry.name && it->labels == entry.labels) {
        it->seen = true;
      }
    }
  }

  template <class A, class B>
  static bool orphanBefore(const A& a, const B& b) {
    const std::less<const void*> less;
    if (a.name.id() != b.name.id()) return less(a.name.id(), b.name.id());
    return less(a.labels.id(), b.labels.id());
  }

  // Ends the scrape: `kept` when its samples stay in the batch. Writes the
  // markers owed (see TextParser), updates each series' `live` state and
  // evicts the series absent from this scrape and the previous one, so
  // churn cannot grow the cache without bound while a series missing once
  // (a flapping target) stays. Skipped when every cached series had a
  // sample and none changed state (the steady case): the live series are
  // then the same, and only their order is new.
  void endScrape(bool kept) {
    scrape_open_ = false;
    const bool steady = kept && touched_ == cache_.size() && unchanged_ == touched_;
    if (!steady) {
      const std::uint64_t g = generation_;
      for (SeriesEntry* e : live_order_) {
        if (!(kept && e->generation == g)) appendMarker(e->name, e->labels);
        e->live = false;
      }
      for (SeriesEntry* e : order_) e->live = kept;
      if (touched_ < cache_.size()) {
        std::erase_if(cache_, [g](const auto& kv) { return kv.second.generation + 2 <= g; });
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

  // Empties the cache, keeping the live series as orphans (their markers are
  // still owed). Between scrapes only: the cache's entries are gone.
  void dropCache() {
    for (SeriesEntry* e : live_order_) {
      orphans_.push_back(Orphan{e->name, e->labels, orphans_.size()});
    }
    live_order_.clear();
    order_.clear();
    cache_.clear();
    std::sort(orphans_.begin(), orphans_.end(),
              [](const Orphan& a, const Orphan& b) { return orphanBefore(a, b); });
  }

  // ---- lines --------------------------------------------------------------

  Result<void> line(std::string_view text, bool terminated) {
    ++line_no_;
    ++stats_->lines;
    if (saw_eof_) {
      if (om()) {
        if (!terminated && text.empty()) return {};
        return fail("text after \"# EOF\"");
      }
      if (autoFormat() && first_after_eof_line_ == 0 && !(text.empty() && !terminated)) {
        first_after_eof_line_ = line_no_;
      }
    }
    if (!om()) {
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      std::size_t i = 0;
      while (i < text.size() && isBlank(text[i])) ++i;
      text.remove_prefix(i);
      if (text.empty()) return {};
    } else if (text.empty()) {
      return fail("blank line");
    }
    if (text[0] == '#') return om() ? omComment(text) : textComment(text);
    return sample(text);
  }

  // Text format: "# HELP name text", "# TYPE name type"; anything else is a comment.
  Result<void> textComment(std::string_view text) {
    std::size_t p = 1;
    while (p < text.size() && isBlank(text[p])) ++p;
    std::string_view rest = text.substr(p);
    if (autoFormat() && rest == "EOF") {
      saw_eof_ = true;
      return {};
    }
    const bool help = rest.starts_with("HELP");
    const bool type = rest.starts_with("TYPE");
    if ((!help && !type) || rest.size() == 4 || !isBlank(rest[4])) return {};
    p = 4;
    while (p < rest.size() && isBlank(rest[p])) ++p;
    const std::size_t name_end = scanMetricName(rest, p);
    std::string_view name = rest.substr(p, name_end - p);
    // "# HELP" alone is a comment to the Go parsers; a broken name is not.
    if (name_end == rest.size() && name.empty()) return {};
    if (name.empty() || (name_end < rest.size() && !isBlank(rest[name_end]))) {
      return fail(std::string("invalid metric name in ") + (help ? "HELP" : "TYPE") + " line: \"" +
                  excerpt(rest) + "\"");
    }
    p = name_end;
    while (p < rest.size() && isBlank(rest[p])) ++p;
    std::string_view arg = rest.substr(p);
    if (name != family_.name || !family_.active) {
      emitMetadata();
      startFamily(name);
    }
    if (type) {
      while (!arg.empty() && isBlank(arg.back())) arg.remove_suffix(1);
      OmType t = OmType::kUnknown;
      const bool ok =
          arg == "untyped" || ((arg == "counter" || arg == "gauge" || arg == "histogram" ||
                                arg == "summary" || autoFormat()) &&
                               parseOmType(arg, &t));
      if (!ok) return fail("invalid metric type \"" + excerpt(arg) + "\"");
      family_.type = t;
      family_.typed = true;
    } else {
      family_.has_help = true;
      unescapeHelp(arg, family_.help);
    }
    return {};
  }

  static void unescapeHelp(std::string_view in, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (in[i] == '\\' && i + 1 < in.size() && (in[i + 1] == '\\' || in[i + 1] == 'n')) {
        out.push_back(in[i + 1] == 'n' ? '\n' : '\\');
        ++i;
      } else {
        out.push_back(in[i]);
      }
    }
  }

  void startFamily(std::string_view name) {
    family_.name.assign(name);
    family_.type = OmType::kUnknown;
    family_.typed = family_.has_help = family_.has_unit = family_.has_samples = false;
    family_.help.clear();
    family_.unit.clear();
    family_.active = true;
  }

  void emitMetadata() {
    if (!family_.active || out_ == nullptr || !options_.metadata) return;
    if (!family_.typed && !family_.has_help && !family_.has_unit) return;
    MetricMetadata meta;
    // OpenMetrics names a counter family without the _total its samples carry;
    // the metadata follows the samples, as the exporters key it by sample name.
    if (om() && family_.type == OmType::kCounter) {
      value_scratch_.assign(family_.name).append("_total");
      meta.name = Symbol::intern(value_scratch_);
    } else {
      meta.name = Symbol::intern(family_.name);
    }
    meta.type = toMetricType(family_.type);
    meta.help = family_.help;
    meta.unit = family_.unit;
    out_->metadata.push_back(std::move(meta));
  }

  // OpenMetrics: exactly "# HELP name help", "# TYPE name type", "# UNIT name unit", "# EOF".
  Result<void> omComment(std::string_view text) {
    if (text == "# EOF") {
      if (auto r = closeFamily(); !r) return r;
      saw_eof_ = true;
      return {};
    }
    if (!text.starts_with("# ") || text.size() < 7 || text[6] != ' ') {
      return fail("invalid comment line (OpenMetrics allows only HELP, TYPE, UNIT and EOF): \"" +
                  excerpt(text) + "\"");
    }
    const std::string_view kind = text.substr(2, 4);
    if (kind != "HELP" && kind != "TYPE" && kind != "UNIT") {
      return fail("unknown metadata line \"" + excerpt(text) + "\"");
    }
    const std::size_t name_end = scanMetricName(text, 7);
    const std::string_view name = text.substr(7, name_end - 7);
    if (name.empty()) return fail("invalid metric name in " + std::string(kind) + " line");
    if (name_end >= text.size() || text[name_end] != ' ') {
      return fail(std::string(kind) + " line needs a space after the name");
    }
    const std::string_view arg = text.substr(name_end + 1);
    if (!family_.active || name != family_.name) {
      if (auto r = newOmFamily(name); !r) return r;
    } else if (family_.has_samples) {
      return fail(std::string(kind) + " for \"" + std::string(name) + "\" after its samples");
    }
    if (kind == "TYPE") {
      if (family_.typed) return fail("repeated TYPE for \"" + std::string(name) + "\"");
      OmType t;
      if (!parseOmType(arg, &t)) return fail("invalid metric type \"" + excerpt(arg) + "\"");
      family_.type = t;
      family_.typed = true;
      om_families_[family_.name] = t;
      for (std::string_view suffix : suffixesOf(t)) {
        if (suffix.empty()) continue;
        value_scratch_.assign(name).append(suffix);
        if (om_families_.count(value_scratch_) != 0) {
          return fail("family \"" + std::string(name) + "\" clashes with \"" + value_scratch_ +
                      "\"");
        }
      }
      if (family_.has_unit && (t == OmType::kInfo || t == OmType::kStateset)) {
        return fail("info and stateset families have no unit");
      }
    } else if (kind == "HELP") {
      if (family_.has_help) return fail("repeated HELP for \"" + std::string(name) + "\"");
      family_.has_help = true;
      unescapeHelp(arg, family_.help);
    } else {
      if (family_.has_unit) return fail("repeated UNIT for \"" + std::string(name) + "\"");
      family_.has_unit = true;
      family_.unit.assign(arg);
      if (!arg.empty()) {
        if (!(name.size() > arg.size() + 1 && name.ends_with(arg) &&
              name[name.size() - arg.size() - 1] == '_')) {
          return fail("metric name \"" + std::string(name) + "\" does not end with its unit \"_" +
                      excerpt(arg) + "\"");
        }
        if (family_.type == OmType::kInfo || family_.type == OmType::kStateset) {
          return fail("info and stateset families have no unit");
        }
      }
    }
    return {};
  }

  Result<void> newOmFamily(std::string_view name) {
    if (auto r = closeFamily(); !r) return r;
    if (om_families_.find(name) != om_families_.end()) {
      return fail("metric family \"" + std::string(name) +
                  "\" appears twice (families must not be interleaved or repeated)");
    }
    // "a_total" after a counter "a", "a_bucket" after a histogram "a"...
    for (std::string_view suffix :
         {"_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info"}) {
      if (!name.ends_with(suffix)) continue;
      auto it = om_families_.find(name.substr(0, name.size() - suffix.size()));
      if (it == om_families_.end()) continue;
      for (std::string_view owned : suffixesOf(it->second)) {
        if (owned == suffix) {
          return fail("metric \"" + std::string(name) + "\" belongs to the earlier family \"" +
                      it->first + "\"");
        }
      }
    }
    startFamily(name);
    om_families_.emplace(std::string(name), OmType::kUnknown);
    return {};
  }

  Result<void> closeFamily() {
    if (om()) {
      if (auto r = closeGroup(); !r) return r;
      om_groups_.clear();
    }
    emitMetadata();
    family_.active = false;
    return {};
  }

  // ---- samples ------------------------------------------------------------

  // Finds the end of `name{...}`; npos when the label set is unterminated.
  static std::size_t seriesEnd(std::string_view text, std::size_t name_end) {
    if (name_end >= text.size() || text[name_end] != '{') return name_end;
    // memchr-driven: the label set is most of a line, and the hot path of a
    // steady scrape is finding its end to look the series up.
    const char* const begin = text.data();
    const char* const stop = begin + text.size();
    const char* p = begin + name_end + 1;
    for (;;) {
      const auto* close =
          static_cast<const char*>(std::memchr(p, '}', static_cast<std::size_t>(stop - p)));
      if (close == nullptr) return std::string_view::npos;
      const auto* quote =
          static_cast<const char*>(std::memchr(p, '"', static_cast<std::size_t>(close - p)));
      if (quote == nullptr) return static_cast<std::size_t>(close - begin) + 1;
      // Skip the quoted value: its end is a '"' after an even run of backslashes.
      p = quote + 1;
      for (;;) {
        const auto* q =
            static_cast<const char*>(std::memchr(p, '"', static_cast<std::size_t>(stop - p)));
        if (q == nullptr) return std::string_view::npos;
        std::size_t backslashes = 0;
        for (const char* b = q; b > p && b[-1] == '\\'; --b) ++backslashes;
        p = q + 1;
        if (backslashes % 2 == 0) break;
      }
    }
  }

  // Parses `{...}` at text[open], calling on(name, value) for each label
  // (value unescaped into value_scratch_). Returns an error reason or "".
  template <class OnLabel>
  std::string parseLabelSet(std::string_view text, std::size_t open, std::size_t close,
                            OnLabel&& on) {
    std::size_t p = open + 1;
    const std::size_t end = close - 1;  // the '}'
    const bool strict = om();
    bool first = true;
    for (;;) {
      if (!strict) {
        while (p < end && isBlank(text[p])) ++p;
      }
      if (p == end) {
        if (!first && strict) return "trailing comma in label set";
        return {};
      }
      const std::size_t name_start = p;
      if (!isLabelStart(text[p]))
        return "invalid label name at \"" + excerpt(text.substr(p)) + "\"";
      while (p < end && isLabelChar(text[p])) ++p;
      const std::string_view lname = text.substr(name_start, p - name_start);
      if (!strict) {
        while (p < end && isBlank(text[p])) ++p;
      }
      if (p >= end || text[p] != '=')
        return "expected '=' after label name \"" + std::string(lname) + "\"";
      ++p;
      if (!strict) {
        while (p < end && isBlank(text[p])) ++p;
      }
      if (p >= end || text[p] != '"')
        return "label value of \"" + std::string(lname) + "\" is not quoted";
      ++p;
      value_scratch_.clear();
      std::size_t run = p;
      while (p < end && text[p] != '"') {
        if (text[p] == '\\' && p + 1 < end) {
          const char e = text[p + 1];
          // \\ \" \n are the escapes; others stay as written (Prometheus and
          // the OpenMetrics suite keep "\z" literally).
          if (e == '\\' || e == '"' || e == 'n') {
            value_scratch_.append(text.substr(run, p - run));
            value_scratch_.push_back(e == 'n' ? '\n' : e);
            p += 2;
            run = p;
            continue;
          }
        }
        ++p;
      }
      if (p >= end) return "unterminated label value";
      value_scratch_.append(text.substr(run, p - run));
      ++p;  // closing quote
      if (std::string reason = on(lname, std::string_view(value_scratch_)); !reason.empty()) {
        return reason;
      }
      first = false;
      if (!strict) {
        while (p < end && isBlank(text[p])) ++p;
      }
      if (p == end) return {};
      if (text[p] != ',')
        return "expected ',' or '}' in label set at \"" + excerpt(text.substr(p)) + "\"";
      ++p;
    }
  }

  Result<SeriesEntry*> newSeries(const SeriesKey& key, std::string_view text, std::size_t name_end,
                                 std::size_t open, std::size_t end) {
    const std::string_view name = text.substr(0, name_end);
    builder_.clear();
    label_names_.clear();
    if (end > open) {
      std::string reason =
          parseLabelSet(text, open, end, [&](std::string_view lname, std::string_view value) {
            if (lname == "__name__") return std::string("label name \"__name__\" is reserved");
            for (const auto& [off, len] : label_names_) {
              if (text.substr(off, len) == lname)
                return "duplicate label \"" + std::string(lname) + "\"";
            }
            if (label_names_.size() >= options_.max_labels) {
              return "more than " + std::to_string(options_.max_labels) + " labels";
            }
            label_names_.emplace_back(static_cast<std::size_t>(lname.data() - text.data()),
                                      lname.size());
            if (!text::isValidUtf8(value))
              return "invalid UTF-8 in the value of label \"" + std::string(lname) + "\"";
            builder_.set(lname, value);
            return std::string();
          });
      if (!reason.empty()) {
        return tl::unexpected(fail(reason, reason.starts_with("more than")
                                               ? ErrorCode::kResourceExhausted
                                               : ErrorCode::kInvalidArgument)
                                  .error());
      }
    }
    SeriesEntry entry;
    entry.name = Symbol::intern(name);
    const std::string_view le = builder_.get("le");
    // An empty le/quantile is absent (empty label values drop the label).
    entry.has_le = !le.empty();
    if (entry.has_le) {
      if (om()) {
        entry.le_valid = le == "+Inf" ? (entry.le = kInf, true)
                                      : (le.find_first_of("iInN") == std::string_view::npos &&
                                         parseFloat(le, &entry.le));
      } else {
        entry.le_valid = parseFloat(le, &entry.le) && !std::isnan(entry.le);
      }
    }
    const std::string_view q = builder_.get("quantile");
    entry.has_quantile = !q.empty();
    double quantile = 0;
    entry.quantile_valid =
        entry.has_quantile && parseFloat(q, &quantile) && quantile >= 0 && quantile <= 1;
    if (om()) {
      entry.labelled_by_name = !builder_.get(name).empty();
      group_builder_ = builder_;
      group_builder_.erase("le");
      entry.group = group_builder_.build();
    }
    entry.labels = labeler_ ? labeler_(entry.name, builder_) : builder_.build();
    ++stats_->new_series;
    return &cache_.emplace(key, std::move(entry)).first->second;
  }

  Result<void> sample(std::string_view text) {
    std::size_t name_end = scanMetricName(text, 0);
    if (name_end == 0) return fail("invalid metric name at \"" + excerpt(text) + "\"");
    std::size_t open = name_end;
    if (!om()) {
      // The text format allows blanks between the name and its labels.
      while (open < text.size() && isBlank(text[open])) ++open;
      if (open == text.size() || text[open] != '{') open = name_end;
    }
    const std::size_t end = seriesEnd(text, open);
    if (end == std::string_view::npos) return fail("unterminated label set");
    const SeriesKey key = seriesKey(text.substr(0, end));
    SeriesEntry* entry;
    if (auto it = cache_.find(key); it != cache_.end()) {
      entry = &it->second;
    } else {
      auto created = newSeries(key, text, name_end, open, end);
      if (!created) return tl::unexpected(created.error());
      entry = *created;
    }

    // Value, optional timestamp, optional exemplar.
    std::size_t p = end;
    std::string_view rest = text.substr(p);
    if (om()) {
      if (rest.empty() || rest[0] != ' ')
        return fail("expected a single space and a value after the series");
      rest.remove_prefix(1);
    } else {
      // After a label set the blank is optional (as for the Go parsers).
      if (rest.empty() || (!isBlank(rest[0]) && end == name_end)) {
        return fail(rest.empty() ? "missing value" : "invalid series \"" + excerpt(text) + "\"");
      }
      while (!rest.empty() && isBlank(rest[0])) rest.remove_prefix(1);
    }
    std::size_t tok = 0;
    while (tok < rest.size() && !isBlank(rest[tok])) ++tok;
    const std::string_view value_text = rest.substr(0, tok);
    double value;
    if (!parseFloat(value_text, &value))
      return fail("invalid value \"" + excerpt(value_text) + "\"");
    rest.remove_prefix(tok);

    bool has_ts = false;
    double ts_raw = 0;
    bool ts_integer = false;
    std::int64_t ts_ms = default_ts_;
    std::string_view exemplar;
    if (!rest.empty()) {
      if (om()) {
        if (rest[0] != ' ' || rest.size() == 1) return fail("trailing whitespace after the value");
        rest.remove_prefix(1);
      } else {
        while (!rest.empty() && isBlank(rest[0])) rest.remove_prefix(1);
      }
      if (!rest.empty() && rest[0] == '#') {
        exemplar = rest;
      } else if (!rest.empty()) {
        tok = 0;
        while (tok < rest.size() && !isBlank(rest[tok])) ++tok;
        const std::string_view ts_text = rest.substr(0, tok);
        rest.remove_prefix(tok);
        has_ts = true;
        if (om()) {
          if (!parseTimestampSeconds(ts_text, &ts_raw))
            return fail("invalid timestamp \"" + excerpt(ts_text) + "\"");
          ts_ms = secondsToMs(ts_raw);
        } else {
          std::int64_t v = 0;
          const auto [ptr, ec] =
              std::from_chars(ts_text.data(), ts_text.data() + ts_text.size(), v);
          ts_integer = ec == std::errc() && ptr == ts_text.data() + ts_text.size();
          if (ts_integer) {
            ts_ms = v;
            ts_raw = static_cast<double>(v);
          } else if (!autoFormat() || !parseTimestampSeconds(ts_text, &ts_raw)) {
            return fail("invalid timestamp \"" + excerpt(ts_text) + "\"");
          }
        }
        if (!rest.empty()) {
          if (om()) {
            if (rest[0] != ' ' || rest.size() == 1)
              return fail("trailing whitespace after the timestamp");
            rest.remove_prefix(1);
          } else {
            while (!rest.empty() && isBlank(rest[0])) rest.remove_prefix(1);
          }
          if (!rest.empty()) {
            if (rest[0] != '#')
              return fail("unexpected text after the timestamp: \"" + excerpt(rest) + "\"");
            exemplar = rest;
          }
        }
      }
    }
    if (!exemplar.empty()) {
      if (format_ == ExpositionFormat::kText) {
        return fail("exemplars are not part of the text format: \"" + excerpt(exemplar) + "\"");
      }
      if (auto r = parseExemplar(exemplar); !r) return r;
    }
    if (om()) {
      if (auto r = omCheckSample(*entry, value, has_ts, ts_raw, !exemplar.empty()); !r) return r;
    } else if (auto r = textCheckSample(*entry); !r) {
      return r;
    }

    if (options_.max_samples != 0 && stats_->samples >= options_.max_samples) {
      return fail("sample limit of " + std::to_string(options_.max_samples) + " exceeded",
                  ErrorCode::kResourceExhausted);
    }
    if (autoFormat() && has_ts) {
      pending_ts_.push_back({out_->samples.size(), ts_raw, ts_integer, line_no_});
      if (!ts_integer) ts_ms = default_ts_;
    }
    if (entry->generation != generation_) touch(*entry, has_ts);
    out_->samples.push_back(Sample{entry->name, entry->labels, value, ts_ms});
    ++stats_->samples;
    return {};
  }

  // " # {labels} value [timestamp]" after a value; parsed and dropped.
  Result<void> parseExemplar(std::string_view text) {
    if (!text.starts_with("# {")) return fail("invalid exemplar \"" + excerpt(text) + "\"");
    const std::size_t open = 2;
    const std::size_t close = seriesEnd(text, open);
    if (close == std::string_view::npos) return fail("unterminated exemplar label set");
    std::size_t chars = 0;
    std::string reason =
        parseLabelSet(text, open, close, [&](std::string_view n, std::string_view v) {
          chars += text::codePointCount(n) + text::codePointCount(v);
          return std::string();
        });
    if (!reason.empty()) return fail("exemplar: " + reason);
    if (chars > 128) return fail("exemplar labels longer than 128 characters");
    std::string_view rest = text.substr(close);
    if (rest.size() < 2 || rest[0] != ' ') return fail("exemplar without a value");
    rest.remove_prefix(1);
    const std::size_t sp = rest.find(' ');
    double v;
    if (!parseFloat(rest.substr(0, sp), &v)) return fail("invalid exemplar value");
    if (sp != std::string_view::npos) {
      double ts;
      if (!parseTimestampSeconds(rest.substr(sp + 1), &ts))
        return fail("invalid exemplar timestamp");
    }
    return {};
  }

  // Text format: le/quantile of typed histograms and summaries must be numbers.
  Result<void> textCheckSample(const SeriesEntry& e) {
    if (!family_.active || !family_.typed) return {};
    if (family_.type != OmType::kHistogram && family_.type != OmType::kSummary) return {};
    const std::string_view name = e.name.view();
    if (!name.starts_with(family_.name)) return {};
    const std::string_view suffix = name.substr(family_.name.size());
    if (family_.type == OmType::kHistogram && suffix == "_bucket") {
      if (!e.has_le || !e.le_valid) return fail("histogram bucket without a numeric \"le\" label");
    } else if (family_.type == OmType::kSummary && suffix.empty()) {
      if (e.has_quantile && !e.quantile_valid) return fail("invalid \"quantile\" label");
    }
    return {};
  }

  // ---- OpenMetrics sample rules ------------------------------------------

  Result<void> omCheckSample(const SeriesEntry& e, double value, bool has_ts, double ts,
                             bool has_exemplar) {
    const std::string_view name = e.name.view();
    std::string_view suffix;
    bool belongs = false;
    if (family_.active && name.starts_with(family_.name)) {
      suffix = name.substr(family_.name.size());
      for (std::string_view owned : suffixesOf(family_.type)) belongs |= owned == suffix;
    }
    if (!belongs) {
      if (auto r = newOmFamily(name); !r) return r;
      suffix = {};
    }
    family_.has_samples = true;

    // Timestamps of one series must not go backwards, and are all or none.
    if (prev_entry_ == &e) {
      if (prev_has_ts_ != has_ts)
        return fail("some samples of a series have timestamps and some not");
      if (has_ts && ts < prev_ts_) return fail("timestamps of a series go backwards");
    }
    prev_entry_ = &e;
    prev_has_ts_ = has_ts;
    prev_ts_ = ts;

    const OmType t = family_.type;
    const bool counterLike =
        (t == OmType::kCounter && suffix == "_total") ||
        ((t == OmType::kHistogram || t == OmType::kSummary) && (suffix == "_count")) ||
        (t == OmType::kGaugeHistogram && suffix == "_gcount");
    if (counterLike && (std::isnan(value) || value < 0)) {
      return fail("\"" + std::string(name) + "\" must be a non-negative number");
    }
    const bool exemplarAllowed =
        (t == OmType::kCounter && suffix == "_total") ||
        ((t == OmType::kHistogram || t == OmType::kGaugeHistogram) && suffix == "_bucket");
    if (has_exemplar && !exemplarAllowed)
      return fail("exemplar not allowed on \"" + std::string(name) + "\"");

    switch (t) {
      case OmType::kStateset:
        // A stateset's family is the series' name (it owns no suffix).
        if (!e.labelled_by_name) {
          return fail("stateset sample without the \"" + family_.name + "\" label");
        }
        if (value != 0 && value != 1) return fail("stateset value must be 0 or 1");
        break;
      case OmType::kInfo:
        if (value != 1) return fail("info value must be 1");
        break;
      case OmType::kSummary:
        if (suffix.empty()) {
          if (!e.has_quantile || !e.quantile_valid)
            return fail("summary quantile needs a \"quantile\" label in [0, 1]");
        } else if (suffix == "_sum" && std::isnan(value)) {
          // Negative sums are against the spec but client_golang writes them.
          return fail("summary _sum must not be NaN");
        }
        break;
      case OmType::kHistogram:
      case OmType::kGaugeHistogram:
        if (suffix != "_created") return histogramSample(e, suffix, value);
        break;
      default:
        break;
    }
    return {};
  }

  Result<void> histogramSample(const SeriesEntry& e, std::string_view suffix, double value) {
    if (group_.active && group_.id != e.group.id()) {
      if (auto r = closeGroup(); !r) return r;
    }
    if (!group_.active) {
      if (!om_groups_.insert(e.group.id()).second) {
        return fail("samples of one histogram are not together");
      }
      group_ = Group();
      group_.active = true;
      group_.id = e.group.id();
      group_.first_line = line_no_;
    }
    if (suffix == "_bucket") {
      if (!e.has_le || !e.le_valid) return fail("histogram bucket without a valid \"le\" label");
      if (group_.after_buckets) return fail("histogram bucket after its _count or _sum");
      if (std::isnan(value) || value < 0) return fail("bucket count must be a non-negative number");
      if (group_.buckets > 0 && !(e.le > group_.last_le))
        return fail("histogram buckets are not in increasing \"le\" order");
      if (group_.buckets > 0 && value < group_.last_bucket)
        return fail("histogram bucket counts decrease");
      ++group_.buckets;
      group_.last_le = e.le;
      group_.last_bucket = value;
      if (e.le < 0) group_.negative_bucket = true;
      if (std::isinf(e.le) && e.le > 0) {
        group_.has_inf = true;
        group_.inf_value = value;
      }
    } else if (suffix == "_count" || suffix == "_gcount") {
      group_.after_buckets = true;
      group_.has_count = true;
      group_.count = value;
    } else {  // _sum, _gsum
      if (std::isnan(value)) return fail("histogram sum must not be NaN");
      group_.after_buckets = true;
      group_.has_sum = true;
      group_.sum = value;
    }
    return {};
  }

  Result<void> closeGroup() {
    if (!group_.active) return {};
    group_.active = false;
    const bool gauge = family_.type == OmType::kGaugeHistogram;
    if (!group_.has_inf)
      return fail("histogram without a +Inf bucket (from line " +
                  std::to_string(group_.first_line) + ")");
    if (group_.has_count != group_.has_sum) return fail("histogram has only one of count and sum");
    if (group_.has_count && group_.count != group_.inf_value)
      return fail("histogram count differs from its +Inf bucket");
    // The spec also forbids a sum next to negative buckets, but client_golang
    // writes one (prom-textparse/alltypes.5mfs.om.txt) and Prometheus reads it.
    if (group_.has_sum && group_.sum < 0 && !group_.negative_bucket) {
      return fail(std::string(gauge ? "gauge histogram" : "histogram") +
                  " sum is negative without negative buckets");
    }
    return {};
  }
};

TextParser::TextParser(ParserOptions options, SeriesLabeler labeler)
    : impl_(std::make_unique<Impl>(options, std::move(labeler))) {}

TextParser::~TextParser() = default;

void TextParser::begin(ExpositionFormat format, SampleBatch* out,
                       std::int64_t default_timestamp_ms) {
  impl_->begin(format, out, default_timestamp_ms, &stats_);
}

Result<void> TextParser::feed(std::string_view chunk) { return impl_->feed(chunk); }

Result<void> TextParser::finish(ExpositionFormat format) { return impl_->finish(format); }

std::size_t TextParser::cachedSeries() const { return impl_->cache_.size(); }

void TextParser::abandon() { impl_->abandon(); }

void TextParser::clearCache() { impl_->dropCache(); }

Result<ParseStats> parseText(std::string_view body, ExpositionFormat format, SampleBatch& out,
                             std::int64_t default_timestamp_ms) {
  TextParser parser;
  parser.begin(format, &out, default_timestamp_ms);
  if (auto r = parser.feed(body); !r) return tl::unexpected(r.error());
  if (auto r = parser.finish(format); !r) return tl::unexpected(r.error());
  return parser.stats();
}

}  // namespace kubemetrics::scrape
