#include "common/http/request_auth.h"

#include <openssl/evp.h>

#include <cctype>
#include <optional>
#include <string_view>

namespace kubemetrics {
namespace {

// Compares every byte whatever the first difference, so the time taken does
// not tell a guesser how much of a secret was right.
bool equalInConstantTime(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return difference == 0;
}

std::string base64(std::string_view text) {
  std::string out(4 * ((text.size() + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(text.data()),
                                      static_cast<int>(text.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

// The credentials after `scheme` (case-insensitive, as RFC 9110 has it), or
// nullopt when the header uses another scheme.
std::optional<std::string_view> credentialsOf(std::string_view header, std::string_view scheme) {
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return std::nullopt;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) !=
        std::tolower(static_cast<unsigned char>(scheme[i]))) {
      return std::nullopt;
    }
  }
  return header.substr(scheme.size() + 1);
}

}  // namespace

Result<std::unique_ptr<RequestAuth>> RequestAuth::create(const EndpointCredentials& credentials,
                                                         const std::string& config_path) {
  auto auth = std::make_unique<RequestAuth>();
  if (!credentials.token_file.empty()) {
    auth->token_ =
        std::make_unique<SecretFile>(credentials.token_file, config_path + ".token_file");
    if (auto loaded = auth->token_->load(); !loaded) return tl::unexpected(loaded.error());
  }
  const BasicAuthOptions& basic = credentials.basic_auth;
  if (!basic.username.empty()) {
    auth->username_ = basic.username;
    auth->password_ = std::make_unique<SecretFile>(basic.password_file,
                                                   config_path + ".basic_auth.password_file");
    if (auto loaded = auth->password_->load(); !loaded) return tl::unexpected(loaded.error());
  }
  return auth;
}

bool RequestAuth::allows(const HttpRequest& request) const {
  if (!required()) return true;
  const std::string_view header = request.header("Authorization");
  if (auto bearer = credentialsOf(header, "Bearer")) return allowsBearer(*bearer);
  if (auto basic = credentialsOf(header, "Basic")) return allowsBasic(*basic);
  return false;
}

bool RequestAuth::allowsBearer(std::string_view credentials) const {
  if (!token_) return false;
  const auto token = token_->value();
  return token && equalInConstantTime(credentials, *token);
}

bool RequestAuth::allowsBasic(std::string_view credentials) const {
  if (!password_) return false;
  const auto password = password_->value();
  return password && equalInConstantTime(credentials, base64(username_ + ":" + *password));
}

std::string RequestAuth::challenge() const {
  constexpr std::string_view kBasic = "Basic realm=\"kubemetrics-agent\"";
  if (token_ && password_) return "Bearer, " + std::string(kBasic);
  return password_ ? std::string(kBasic) : "Bearer";
}

std::string RequestAuth::expected() const {
  if (token_ && password_) return "Authorization: Bearer <token> or Basic <user:password>";
  return password_ ? "Authorization: Basic <user:password>" : "Authorization: Bearer <token>";
}

}  // namespace kubemetrics
