#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kubemetrics/sample.h"
#include "tag_trimmer.h"

namespace kubemetrics::exporters::wavefront {

// Limits of the Wavefront data format. Lengths are in Java characters (UTF-16
// code units), as the proxy and the service measure them.
//  - metric name <= 256: docs pages/doc/wavefront_data_format.md ("Maximum
//    length for metricName is 256"), same default in wavefront-proxy's
//    ValidationConfiguration (metricLengthLimit = 256);
//  - source <= 128: same page ("no more than 128 characters"), proxy
//    hostLengthLimit = 128;
//  - point tag key + value <= 254 (255 with the '='): same page;
//  - at most 20 point tags: docs "Point Tag Maximum" ("If the number of point
//    tags exceeds 20, then we drop the metrics"), proxy annotationsCountLimit;
//  - key <= 64 and value <= 255: proxy annotationsKeyLengthLimit and
//    annotationsValueLengthLimit (the 254 combined limit is the tighter one
//    for values).
inline constexpr std::size_t kMaxMetricNameLength = 256;
inline constexpr std::size_t kMaxSourceLength = 128;
inline constexpr std::size_t kMaxPointTags = 20;
inline constexpr std::size_t kMaxTagKeyLength = 64;
inline constexpr std::size_t kMaxTagValueLength = 255;
inline constexpr std::size_t kMaxTagKeyValueLength = 254;

/// Why a sample could not be written as a valid line. Each is a value of the
/// `reason` label of kubemetrics_wavefront_samples_invalid_total.
enum class DropReason : std::uint8_t {
  kNonFiniteValue,   // NaN or +-Inf: the format needs a finite number
  kEmptyName,        // nothing left of the metric name
  kNameTooLong,      // > kMaxMetricNameLength after sanitising
  kNoSource,         // no source tag, no node tag, no configured source
  kSourceTooLong,    // > kMaxSourceLength
  kTooManyTags,      // > kMaxPointTags point tags even without its label.* tags
  kTagTooLong,       // key > 64, value > 255 or key+value > 254
  kDuplicateTagKey,  // two label names that sanitise to the same key
  kEmptyTagKey,      // a label with an empty name
  // A staleness marker (isStaleMarker): the end of a series, which the
  // format cannot say (no NaN); expected, not bad data, hence its own reason.
  kStaleMarker,
};
inline constexpr std::size_t kDropReasonCount = 10;

/// "non_finite_value", "empty_name", ... (the self-metric label value).
std::string_view dropReasonName(DropReason reason);

/// Counts of one or more format() calls. A plain value type; not
/// thread-safe (one per encoding thread, summed by the caller).
struct FormatStats {
  std::uint64_t lines = 0;      // samples written
  std::uint64_t sanitized = 0;  // written, but with a name, key or value altered
  std::array<std::uint64_t, kDropReasonCount> dropped{};
  TrimCounts trimmed{};  // tags left out of lines that were written, by reason

  std::uint64_t droppedTotal() const;
  void add(const FormatStats& other);
};

struct LineFormatOptions {
  // A constructor rather than an aggregate: callers that predate a field
  // keep writing LineFormatOptions{override, default_source}.
  LineFormatOptions(std::string source_override_name = {}, std::string default_source_name = {},
                    std::vector<std::string> exclude = {})
      : source_override(std::move(source_override_name)),
        default_source(std::move(default_source_name)),
        exclude_tags(std::move(exclude)) {}

  /// When non-empty, the source of every line (config `exporters.wavefront.source`).
  std::string source_override;
  /// The source when a sample has neither a `source` nor a `node`/`nodename`
  /// tag: the agent's node name.
  std::string default_source;
  /// Globs of tag keys never sent (config `exporters.wavefront.exclude_tags`;
  /// TagTrimmer). Empty here: the config supplies the collector's list.
  std::vector<std::string> exclude_tags;
};

/// Writes samples as Wavefront data format lines (docs
/// pages/doc/wavefront_data_format.md):
///
///   <metricName> <value> [<timestampSeconds>] source=<source> [<k>="<v>" ...]\n
///
/// Rules applied, and why:
///  - metric name: [A-Za-z0-9._-] as is; '/' and ',' kept, with the name in
///    double quotes (the only way the format allows them); a leading '~'
///    (internal metric) or delta prefix U+2206 / U+0394 kept; every other
///    character (one UTF-8 code point or one invalid byte) becomes '-', as
///    wavefront-sdk-java's sanitize() does. Longer than 256: dropped.
///  - value: shortest round-trip decimal; NaN and +-Inf are dropped, and so
///    are staleness markers (counted apart: Wavefront has no way to end a
///    series, which simply stops receiving points).
///  - timestamp: epoch seconds, with a .mmm fraction when the sample has
///    milliseconds (java-lib's decoder accepts fractional seconds); omitted
///    when the sample has none (<= 0), so the proxy stamps arrival time.
///  - source: the override, else the sample's `source` tag, else `node`,
///    else `nodename`, else the default; characters outside
///    [A-Za-z0-9._-] become '-'; longer than 128: dropped. The `source` tag is
///    consumed (a second `source=` would be read as the source); when the
///    override wins it is kept as point tag `_source`.
///  - point tag keys: [A-Za-z0-9._-], others become '-'; two labels that map
///    to the same key: dropped (a line with a repeated key is ambiguous).
///  - point tag values: always double-quoted. '"' is written \" (the parser
///    un-escapes it); a newline becomes the two characters \n and a carriage
///    return \r (as wavefront-sdk-java's sanitizeValue does for \n: the line
///    protocol has no other way to carry them); other control characters and
///    invalid UTF-8 become '-' and U+FFFD; a backslash as the last character
///    becomes '-' (the format forbids it: it would escape the closing quote).
///    Other backslashes are literal in the format and pass through.
///  - tags whose key matches `exclude_tags` are left out; more than 20
///    tags: trimmed as the Wavefront Kubernetes collector does (TagTrimmer:
///    placeholder values, duplicate and then low-priority `label.*` tags),
///    and dropped when that is not enough (the service would drop it).
///  - a tag beyond the length limits: dropped (truncating would merge
///    distinct series).
/// A dropped sample writes nothing and is counted by reason.
///
/// Immutable after construction; format() is const and thread-safe as long
/// as each thread uses its own `out` and `stats`.
class LineFormatter {
 public:
  explicit LineFormatter(LineFormatOptions options);

  /// Appends the line for `sample` (with its '\n') to `out` and returns
  /// true, or leaves `out` as it was, counts the reason in `stats` and
  /// returns false.
  bool format(const Sample& sample, std::string& out, FormatStats& stats) const;

  /// The source a sample gets (before validation), for tests and logs.
  std::string_view sourceFor(const Sample& sample) const;

 private:
  LineFormatOptions options_;
  TagTrimmer trimmer_;
};

/// The sanitised forms, exposed for tests. Each appends to `out` and
/// returns whether the input was altered.
bool appendMetricName(std::string_view name, std::string& out);
bool appendTagKey(std::string_view key, std::string& out);
/// Appends `"value"` with the escaping above.
bool appendQuotedTagValue(std::string_view value, std::string& out);

}  // namespace kubemetrics::exporters::wavefront
