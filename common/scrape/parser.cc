#include "common/scrape/parser.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "common/scrape/exposition_lexer.h"
#include "common/scrape/openmetrics_rules.h"
#include "common/text/utf8.h"

namespace kubemetrics::scrape {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

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

// The state of one body's parse. Every member is reset by begin() (the
// scratch buffers keep their capacity).
class TextParser::Impl {
 public:
  explicit Impl(ParserOptions options) : options_(options) {}

  ParserOptions options_;

  // Per body.
  ExpositionFormat format_ = ExpositionFormat::kText;
  SampleBatch* out_ = nullptr;
  TextParseStats* stats_ = nullptr;
  SeriesResolver* series_ = nullptr;
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

  // Scratch, reused between lines and bodies.
  std::string value_scratch_;
  std::vector<std::pair<std::size_t, std::size_t>> label_names_;  // offsets into the line
  LabelsBuilder builder_;
  LabelsBuilder group_builder_;

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
  OpenMetricsRules rules_;

  // What follows the series on a sample line.
  struct SampleTail {
    double value = 0;
    bool has_ts = false;
    double ts_raw = 0;  // as written: OpenMetrics seconds, text milliseconds
    bool ts_integer = false;
    std::int64_t ts_ms = 0;
    std::string_view exemplar;
  };

  Result<void> fail(std::string reason, ErrorCode code = ErrorCode::kInvalidArgument) {
    failed_ = true;
    return makeError(code, "line " + std::to_string(line_no_) + ": " + reason);
  }

  // An OpenMetricsRules verdict: "" passes.
  Result<void> check(std::string reason) {
    if (reason.empty()) return {};
    return fail(std::move(reason));
  }

  bool om() const { return format_ == ExpositionFormat::kOpenMetrics; }
  bool autoFormat() const { return format_ == ExpositionFormat::kAuto; }

  void begin(ExpositionFormat format, SampleBatch* out, std::int64_t ts, TextParseStats* stats,
             SeriesResolver* series) {
    format_ = format;
    out_ = out;
    stats_ = stats;
    *stats_ = TextParseStats();
    series_ = series;
    default_ts_ = ts;
    carry_.clear();
    line_no_ = 0;
    failed_ = false;
    saw_eof_ = false;
    first_after_eof_line_ = 0;
    pending_ts_.clear();
    family_.active = false;
    rules_.reset();
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
    return {};
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
      if (auto r = check(rules_.typed(family_.name, t)); !r) return r;
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
    if (auto r = check(rules_.newFamily(name)); !r) return r;
    startFamily(name);
    return {};
  }

  Result<void> closeFamily() {
    if (om()) {
      if (auto r = check(rules_.closeFamily(family_.type == OmType::kGaugeHistogram)); !r) return r;
    }
    emitMetadata();
    family_.active = false;
    return {};
  }

  // ---- samples ------------------------------------------------------------

