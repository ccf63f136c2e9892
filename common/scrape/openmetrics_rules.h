#pragma once

// Metric family types, and the OpenMetrics 1.0 rules that span lines: which
// families a body has, which sample names each owns, the order of
// histogram buckets and what each type's samples may hold. TextParser reads
// the lines and finds each sample's family; the checks that need memory of
// earlier lines of the body are here.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common/scrape/parser.h"
#include "kubemetrics/sample.h"

namespace kubemetrics::scrape {

/// OpenMetrics family types (the text format's four are among them).
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

/// The type a TYPE line names (lower case, as both grammars want); false
/// for an unknown word.
bool parseOmType(std::string_view word, OmType* type);

/// The type a batch's metadata gives a family of type `t`.
MetricType toMetricType(OmType t);

/// The sample-name suffixes a family of type `t` owns ("" for the family's
/// own name).
std::span<const std::string_view> suffixesOf(OmType t);

/// One sample, as the OpenMetrics sample rules see it once its family is
/// known.
struct OmSample {
  const SeriesInfo& series;
  OmType family_type;
  std::string_view family_name;
  std::string_view suffix;  // of the series name after the family name
  double value;
  bool has_timestamp;
  double timestamp;  // seconds, as written
  bool has_exemplar;
  std::size_t line;  // where the sample is, for messages
};

/// The OpenMetrics checks that remember earlier lines of one body: the
/// families seen (none may come twice or own another's samples), the
/// histogram groups of the current family (buckets in order, one +Inf,
/// count and sum agree) and the previous sample's series (its timestamps
/// must not go backwards). Each check returns an error reason, or "" when
/// the body may go on; the parser prefixes the line number.
///
/// Per body: reset() at its start. Owned by one TextParser, whose scrape
/// thread alone uses it; not thread-safe.
class OpenMetricsRules {
 public:
  /// Forgets the previous body (keeps the allocations).
  void reset();

  /// A new family `name` starts (a metadata line or a sample outside the
  /// current family).
  std::string newFamily(std::string_view name);
  /// Family `name` has a TYPE line saying `type`.
  std::string typed(std::string_view name, OmType type);
  /// The current family ends (a new one starts, `# EOF`, end of body):
  /// closes its last histogram group. `gauge`: it is a gauge histogram.
  std::string closeFamily(bool gauge);
  /// A sample of the current family.
  std::string sample(const OmSample& s);

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>()(s);
    }
  };
  // The samples of one histogram (a family's series sharing their labels
  // but `le`).
  struct Group {
    const void* id = nullptr;  // the interned labels without `le`
    bool active = false;
    std::size_t first_line = 0;
    std::size_t buckets = 0;
    double last_le = -std::numeric_limits<double>::infinity();
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

  std::string histogramSample(const OmSample& s);
  std::string closeGroup(bool gauge);

  std::unordered_map<std::string, OmType, StringHash, std::equal_to<>> families_;
  std::unordered_set<const void*> groups_;  // of the current family, closed or not
  Group group_;
  std::string scratch_;
  const SeriesInfo* prev_series_ = nullptr;
  bool prev_has_ts_ = false;
  double prev_ts_ = 0;
};

}  // namespace kubemetrics::scrape
