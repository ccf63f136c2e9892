#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "kubemetrics/result.h"

namespace kubemetrics::scrape {

/// The annotations Prometheus' `kubernetes-pods` and
/// `kubernetes-service-endpoints` example jobs read.
inline constexpr std::string_view kScrapeAnnotation = "prometheus.io/scrape";
inline constexpr std::string_view kSchemeAnnotation = "prometheus.io/scheme";
inline constexpr std::string_view kPathAnnotation = "prometheus.io/path";
inline constexpr std::string_view kPortAnnotation = "prometheus.io/port";

using Annotations = std::map<std::string, std::string, std::less<>>;

/// What the annotations of a scraped object say. Plain value type.
struct ScrapeAnnotations {
  std::string scheme;       // "http" (default) | "https"
  std::string path;         // starts with '/'; default "/metrics"
  std::optional<int> port;  // prometheus.io/port; nullopt: every declared port
};

/// True when prometheus.io/scrape is exactly "true".
bool scrapeAnnotated(const Annotations& annotations);

/// Reads prometheus.io/scheme (http or https), prometheus.io/path (a '/'
/// is added in front when missing; no space, control character, '?' or
/// '#') and prometheus.io/port (1-65535). An invalid one is a
/// kInvalidArgument error saying which annotation and what it holds. Pure
/// function.
Result<ScrapeAnnotations> readScrapeAnnotations(const Annotations& annotations);

/// The host of a URL for an IP address: an IPv6 address in brackets (as
/// Go's net.JoinHostPort writes `instance`).
std::string urlHost(const std::string& ip);

}  // namespace kubemetrics::scrape