  // Reads the labels of a series the resolver does not know yet, works out
  // what the grammar's rules need of them and hands it all to the resolver.
  Result<const SeriesInfo*> newSeries(std::string_view text, std::size_t name_end, std::size_t open,
                                      std::size_t end) {
    const std::string_view name = text.substr(0, name_end);
    builder_.clear();
    label_names_.clear();
    if (end > open) {
      std::string reason = parseLabelSet(
          text, open, end, om(), value_scratch_,
          [&](std::string_view lname, std::string_view value) {
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
    SeriesInfo info;
    info.name = Symbol::intern(name);
    const std::string_view le = builder_.get("le");
    // An empty le/quantile is absent (empty label values drop the label).
    info.has_le = !le.empty();
    if (info.has_le) {
      if (om()) {
        info.le_valid = le == "+Inf" ? (info.le = kInf, true)
                                     : (le.find_first_of("iInN") == std::string_view::npos &&
                                        parseFloat(le, &info.le));
      } else {
        info.le_valid = parseFloat(le, &info.le) && !std::isnan(info.le);
      }
    }
    const std::string_view q = builder_.get("quantile");
    info.has_quantile = !q.empty();
    double quantile = 0;
    info.quantile_valid =
        info.has_quantile && parseFloat(q, &quantile) && quantile >= 0 && quantile <= 1;
    if (om()) {
      info.labelled_by_name = !builder_.get(name).empty();
      group_builder_ = builder_;
      group_builder_.erase("le");
      info.group = group_builder_.build();
    }
    return series_->add(std::move(info), builder_);
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
    const std::size_t end = findSeriesEnd(text, open);
    if (end == std::string_view::npos) return fail("unterminated label set");
    const SeriesInfo* series = series_->find(text.substr(0, end));
    if (series == nullptr) {
      auto created = newSeries(text, name_end, open, end);
      if (!created) return tl::unexpected(created.error());
      series = *created;
    }

    SampleTail tail;
    tail.ts_ms = default_ts_;
    if (auto r = readTail(text, name_end, end, tail); !r) return r;
    if (!tail.exemplar.empty()) {
      if (format_ == ExpositionFormat::kText) {
        return fail("exemplars are not part of the text format: \"" + excerpt(tail.exemplar) +
                    "\"");
      }
      if (auto r = parseExemplar(tail.exemplar); !r) return r;
    }
    if (om()) {
      if (auto r = omCheckSample(*series, tail); !r) return r;
    } else if (auto r = textCheckSample(*series); !r) {
      return r;
    }

    if (options_.max_samples != 0 && stats_->samples >= options_.max_samples) {
      return fail("sample limit of " + std::to_string(options_.max_samples) + " exceeded",
                  ErrorCode::kResourceExhausted);
    }
    if (autoFormat() && tail.has_ts) {
      pending_ts_.push_back({out_->samples.size(), tail.ts_raw, tail.ts_integer, line_no_});
      if (!tail.ts_integer) tail.ts_ms = default_ts_;
    }
    series_->accepted(*series, tail.has_ts);
    out_->samples.push_back(Sample{series->name, series->labels, tail.value, tail.ts_ms});
    ++stats_->samples;
    return {};
  }

  // Value, optional timestamp, optional exemplar: the line after the series
  // text, which ends at text[end] (text[name_end] when it has no labels).
  Result<void> readTail(std::string_view text, std::size_t name_end, std::size_t end,
                        SampleTail& tail) {
    std::string_view rest = text.substr(end);
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
    if (!parseFloat(value_text, &tail.value))
      return fail("invalid value \"" + excerpt(value_text) + "\"");
    rest.remove_prefix(tok);
    if (rest.empty()) return {};
    if (om()) {
      if (rest[0] != ' ' || rest.size() == 1) return fail("trailing whitespace after the value");
      rest.remove_prefix(1);
    } else {
      while (!rest.empty() && isBlank(rest[0])) rest.remove_prefix(1);
    }
    if (!rest.empty() && rest[0] == '#') {
      tail.exemplar = rest;
      return {};
    }
    if (rest.empty()) return {};
    tok = 0;
    while (tok < rest.size() && !isBlank(rest[tok])) ++tok;
    const std::string_view ts_text = rest.substr(0, tok);
    rest.remove_prefix(tok);
    tail.has_ts = true;
    if (auto r = readTimestamp(ts_text, tail); !r) return r;
    if (rest.empty()) return {};
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
      tail.exemplar = rest;
    }
    return {};
  }

  // OpenMetrics: seconds, maybe fractional. Text: integer milliseconds; under
  // kAuto also seconds like OpenMetrics, until finish() knows the format.
  Result<void> readTimestamp(std::string_view ts_text, SampleTail& tail) {
    if (om()) {
      if (!parseTimestampSeconds(ts_text, &tail.ts_raw))
        return fail("invalid timestamp \"" + excerpt(ts_text) + "\"");
      tail.ts_ms = secondsToMs(tail.ts_raw);
      return {};
    }
    std::int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(ts_text.data(), ts_text.data() + ts_text.size(), v);
    tail.ts_integer = ec == std::errc() && ptr == ts_text.data() + ts_text.size();
    if (tail.ts_integer) {
      tail.ts_ms = v;
      tail.ts_raw = static_cast<double>(v);
    } else if (!autoFormat() || !parseTimestampSeconds(ts_text, &tail.ts_raw)) {
      return fail("invalid timestamp \"" + excerpt(ts_text) + "\"");
    }
    return {};
  }

  // " # {labels} value [timestamp]" after a value; parsed and dropped.
  Result<void> parseExemplar(std::string_view text) {
    if (!text.starts_with("# {")) return fail("invalid exemplar \"" + excerpt(text) + "\"");
    const std::size_t open = 2;
    const std::size_t close = findSeriesEnd(text, open);
    if (close == std::string_view::npos) return fail("unterminated exemplar label set");
    std::size_t chars = 0;
    std::string reason = parseLabelSet(text, open, close, om(), value_scratch_,
                                       [&](std::string_view n, std::string_view v) {
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
  Result<void> textCheckSample(const SeriesInfo& e) {
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

  // OpenMetrics: finds the sample's family (a sample outside the current
  // one starts a new family), then applies the rules.
  Result<void> omCheckSample(const SeriesInfo& e, const SampleTail& tail) {
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
    return check(rules_.sample(OmSample{.series = e,
                                        .family_type = family_.type,
                                        .family_name = family_.name,
                                        .suffix = suffix,
                                        .value = tail.value,
                                        .has_timestamp = tail.has_ts,
                                        .timestamp = tail.ts_raw,
                                        .has_exemplar = !tail.exemplar.empty(),
                                        .line = line_no_}));
  }
};

TextParser::TextParser(ParserOptions options) : impl_(std::make_unique<Impl>(options)) {}

TextParser::~TextParser() = default;

void TextParser::begin(ExpositionFormat format, SampleBatch* out, std::int64_t default_timestamp_ms,
                       SeriesResolver& series) {
  impl_->begin(format, out, default_timestamp_ms, &stats_, &series);
}

Result<void> TextParser::feed(std::string_view chunk) { return impl_->feed(chunk); }

Result<void> TextParser::finish(ExpositionFormat format) { return impl_->finish(format); }

}  // namespace kubemetrics::scrape
