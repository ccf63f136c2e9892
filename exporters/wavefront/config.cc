#include "config.h"

#include <charconv>
#include <cstdlib>
#include <memory>
#include <utility>

#include "common/http/secret_file.h"

namespace kubemetrics::exporters::wavefront {
namespace {

std::string quoted(const std::string& text) { return "(got \"" + text + "\")"; }

bool isHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == ':' || c == '[' || c == ']';
}

// Splits "host[:port]" (IPv6 in brackets); false when malformed.
bool splitHostPort(std::string_view authority, std::string* host, std::uint16_t* port,
                   bool* has_port) {
  *has_port = false;
  std::string_view h = authority;
  std::string_view p;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    h = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      p = rest.substr(1);
      *has_port = true;
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      h = authority.substr(0, colon);
      p = authority.substr(colon + 1);
      *has_port = true;
      if (h.find(':') != std::string_view::npos) return false;
    }
  }
  if (h.empty()) return false;
  for (const char c : h) {
    if (!isHostChar(c)) return false;
  }
  *host = std::string(h);
  if (*has_port) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size() || value == 0 ||
        value > 65535) {
      return false;
    }
    *port = static_cast<std::uint16_t>(value);
  }
  return true;
}

}  // namespace

std::vector<std::string> defaultExcludeTags() {
  return {"namespace_id",
          "host_id",
          "pod_id",
          "hostname",
          "label?controller?revision*",
          "label?pod?template*",
          "annotation_kubectl_kubernetes_io_last_applied_configuration"};
}

bool parseEndpoint(const std::string& url, WavefrontEndpoint* endpoint, std::string* reason) {
  const std::size_t sep = url.find("://");
  if (url.empty()) {
    *reason = "must not be empty";
    return false;
  }
  if (sep == std::string::npos) {
    *reason = "missing scheme, expected tcp://host:port or https://host/ " + quoted(url);
    return false;
  }
  const std::string scheme = url.substr(0, sep);
  std::string_view rest = std::string_view(url).substr(sep + 3);
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (path.find_first_of("?# \t") != std::string_view::npos) {
    *reason = "must not contain a query, fragment or whitespace " + quoted(url);
    return false;
  }
  bool has_port = false;
  WavefrontEndpoint out;
  if (scheme == "tcp") {
    out.mode = WavefrontEndpoint::Mode::kProxyTcp;
    if (!path.empty() && path != "/") {
      *reason = "a tcp:// proxy URL takes no path " + quoted(url);
      return false;
    }
    if (!splitHostPort(authority, &out.host, &out.port, &has_port)) {
      *reason = "expected tcp://host[:port] " + quoted(url);
      return false;
    }
  } else if (scheme == "http" || scheme == "https") {
    out.mode = WavefrontEndpoint::Mode::kDirectHttp;
    std::string host;
    std::uint16_t port = 0;
    if (!splitHostPort(authority, &host, &port, &has_port)) {
      *reason = "expected " + scheme + "://host[:port][/path] " + quoted(url);
      return false;
    }
    std::string base = scheme + "://" + std::string(authority) + std::string(path);
    while (base.ends_with('/')) base.pop_back();
    // https://<instance>/ and https://<instance>/report both mean the report
    // endpoint; the format is always named so a proxy's HTTP port accepts it too.
    if (!base.ends_with("/report")) base += "/report";
    out.report_url = base + "?f=wavefront";
  } else {
    *reason = "unsupported scheme \"" + scheme + "\", expected tcp, http or https " + quoted(url);
    return false;
  }
  *endpoint = std::move(out);
  return true;
}

std::string WavefrontConfig::effectiveCompression() const {
  if (!compression.empty()) return compression;
  return url.starts_with("tcp://") ? "none" : "zstd";
}

