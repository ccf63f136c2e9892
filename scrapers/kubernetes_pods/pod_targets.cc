#include "pod_targets.h"

#include <algorithm>
#include <charconv>
#include <optional>

namespace kubemetrics::scrapers::kubernetes_pods {

namespace {

std::string_view annotation(const KubePod& pod, std::string_view key) {
  auto it = pod.annotations.find(key);
  return it == pod.annotations.end() ? std::string_view() : std::string_view(it->second);
}

std::optional<int> parsePort(std::string_view text) {
  int port = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) {
    return std::nullopt;
  }
  return port;
}

bool isTcp(const KubeContainerPort& port) {
  return port.protocol.empty() || port.protocol == "TCP";
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

// An IPv6 address needs brackets in a URL (and in `instance`, as Go's
// net.JoinHostPort writes it).
std::string urlHost(const std::string& ip) {
  if (ip.find(':') == std::string::npos) return ip;
  std::string host;
  host.reserve(ip.size() + 2);
  host.push_back('[');
  host.append(ip);
  host.push_back(']');
  return host;
}

PodTarget makeTarget(const KubePod& pod, const std::string& scheme, const std::string& path,
                     int port, const std::string& container) {
  PodTarget target;
  target.namespace_name = pod.namespace_name;
  target.pod = pod.name;
  target.container = container;
  target.url = scheme + "://" + urlHost(pod.pod_ip) + ":" + std::to_string(port) + path;
  target.key = pod.namespace_name + "/" + pod.name + "\n" + container + "\n" + target.url;
  return target;
}

}  // namespace

Discovery discoverTargets(const KubeSnapshot& snapshot, std::string_view node,
                          const NamespaceFilter& namespaces) {
  Discovery found;
  for (const auto& entry : snapshot.pods) {
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    const std::string& pod_key = entry.first;
    const KubePod& pod = *entry.second;
    if (pod.node_name != node || annotation(pod, kScrapeAnnotation) != "true") continue;
    // A finished pod's IP may already belong to another pod.
    if (pod.phase == "Succeeded" || pod.phase == "Failed") continue;
    if (pod.pod_ip.empty() || !namespaces.allows(pod.namespace_name)) continue;
    const auto skip = [&](std::string reason) {
      found.skipped.push_back(SkippedPod{pod_key, std::move(reason)});
    };

    std::string scheme(annotation(pod, kSchemeAnnotation));
    if (scheme.empty()) scheme = "http";
    if (scheme != "http" && scheme != "https") {
      skip(std::string(kSchemeAnnotation) + " must be http or https (got \"" + scheme + "\")");
      continue;
    }
    const std::optional<std::string> path = metricsPath(annotation(pod, kPathAnnotation));
    if (!path) {
      skip(std::string(kPathAnnotation) + " is not a URL path (got \"" +
           std::string(annotation(pod, kPathAnnotation)) + "\")");
      continue;
    }

    const std::string_view port_text = annotation(pod, kPortAnnotation);
    if (!port_text.empty()) {
      const std::optional<int> port = parsePort(port_text);
      if (!port) {
        skip(std::string(kPortAnnotation) + " must be a port number 1-65535 (got \"" +
             std::string(port_text) + "\")");
        continue;
      }
      std::string container;
      for (const KubeContainer& c : pod.containers) {
        for (const KubeContainerPort& p : c.ports) {
          if (container.empty() && p.port == *port && isTcp(p)) container = c.name;
        }
      }
      found.targets.push_back(makeTarget(pod, scheme, *path, *port, container));
      continue;
    }
    // No port annotation: every declared TCP port, as the pod role makes
    // one target per container port. Containers share the pod's network,
    // so a port is listed once (the first container declaring it).
    std::vector<int> seen;
    for (const KubeContainer& c : pod.containers) {
      for (const KubeContainerPort& p : c.ports) {
        if (!isTcp(p) || p.port < 1 || p.port > 65535) continue;
        if (std::find(seen.begin(), seen.end(), p.port) != seen.end()) continue;
        seen.push_back(p.port);
        found.targets.push_back(makeTarget(pod, scheme, *path, p.port, c.name));
      }
    }
    if (seen.empty()) {
      skip("no " + std::string(kPortAnnotation) + " annotation and no TCP container port");
    }
  }
  std::sort(found.targets.begin(), found.targets.end(),
            [](const PodTarget& a, const PodTarget& b) { return a.key < b.key; });
  return found;
}

}  // namespace kubemetrics::scrapers::kubernetes_pods
