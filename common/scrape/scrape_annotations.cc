#include "common/scrape/scrape_annotations.h"

#include <charconv>

namespace kubemetrics::scrape {
namespace {

std::string_view annotation(const Annotations& annotations, std::string_view key) {
  auto it = annotations.find(key);
  return it == annotations.end() ? std::string_view() : std::string_view(it->second);
}

std::optional<int> parsePort(std::string_view text) {
  int port = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) {
    return std::nullopt;
  }
  return port;
}

// The path as the URL carries it; nullopt when it cannot be one (Prometheus
// would escape it into a path that does not exist either).
std::optional<std::string> metricsPath(std::string_view annotated) {
  if (annotated.empty()) return std::string("/metrics");
  for (char c : annotated) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '?' || c == '#') return std::nullopt;
  }
  std::string path;
  if (annotated.front() != '/') path.push_back('/');
  path.append(annotated);
  return path;
}

tl::unexpected<Error> invalid(std::string message) {
  return makeError(ErrorCode::kInvalidArgument, std::move(message));
}

}  // namespace

bool scrapeAnnotated(const Annotations& annotations) {
  return annotation(annotations, kScrapeAnnotation) == "true";
}

Result<ScrapeAnnotations> readScrapeAnnotations(const Annotations& annotations) {
  ScrapeAnnotations out;
  out.scheme = std::string(annotation(annotations, kSchemeAnnotation));
  if (out.scheme.empty()) out.scheme = "http";
  if (out.scheme != "http" && out.scheme != "https") {
    return invalid(std::string(kSchemeAnnotation) + " must be http or https (got \"" + out.scheme +
                   "\")");
  }
  const std::string_view path_text = annotation(annotations, kPathAnnotation);
  std::optional<std::string> path = metricsPath(path_text);
  if (!path) {
    return invalid(std::string(kPathAnnotation) + " is not a URL path (got \"" +
                   std::string(path_text) + "\")");
  }
  out.path = std::move(*path);
  const std::string_view port_text = annotation(annotations, kPortAnnotation);
  if (!port_text.empty()) {
    out.port = parsePort(port_text);
    if (!out.port) {
      return invalid(std::string(kPortAnnotation) + " must be a port number 1-65535 (got \"" +
                     std::string(port_text) + "\")");
    }
  }
  return out;
}

std::string urlHost(const std::string& ip) {
  if (ip.find(':') == std::string::npos) return ip;
  std::string host;
  host.reserve(ip.size() + 2);
  host.push_back('[');
  host.append(ip);
  host.push_back(']');
  return host;
}

}  // namespace kubemetrics::scrape
