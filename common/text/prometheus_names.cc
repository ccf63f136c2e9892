#include "common/text/prometheus_names.h"

namespace kubemetrics::text {
namespace {

bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::string mapName(std::string_view name, bool allow_colon) {
  std::string out;
  out.reserve(name.size() + 1);
  if (name.empty() || isDigit(name.front())) out.push_back('_');
  for (char c : name) {
    const bool ok = isAlpha(c) || isDigit(c) || c == '_' || (allow_colon && c == ':');
    out.push_back(ok ? c : '_');
  }
  return out;
}

}  // namespace

std::string mapMetricName(std::string_view name) { return mapName(name, true); }
std::string mapLabelName(std::string_view name) { return mapName(name, false); }

}  // namespace kubemetrics::text
