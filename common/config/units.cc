#include "common/config/units.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

namespace kubemetrics {
namespace {

// 128-bit intermediate values: a 15-digit number times a TiB, or a
// 9-digit fraction times an hour in milliseconds, must not wrap before the
// range check sees it.
using Wide = unsigned __int128;

constexpr std::uint64_t kMaxIntegerPart = 1'000'000'000'000'000ULL;  // 1e15
constexpr std::size_t kMaxFractionDigits = 9;

struct Number {
  std::uint64_t integer = 0;
  std::uint64_t fraction = 0;  // the digits after the point, as an integer
  std::uint64_t scale = 1;     // 10^(number of fraction digits)
};

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Reads digits[.digits] at `pos`; false when there is no digit at all or the
// number is absurdly long (which no valid setting needs).
bool readNumber(std::string_view text, std::size_t& pos, Number& out, bool& tooLong) {
  bool any = false;
  while (pos < text.size() && isDigit(text[pos])) {
    any = true;
    if (out.integer >= kMaxIntegerPart) tooLong = true;
    if (!tooLong) out.integer = out.integer * 10 + static_cast<std::uint64_t>(text[pos] - '0');
    ++pos;
  }
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    while (pos < text.size() && isDigit(text[pos])) {
      any = true;
      if (++digits > kMaxFractionDigits) {
        tooLong = true;
      } else {
        out.fraction = out.fraction * 10 + static_cast<std::uint64_t>(text[pos] - '0');
        out.scale *= 10;
      }
      ++pos;
    }
  }
  return any;
}

std::string_view readUnit(std::string_view text, std::size_t& pos) {
  std::size_t start = pos;
  while (pos < text.size() && isLetter(text[pos])) ++pos;
  return text.substr(start, pos - start);
}

// number * unit, exactly; false when the product is not a whole number.
bool scaleExact(const Number& n, std::uint64_t unit, Wide& out) {
  Wide frac = static_cast<Wide>(n.fraction) * unit;
  if (frac % n.scale != 0) return false;
  out = static_cast<Wide>(n.integer) * unit + frac / n.scale;
  return true;
}

tl::unexpected<Error> invalid(std::string reason) {
  return makeError(ErrorCode::kInvalidArgument, std::move(reason));
}

constexpr const char* kDurationExpected = "expected a duration such as 15s or 1m30s";
constexpr const char* kBytesExpected = "expected a size such as 1048576, 512MiB or 1GiB";

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

constexpr std::array<Unit, 4> kDurationUnits = {
    {{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}}};

constexpr std::uint64_t kKi = 1024;
constexpr std::array<Unit, 14> kByteUnits = {{{"B", 1},
                                              {"KB", 1000},
                                              {"kB", 1000},
                                              {"MB", 1000 * 1000},
                                              {"GB", 1000 * 1000 * 1000},
                                              {"TB", 1000ULL * 1000 * 1000 * 1000},
                                              {"KiB", kKi},
                                              {"MiB", kKi* kKi},
                                              {"GiB", kKi* kKi* kKi},
                                              {"TiB", kKi* kKi* kKi* kKi},
                                              {"Ki", kKi},
                                              {"Mi", kKi* kKi},
                                              {"Gi", kKi* kKi* kKi},
                                              {"Ti", kKi* kKi* kKi* kKi}}};

template <std::size_t N>
const Unit* findUnit(const std::array<Unit, N>& units, std::string_view name) {
  for (const Unit& u : units) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

}  // namespace

Result<std::chrono::milliseconds> parseDuration(std::string_view text) {
  if (text.empty()) return invalid(kDurationExpected);
  bool negative = false;
  std::size_t pos = 0;
  if (text[0] == '-') {
    negative = true;
    pos = 1;
    if (text.size() == 1) return invalid(kDurationExpected);
  }
  Wide total = 0;
  bool tooLong = false;
  while (pos < text.size()) {
    Number number;
    if (!readNumber(text, pos, number, tooLong)) return invalid(kDurationExpected);
    std::string_view unitName = readUnit(text, pos);
    if (unitName.empty()) {
      if (pos == text.size()) return invalid("missing unit (write e.g. 15s, 500ms or 1m30s)");
      return invalid(kDurationExpected);
    }
    const Unit* unit = findUnit(kDurationUnits, unitName);
    if (unit == nullptr) {
      return invalid("unknown unit \"" + std::string(unitName) + "\" (use ms, s, m or h)");
    }
    Wide part = 0;
    if (!scaleExact(number, unit->factor, part)) {
      return invalid("must be a whole number of milliseconds");
    }
    total += part;
    if (total > static_cast<Wide>(kMaxConfigDuration.count())) tooLong = true;
  }
  if (negative || total == 0) return invalid("must be > 0");
  if (tooLong) return invalid("must be at most 8760h");
  return std::chrono::milliseconds(static_cast<std::int64_t>(total));
}

bool isZeroDuration(std::string_view text) {
  for (std::string_view zero : {"0", "0s", "0ms", "0m", "0h"}) {
    if (text == zero) return true;
  }
  return false;
}

std::string formatDuration(std::chrono::milliseconds duration) {
  std::int64_t ms = duration.count();
  if (ms == 0) return "0s";
  if (ms < 0) {
    // Not `"-" + formatDuration(...)`: g++ 12 at -O3 flags that with a false
    // -Wrestrict (GCC bug 105329).
    std::string positive = formatDuration(-duration);
    positive.insert(positive.begin(), '-');
    return positive;
  }
  const std::int64_t hours = ms / 3'600'000;
  const std::int64_t minutes = ms / 60'000 % 60;
  const std::int64_t seconds = ms / 1000 % 60;
  const std::int64_t millis = ms % 1000;
  if (hours == 0 && minutes == 0 && seconds == 0) return std::to_string(millis) + "ms";
  std::string out;
  if (hours != 0) out += std::to_string(hours) + "h";
  if (minutes != 0) out += std::to_string(minutes) + "m";
  if (seconds != 0 || millis != 0) {
    out += std::to_string(seconds);
    if (millis != 0) {
      std::string frac = std::to_string(1000 + millis).substr(1);  // zero-padded to 3
      while (frac.back() == '0') frac.pop_back();
      out += "." + frac;
    }
    out += "s";
  }
  return out;
}

Result<std::uint64_t> parseBytes(std::string_view text, bool allow_zero) {
  if (text.empty()) return invalid(kBytesExpected);
  if (text[0] == '-') {
    std::size_t pos = 1;
    Number ignored;
    bool tooLong = false;
    if (readNumber(text, pos, ignored, tooLong)) return invalid("must be > 0");
    return invalid(kBytesExpected);
  }
  std::size_t pos = 0;
  Number number;
  bool tooLong = false;
  if (!readNumber(text, pos, number, tooLong)) return invalid(kBytesExpected);
  std::string_view unitName = readUnit(text, pos);
  if (pos != text.size()) return invalid(kBytesExpected);
  std::uint64_t factor = 1;
  if (!unitName.empty()) {
    const Unit* unit = findUnit(kByteUnits, unitName);
    if (unit == nullptr) {
      return invalid("unknown unit \"" + std::string(unitName) +
                     "\" (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
    }
    factor = unit->factor;
  }
  Wide total = 0;
  if (!scaleExact(number, factor, total)) return invalid("must be a whole number of bytes");
  if (tooLong || total > static_cast<Wide>(std::numeric_limits<std::int64_t>::max())) {
    return invalid("too large");
  }
  if (total == 0 && !allow_zero) return invalid("must be > 0");
  return static_cast<std::uint64_t>(total);
}

std::string formatBytes(std::uint64_t bytes) {
  // Largest units first within each family; the family whose exact unit
  // leaves the smaller number wins, binary on a tie.
  static constexpr std::array<Unit, 4> kBinary = {
      {{"TiB", kKi * kKi * kKi * kKi}, {"GiB", kKi * kKi * kKi}, {"MiB", kKi * kKi}, {"KiB", kKi}}};
  static constexpr std::array<Unit, 4> kDecimal = {{{"TB", 1000ULL * 1000 * 1000 * 1000},
                                                    {"GB", 1000 * 1000 * 1000},
                                                    {"MB", 1000 * 1000},
                                                    {"KB", 1000}}};
  std::string best = std::to_string(bytes) + "B";
  if (bytes == 0) return best;
  std::uint64_t bestValue = bytes;
  auto consider = [&](const std::array<Unit, 4>& family) {
    for (const Unit& u : family) {
      if (bytes % u.factor == 0) {
        std::uint64_t value = bytes / u.factor;
        if (value < bestValue) {
          bestValue = value;
          best = std::to_string(value) + std::string(u.name);
        }
        return;
      }
    }
  };
  consider(kBinary);
  consider(kDecimal);
  return best;
}

bool splitListenAddress(std::string_view text, std::string* host, unsigned short* port) {
  std::string_view hostPart;
  std::string_view portPart;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    if (close + 1 >= text.size() || text[close + 1] != ':') return false;
    hostPart = text.substr(1, close - 1);
    portPart = text.substr(close + 2);
    const bool ipv6Chars = std::all_of(hostPart.begin(), hostPart.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
             c == ':' || c == '.' || c == '%' || (c >= 'g' && c <= 'z');
    });
    if (!ipv6Chars || hostPart.find(':') == std::string_view::npos) return false;
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    hostPart = text.substr(0, colon);
    portPart = text.substr(colon + 1);
    // An unbracketed IPv6 address is ambiguous ("::1:9464"), so it is refused.
    const bool hostChars = std::all_of(hostPart.begin(), hostPart.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             c == '.' || c == '-' || c == '_';
    });
    if (!hostChars) return false;
  }
  if (portPart.empty() || portPart.size() > 5) return false;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(portPart.data(), portPart.data() + portPart.size(), value);
  if (ec != std::errc() || end != portPart.data() + portPart.size() || value > 65535) return false;
  if (host != nullptr) *host = hostPart.empty() ? "0.0.0.0" : std::string(hostPart);
  if (port != nullptr) *port = static_cast<unsigned short>(value);
  return true;
}

}  // namespace kubemetrics
