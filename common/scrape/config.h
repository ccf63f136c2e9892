#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "kubemetrics/config.h"

namespace kubemetrics::scrape {

/// One scrape target: an element of `sources.prometheus`, or the
/// `sources.kube_state_metrics` source. Immutable after parsing.
struct TargetConfig {
  std::string name;  // required; the `job` label and the source name "prometheus/<name>"
  std::string url;   // required; http:// or https:// URL of the exposition
  std::chrono::milliseconds interval{30000};  // time between scrapes; default 30s
  std::chrono::milliseconds timeout{10000};   // whole-scrape bound; default 10s, <= interval
  // Bound on the target's fixed scrape phase, so targets sharing an
  // interval do not fire together: a fraction of the interval ("0.1") or a
  // duration ("2s"); `sources.prometheus` defaults to half the interval
  // (kDefaultTargetJitter), the kube-state-metrics source to 0. Below the
  // interval.
  std::chrono::milliseconds jitter{0};
  bool honor_labels = false;                  // keep scraped job/instance/extra labels on conflicts
  std::map<std::string, std::string> labels;  // extra labels on every series
  std::string
      bearer_token_file;  // sent as "Authorization: Bearer <file content>"; re-read per scrape
  std::string ca_file;    // tls.ca_file: PEM bundle; default: system CAs
  bool insecure_skip_verify = false;           // tls.insecure_skip_verify
  std::uint64_t max_body_bytes = 64ULL << 20;  // decoded body bound; default 64MiB
  // Per scrape; 0 = unlimited; over: the scrape fails (sample_limit). A
  // node exporter serves 1-3k, a busy application tens of thousands; a
  // target serving more than this is almost always a label explosion.
  std::uint64_t max_samples = 200'000;
  std::uint64_t max_labels = 512;             // labels per series; over: scrape fails
  std::uint64_t max_line_bytes = 1ULL << 20;  // one exposition line; default 1MiB

  /// host:port of the URL (the `instance` label), with the scheme's default
  /// port when the URL has none.
  std::string instance() const;
};

/// The `jitter` of a `sources.prometheus` target that sets none: half its
/// interval, so the targets of a node (which mostly share one interval)
/// reach the exporters spread over it instead of in one burst, while each
/// target's first scrape still comes within half an interval of the start.
inline constexpr std::string_view kDefaultTargetJitter = "0.5";

/// Reads one target mapping; `defaults` gives the per-key defaults (the
/// kube-state-metrics source has its own URL and interval; its `jitter`
/// defaults to 0: one target per agent, whose first scrape feeds the
/// aggregates, has nothing to spread against). `require_name`
/// is false where the name is fixed. Errors go to the node's document, and
/// node.finish() reports unknown keys.
TargetConfig parseTargetConfig(ConfigNode& node, const TargetConfig& defaults, bool require_name);

/// Reads the `sources.prometheus` sequence (an absent or empty key: no
/// targets). Names must be unique. An entry with `urls` instead of `url`
/// gives one target per URL, sharing the name (the `job`) and every other
/// key, in list order.
std::vector<TargetConfig> parseTargetList(ConfigNode& node);

/// Reads `timeout` as Prometheus does: unset, it is `default_timeout`
/// capped at `interval` (so `interval: 5s` alone is valid); an explicit
/// value longer than the interval is an error at its key, and the capped
/// default is kept.
std::chrono::milliseconds parseScrapeTimeout(ConfigNode& node,
                                             std::chrono::milliseconds default_timeout,
                                             std::chrono::milliseconds interval);

/// The keys of a source with one fixed request per interval (the API
/// server preset, the resource metrics API): `enabled`, `interval`,
/// `timeout`. Immutable after parsing; plain value type.
struct PeriodicSourceConfig {
  bool enabled = false;
  std::chrono::milliseconds interval{30000};
  std::chrono::milliseconds timeout{10000};  // at most the interval
};

/// Reads those keys with `defaults` for the unset ones (the timeout as
/// parseScrapeTimeout()), recording bad values with their key path, then
/// reports unknown keys (node.finish()).
PeriodicSourceConfig parsePeriodicSourceConfig(ConfigNode& node,
                                               const PeriodicSourceConfig& defaults);

/// Splits an http(s) URL; false when malformed.
bool splitUrl(const std::string& url, std::string* scheme, std::string* host, std::string* port);

}  // namespace kubemetrics::scrape
