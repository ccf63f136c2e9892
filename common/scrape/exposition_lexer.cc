#include "common/scrape/exposition_lexer.h"

namespace kubemetrics::scrape {

std::string excerpt(std::string_view s) {
  constexpr std::size_t kMax = 64;
  std::string out;
  for (char c : s.substr(0, kMax)) {
    out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  }
  if (s.size() > kMax) out += "...";
  return out;
}

void unescapeHelp(std::string_view in, std::string& out) {
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

}  // namespace kubemetrics::scrape