std::vector<ConfigError> WavefrontConfig::validate() const {
  std::vector<ConfigError> errors;
  WavefrontEndpoint endpoint;
  std::string reason;
  const bool url_ok = parseEndpoint(url, &endpoint, &reason);
  if (!url_ok) errors.push_back({"url", reason});
  const std::string comp = effectiveCompression();
  if (comp != "zstd" && comp != "gzip" && comp != "none") {
    errors.push_back({"compression", "must be one of zstd, gzip, none " + quoted(comp)});
  } else if (url_ok && endpoint.mode == WavefrontEndpoint::Mode::kProxyTcp && comp != "none") {
    errors.push_back(
        {"compression", "must be none for a tcp:// proxy (it reads plain lines) " + quoted(comp)});
  }
  if (compression_level < 0 || compression_level > 19 ||
      (comp == "gzip" && compression_level > 9)) {
    errors.push_back({"compression_level", "must be 0 (default), 1..19 for zstd or 1..9 for gzip"});
  }
  if (!token_file.empty() && !token_env.empty()) {
    errors.push_back({"token_env", "set token_file or token_env, not both"});
  }
  if (url_ok && endpoint.mode == WavefrontEndpoint::Mode::kProxyTcp &&
      (!token_file.empty() || !token_env.empty())) {
    errors.push_back({token_file.empty() ? "token_env" : "token_file",
                      "a token is only used for http(s):// direct ingestion"});
  }
  if (source.size() > 128) errors.push_back({"source", "must be at most 128 characters"});
  for (std::size_t i = 0; i < exclude_tags.size(); ++i) {
    if (exclude_tags[i].empty()) {
      errors.push_back({"exclude_tags[" + std::to_string(i) + "]",
                        "must not be empty (an empty pattern matches no tag)"});
    }
  }
  for (ConfigError& e : push.validate()) errors.push_back(std::move(e));
  return errors;
}

WavefrontConfig parseConfig(ConfigNode& node) {
  WavefrontConfig config;
  config.enabled = node.getBool("enabled", config.enabled);
  config.url = node.getString("url", config.url);
  if (node.has("compression")) {
    config.compression =
        node.getEnum("compression", config.effectiveCompression(), {"zstd", "gzip", "none"});
  }
  config.compression_level =
      static_cast<int>(node.getInt("compression_level", config.compression_level, 0, 19));
  config.token_file = node.getString("token_file", "");
  config.token_env = node.getString("token_env", "");
  config.source = node.getString("source", "");
  config.exclude_tags = node.getStringList("exclude_tags", config.exclude_tags);
  // A `token:` key is deliberately unknown (finish() reports it): secrets
  // never live in the ConfigMap, and an effective-config dump would print it.
  push::parsePushConfig(node, config.push);  // records its own errors
  for (ConfigError& error : config.validate()) {
    // Shared keys were already reported by parsePushConfig.
    if (error.path == "url" || error.path == "compression" || error.path == "compression_level" ||
        error.path.starts_with("token") || error.path == "source" ||
        error.path.starts_with("exclude_tags")) {
      node.error(error.path, std::move(error.reason));
    }
  }
  node.finish();
  return config;
}

Result<push::Authorization> tokenAuthorization(const WavefrontConfig& config) {
  if (!config.token_file.empty()) {
    auto token = std::make_shared<SecretFile>(config.token_file, "exporters.wavefront.token_file");
    if (auto loaded = token->load(); !loaded) return tl::unexpected(loaded.error());
    return push::bearerAuthorization(std::move(token));
  }
  if (!config.token_env.empty()) {
    const char* value = std::getenv(config.token_env.c_str());
    if (value == nullptr || *value == '\0') {
      return makeError(ErrorCode::kInvalidArgument, "exporters.wavefront.token_env: variable " +
                                                        config.token_env + " is unset or empty");
    }
    return push::Authorization(
        [header = "Bearer " + std::string(value)]() -> Result<std::string> { return header; });
  }
  return push::Authorization();
}

}  // namespace kubemetrics::exporters::wavefront
