#include "common/http/request_auth.h"

#include <string_view>

namespace kubemetrics {
namespace {

// Compares every byte whatever the first difference, so the time taken does
// not tell a guesser how much of a token was right.
bool equalInConstantTime(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return difference == 0;
}

}  // namespace

Result<std::unique_ptr<RequestAuth>> RequestAuth::create(const std::string& token_file,
                                                         const std::string& what) {
  auto auth = std::make_unique<RequestAuth>();
  if (token_file.empty()) return auth;
  auth->token_ = std::make_unique<SecretFile>(token_file, what);
  if (auto loaded = auth->token_->load(); !loaded) return tl::unexpected(loaded.error());
  return auth;
}

bool RequestAuth::allows(const HttpRequest& request) const {
  if (!token_) return true;
  const auto token = token_->value();
  if (!token) return false;
  constexpr std::string_view kScheme = "Bearer ";
  const std::string_view header = request.header("Authorization");
  if (header.size() <= kScheme.size() || header.substr(0, kScheme.size()) != kScheme) return false;
  return equalInConstantTime(header.substr(kScheme.size()), *token);
}

}  // namespace kubemetrics
