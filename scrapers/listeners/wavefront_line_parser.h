#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kubemetrics/labels.h"
#include "kubemetrics/sample.h"

namespace kubemetrics::scrapers::listeners {

/// Why a line was rejected. rejectionName() gives the snake_case value of the
/// `reason` label of kubemetrics_listener_rejected_total. The reasons
/// follow the checks of the Wavefront proxy (java-lib's decoder and
/// com.wavefront.data.Validation), so that a line the proxy blocked is
/// blocked here too and the counts say why; docs/listeners.md lists them.
enum class LineRejection : std::uint8_t {
  kLineTooLong,         // more than LineLimits::max_line_bytes
  kBadName,             // empty metric name or a character the format forbids
  kNameTooLong,         // more than LineLimits::max_name_length
  kMissingValue,        // nothing after the name, or a tag where the value belongs
  kBadValue,            // not a finite decimal number
  kBadTimestamp,        // a token starting with a digit that is not a timestamp
  kUnterminatedQuote,   // a quoted name, key or value without its closing quote
  kBadTag,              // no '=', empty key, forbidden key character, blank value
  kTagTooLong,          // key, value or key + value beyond the limits
  kTooManyTags,         // more than LineLimits::max_tags point tags
  kBadSource,           // source= or host= empty, blank or too long
  kNonPositiveDelta,    // a delta counter (name starts with U+2206 or U+0394) <= 0
  kHistogram,           // a !M, !H or !D histogram line: not forwarded yet
  kUnsupportedCommand,  // an @SourceTag, @SourceDescription or @Event line
};
inline constexpr std::size_t kRejectionCount = 14;

/// "line_too_long", "bad_name", ... (the self-metric label value).
std::string_view rejectionName(LineRejection reason);

/// Limits and checks of one parser. The defaults are the Wavefront proxy's
/// (ValidationConfiguration defaults; lengths in UTF-16 code units, as Java
/// counts them), so a line accepted here is one the proxy and the service
/// accept. A plain value type.
struct LineLimits {
  /// Longest line, in bytes, without its '\n' (proxy pushListenerMaxReceivedLength).
  std::size_t max_line_bytes = 32 * 1024;
  /// Point tags besides the source (proxy annotationsCountLimit; docs "Point
  /// Tag Maximum": more than 20 and the point is dropped).
  std::size_t max_tags = 20;
  std::size_t max_name_length = 256;           // metricLengthLimit
  std::size_t max_source_length = 128;         // hostLengthLimit
  std::size_t max_tag_key_length = 64;         // annotationsKeyLengthLimit
  std::size_t max_tag_value_length = 255;      // annotationsValueLengthLimit
  std::size_t max_tag_key_value_length = 254;  // "k=v" < 256 (Validation WF-411)
  /// True (the proxy's behaviour): metric names and tag keys hold only
  /// [A-Za-z0-9._,/-], a name may start with U+2206, U+0394 or '~'
  /// (Validation.charactersAreValid). False: a *quoted* name or key may hold
  /// any text, as java-lib's decoder alone allows; unquoted ones are still
  /// checked (the docs allow '/' and ',' only in quotes, so quoting is what
  /// widens the set).
  bool strict_charset = true;
};

/// What parse() made of one line.
enum class LineResult { kPoint, kSkipped /* blank or comment */, kRejected };

/// Parses Wavefront data format lines (docs pages/doc/wavefront_data_format.md):
///
///   <metricName> <value> [<timestamp>] [source=<source>] [<key>=<value> ...]
///
/// as the Wavefront proxy does (java-lib StringParser, AbstractIngesterFormatter,
/// ReportPointIngesterFormatter, Validation): names, keys and values bare or in
/// double or single quotes (a backslash before the quote character escapes
/// it; every other backslash is literal); tags in any order, `source=` or
/// `host=` anywhere among them; value in decimal or scientific notation;
/// timestamp in seconds (with an optional fraction), milliseconds,
/// microseconds or nanoseconds, told apart by magnitude; delta counters
/// (name prefix U+2206 or U+0394) kept as written. docs/listeners.md has
/// the full rules and every rejection.
///
/// Not thread-safe: one parser per connection or per handler call. It reuses
/// its scratch buffers and LabelsBuilder, so once warmed up a line costs no
/// allocation besides the interning of texts not seen before.
class WavefrontLineParser {
 public:
  explicit WavefrontLineParser(LineLimits limits = {});

  /// Parses one line without its '\n' (a trailing '\r' is ignored).
  /// kPoint: `out` is the sample: the name as written (quotes removed,
  /// escapes resolved), labels = the point tags plus `source` (from
  /// source=, else host=, else `default_source`; none when that is empty
  /// too, and the exporter picks one), timestamp_ms (`now_ms` when the line
  /// has none). As in the proxy, with source= present a host= tag becomes
  /// `_host`, and a tag named `tag` becomes `_tag`.
  /// kSkipped: blank, or a comment ('#' first). kRejected: *why (when not
  /// null) says why; `out` is left as it was in both cases.
  LineResult parse(std::string_view line, std::int64_t now_ms, std::string_view default_source,
                   Sample& out, LineRejection* why);

  const LineLimits& limits() const { return limits_; }

 private:
  struct Tag {
    std::string_view key;
    std::string_view value;
    const Symbol* interned_key = nullptr;  // set for the renamed `_host` and `_tag`
  };
  enum class TokenKind { kName, kKey, kValue };

  // Reads the token at pos_ into `text`; false with *why set on failure.
  bool readToken(TokenKind kind, std::string_view& text, bool& quoted, LineRejection* why);
  std::string_view unescape(std::string_view raw, char quote);
  std::string_view toValidUtf8(std::string_view text);
  void reserveArena();
  void skipBlanks();
  LineResult reject(LineRejection reason, LineRejection* why) const;

  LineLimits limits_;
  std::string_view line_;
  std::size_t pos_ = 0;
  // Unescaped and repaired texts of the current line. Reserved before each
  // line to a size it cannot outgrow, so views into it stay valid.
  std::string arena_;
  std::vector<Tag> tags_;
  LabelsBuilder labels_;
  // Keys the parser adds itself, interned once.
  Symbol source_key_;
  Symbol host_key_;
  Symbol tag_key_;
};

}  // namespace kubemetrics::scrapers::listeners
