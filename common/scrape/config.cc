#include "common/scrape/config.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/config/units.h"

namespace kubemetrics::scrape {

namespace {

bool validName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool validLabelName(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool splitUrl(const std::string& url, std::string* scheme, std::string* host, std::string* port) {
  const std::size_t sep = url.find("://");
  if (sep == std::string::npos) return false;
  *scheme = url.substr(0, sep);
  if (*scheme != "http" && *scheme != "https") return false;
  const std::size_t start = sep + 3;
  std::size_t end = url.find_first_of("/?#", start);
  if (end == std::string::npos) end = url.size();
  std::string authority = url.substr(start, end - start);
  if (authority.find('@') != std::string::npos) return false;  // no credentials in URLs
  if (authority.empty()) return false;
  std::size_t colon;
  if (authority[0] == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string::npos) return false;
    *host = authority.substr(0, close + 1);
    colon =
        close + 1 < authority.size() && authority[close + 1] == ':' ? close + 1 : std::string::npos;
    if (colon == std::string::npos && close + 1 != authority.size()) return false;
  } else {
    colon = authority.rfind(':');
    *host = authority.substr(0, colon);
  }
  if (host->empty()) return false;
  if (colon == std::string::npos) {
    *port = *scheme == "https" ? "443" : "80";
  } else {
    *port = authority.substr(colon + 1);
    if (port->empty() || port->size() > 5) return false;
    for (char c : *port) {
      if (c < '0' || c > '9') return false;
    }
    if (std::stoi(*port) == 0 || std::stoi(*port) > 65535) return false;
  }
  return true;
}

std::string TargetConfig::instance() const {
  std::string scheme, host, port;
  if (!splitUrl(url, &scheme, &host, &port)) return url;
  return host + ":" + port;
}

namespace {

/// An error for `key` unless `url` is an http(s) URL with a host.
void checkUrl(ConfigNode& node, std::string_view key, const std::string& url) {
  std::string scheme, host, port;
  if (url.empty()) {
    node.error(key, "required");
  } else if (!splitUrl(url, &scheme, &host, &port)) {
    node.error(key, "must be an http:// or https:// URL with a host (got \"" + url + "\")");
  }
}

/// parseTargetConfig, with the URL read by the caller when `url_read` and
/// `default_jitter` for a target that sets no `jitter`.
TargetConfig parseTarget(ConfigNode& node, const TargetConfig& defaults, bool require_name,
                         bool url_read, std::string_view default_jitter) {
  TargetConfig config = defaults;
  if (require_name) {
    config.name = node.getString("name", "");
    if (!validName(config.name)) {
      node.error("name", config.name.empty()
                             ? std::string("required")
                             : "must be 1-128 letters, digits, '_', '-' or '.' (got \"" +
                                   config.name + "\")");
    }
  }
  if (!url_read) {
    config.url = node.getString("url", defaults.url);
    checkUrl(node, "url", config.url);
  }
  config.interval = node.getDuration("interval", defaults.interval);
  config.timeout = parseScrapeTimeout(node, defaults.timeout, config.interval);
  // jitter: a fraction of the interval ("0.1") or a duration ("2s").
  const std::string jitter = node.getString("jitter", std::string(default_jitter));
  if (jitter != "0") {
    char* end = nullptr;
    const double fraction = std::strtod(jitter.c_str(), &end);
    if (end != nullptr && *end == '\0' && !jitter.empty()) {
      if (!(fraction >= 0 && fraction < 1)) {
        node.error("jitter", "a fraction must be in [0, 1) (got \"" + jitter + "\")");
      } else {
        config.jitter = std::chrono::milliseconds(static_cast<std::int64_t>(
            std::floor(fraction * static_cast<double>(config.interval.count()))));
      }
    } else if (auto d = parseDuration(jitter)) {
      config.jitter = *d;
      if (config.jitter >= config.interval) {
        node.error("jitter", "must be shorter than interval (got \"" + jitter + "\")");
        config.jitter = {};
      }
    } else {
      node.error("jitter",
                 "must be a fraction of the interval or a duration (got \"" + jitter + "\")");
    }
  }
  config.honor_labels = node.getBool("honor_labels", defaults.honor_labels);
  config.labels = node.getStringMap("labels");
  for (const auto& [k, v] : config.labels) {
    if (!validLabelName(k) || k.starts_with("__")) {
      node.error("labels", "invalid label name \"" + k + "\"");
    }
  }
  config.bearer_token_file = node.getString("bearer_token_file", defaults.bearer_token_file);
  ConfigNode tls = node.child("tls");
  config.ca_file = tls.getString("ca_file", defaults.ca_file);
  config.insecure_skip_verify = tls.getBool("insecure_skip_verify", defaults.insecure_skip_verify);
  tls.finish();
  config.max_body_bytes = node.getBytes("max_body_bytes", defaults.max_body_bytes);
  config.max_samples = static_cast<std::uint64_t>(
      node.getInt("max_samples", static_cast<std::int64_t>(defaults.max_samples), 0, 1LL << 40));
  config.max_labels = static_cast<std::uint64_t>(
      node.getInt("max_labels", static_cast<std::int64_t>(defaults.max_labels), 1, 1 << 20));
  config.max_line_bytes = node.getBytes("max_line_bytes", defaults.max_line_bytes);
  node.finish();
  return config;
}

}  // namespace

std::chrono::milliseconds parseScrapeTimeout(ConfigNode& node,
                                             std::chrono::milliseconds default_timeout,
                                             std::chrono::milliseconds interval) {
  const std::chrono::milliseconds fallback = std::min(default_timeout, interval);
  const bool explicit_timeout = node.has("timeout");
  const std::chrono::milliseconds timeout = node.getDuration("timeout", fallback);
  if (explicit_timeout && timeout > interval) {
    node.error("timeout", "must not exceed interval (" + formatDuration(timeout) + " > " +
                              formatDuration(interval) + ")");
    return fallback;
  }
  return timeout;
}

PeriodicSourceConfig parsePeriodicSourceConfig(ConfigNode& node,
                                               const PeriodicSourceConfig& defaults) {
  PeriodicSourceConfig config;
  config.enabled = node.getBool("enabled", defaults.enabled);
  config.interval = node.getDuration("interval", defaults.interval);
  config.timeout = parseScrapeTimeout(node, defaults.timeout, config.interval);
  node.finish();
  return config;
}

TargetConfig parseTargetConfig(ConfigNode& node, const TargetConfig& defaults, bool require_name) {
  return parseTarget(node, defaults, require_name, /*url_read=*/false, "0");
}

std::vector<TargetConfig> parseTargetList(ConfigNode& node) {
  std::vector<TargetConfig> targets;
  std::set<std::string> names;
  for (ConfigNode& element : node.elementsOfSelf()) {
    // `urls`: one job, several targets (Prometheus' static_configs), each
    // with its own `instance`; every other key is shared.
    std::vector<std::string> urls;
    const bool listed = element.has("urls");
    if (listed) {
      urls = element.getStringList("urls");
      if (element.has("url")) {
        (void)element.getString("url", "");  // known, not "unknown key"
        element.error("urls", "give `url` or `urls`, not both");
      }
      if (urls.empty()) element.error("urls", "must list at least one URL");
      std::set<std::string> seen;
      for (const std::string& url : urls) {
        checkUrl(element, "urls", url);
        if (!seen.insert(url).second) element.error("urls", "\"" + url + "\" is listed twice");
      }
    }
    TargetConfig config = parseTarget(element, TargetConfig(), true, listed, kDefaultTargetJitter);
    if (!config.name.empty() && !names.insert(config.name).second) {
      element.error("name", "duplicate target name \"" + config.name + "\"");
    }
    if (!listed) {
      targets.push_back(std::move(config));
      continue;
    }
    for (const std::string& url : urls) {
      TargetConfig target = config;
      target.url = url;
      targets.push_back(std::move(target));
    }
  }
  return targets;
}

}  // namespace kubemetrics::scrape
