#include "common/kube/quantity.h"

#include <charconv>
#include <cmath>
#include <string>

namespace kubemetrics::kube {
namespace {

// A parsed quantity: mantissa * base^exponent, kept apart so the CPU
// conversion can shift the decimal exponent by 3 before scaling (exact for
// "250m" and "2", correctly rounded for "100u").
struct ParsedQuantity {
  double mantissa = 0;
  int base = 10;
  int exponent = 0;
};

tl::unexpected<Error> invalid(std::string_view quantity) {
  return makeError(ErrorCode::kInvalidArgument,
                   "invalid quantity \"" + std::string(quantity) + "\"");
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// mantissa * base^exponent; negative powers divide, so that "100u" gives
// the double nearest 0.0001 instead of 100 * 1e-6 with its rounding error.
double scale(double mantissa, int base, int exponent) {
  if (exponent >= 0) return mantissa * std::pow(static_cast<double>(base), exponent);
  return mantissa / std::pow(static_cast<double>(base), -exponent);
}

Result<ParsedQuantity> parse(std::string_view text) {
  std::size_t pos = 0;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
  const std::size_t number_start = pos;
  std::size_t digits = 0;
  while (pos < text.size() && isDigit(text[pos])) ++pos, ++digits;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    while (pos < text.size() && isDigit(text[pos])) ++pos, ++digits;
  }
  if (digits == 0) return invalid(text);

  ParsedQuantity parsed;
  // from_chars takes no leading '+'; the sign is applied by hand.
  std::string_view number = text.substr(number_start, pos - number_start);
  const auto [end, ec] =
      std::from_chars(number.data(), number.data() + number.size(), parsed.mantissa);
  if (ec != std::errc() || end != number.data() + number.size()) return invalid(text);
  if (text[0] == '-') parsed.mantissa = -parsed.mantissa;

  const std::string_view suffix = text.substr(pos);
  struct Suffix {
    std::string_view text;
    int base;
    int exponent;
  };
  static constexpr Suffix kSuffixes[] = {
      {"", 10, 0},   {"n", 10, -9}, {"u", 10, -6}, {"m", 10, -3}, {"k", 10, 3},  {"M", 10, 6},
      {"G", 10, 9},  {"T", 10, 12}, {"P", 10, 15}, {"E", 10, 18}, {"Ki", 2, 10}, {"Mi", 2, 20},
      {"Gi", 2, 30}, {"Ti", 2, 40}, {"Pi", 2, 50}, {"Ei", 2, 60},
  };
  for (const Suffix& s : kSuffixes) {
    if (suffix == s.text) {
      parsed.base = s.base;
      parsed.exponent = s.exponent;
      return parsed;
    }
  }
  // Decimal exponent: "1e3", "1E-3", "1e+3" ("1E" alone is exa, above).
  if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    std::string_view exponent = suffix.substr(1);
    if (exponent[0] == '+') exponent.remove_prefix(1);
    if (exponent.empty() || exponent.size() > 4 || !(isDigit(exponent[0]) || exponent[0] == '-')) {
      return invalid(text);
    }
    int value = 0;
    const auto [exp_end, exp_ec] =
        std::from_chars(exponent.data(), exponent.data() + exponent.size(), value);
    if (exp_ec != std::errc() || exp_end != exponent.data() + exponent.size()) {
      return invalid(text);
    }
    parsed.exponent = value;
    return parsed;
  }
  return invalid(text);
}

}  // namespace

Result<double> parseCpuMillicores(std::string_view quantity) {
  auto parsed = parse(quantity);
  if (!parsed) return tl::unexpected(parsed.error());
  const double millicores = parsed->base == 10
                                ? scale(parsed->mantissa, 10, parsed->exponent + 3)
                                : scale(parsed->mantissa, 2, parsed->exponent) * 1000.0;
  if (!std::isfinite(millicores)) return invalid(quantity);
  return millicores;
}

Result<double> parseQuantity(std::string_view quantity) {
  auto parsed = parse(quantity);
  if (!parsed) return tl::unexpected(parsed.error());
  const double value = scale(parsed->mantissa, parsed->base, parsed->exponent);
  if (!std::isfinite(value)) return invalid(quantity);
  return value;
}

}  // namespace kubemetrics::kube
