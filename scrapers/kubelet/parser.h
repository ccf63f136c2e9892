#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kubemetrics/result.h"
#include "summary_model.h"

namespace kubemetrics::scrapers::kubelet {

/// Extra bytes SummaryParser::parse() needs after the JSON text in its
/// buffer (simdjson reads ahead in 64-byte blocks).
inline constexpr std::size_t kJsonPadding = simdjson::SIMDJSON_PADDING;

/// Parses RFC 3339 / Go time.Time JSON text ("2026-06-26T10:14:35Z",
/// "2019-01-16T16:04:59.123456789+01:00") to Unix epoch milliseconds;
/// nullopt when malformed.
std::optional<std::int64_t> parseRfc3339Ms(std::string_view text);

/// Turns the text of one kubelet /stats/summary response into a Summary,
/// with simdjson's on-demand API: one pass over the text, no DOM, keeping
/// only the fields the emitter uses. Unknown keys are skipped; a numeric
/// field that is absent, null or not a number stays kAbsent; a `time` that
/// does not parse stays 0.
///
/// Owns the simdjson parser (its buffers are reused between documents) and
/// the strings the Summary points to: the Summary is valid until the next
/// parse(). Not thread-safe: one per source thread.
class SummaryParser {
 public:
  /// Parses `json`, whose buffer must have at least kJsonPadding readable
  /// bytes after json.size() (`capacity` is the whole buffer's size).
  /// Errors (kDataLoss): invalid or truncated JSON, a root that is not an
  /// object, trailing content. On error `out` is emptied.
  Result<void> parse(const char* json, std::size_t size, std::size_t capacity, Summary& out);
  /// Convenience for tests and tools: copies `json` into a padded buffer.
  Result<void> parse(std::string_view json, Summary& out);

 private:
  Result<void> parseInto(const char* json, std::size_t size, std::size_t capacity, Summary& out);

  simdjson::ondemand::parser parser_;
  std::string padded_;  // for the string_view overload
};

}  // namespace kubemetrics::scrapers::kubelet
