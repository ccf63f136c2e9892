#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "kubemetrics/config.h"

namespace kubemetrics::scrapers::ec2 {

/// The link-local address of the EC2 instance metadata service (IPv4).
inline constexpr std::string_view kDefaultEndpoint = "http://169.254.169.254";
/// As in the AWS SDKs: overrides the endpoint of the config file.
inline constexpr std::string_view kEndpointEnv = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
/// As in the AWS SDKs: "true" (any case) turns IMDS access off entirely.
inline constexpr std::string_view kDisabledEnv = "AWS_EC2_METADATA_DISABLED";

/// `sources.ec2.enabled`.
enum class EnabledMode {
  kAuto,   // probe once; off EC2 say so once and stay idle
  kTrue,   // the agent must be on EC2: every failure is a scrape error
  kFalse,  // never touch IMDS
};

/// Identity-document fields that may become run-time tags (tag name =
/// config spelling): instance_id, instance_type, availability_zone, region,
/// account_id, image_id, architecture, private_ip.
const std::vector<std::string>& knownTagFields();
/// The default `sources.ec2.tags`.
std::vector<std::string> defaultTagFields();

/// `sources.ec2:`: the EC2 instance metadata source. Immutable after parsing.
struct Ec2Config {
  EnabledMode enabled = EnabledMode::kAuto;
  // Base URL of IMDS as written in the file (no trailing '/'); default
  // kDefaultEndpoint. See `endpoint` for the one in force.
  std::string configured_endpoint = std::string(kDefaultEndpoint);
  // The endpoint in force: kEndpointEnv when set and non-empty, else
  // configured_endpoint.
  std::string endpoint = std::string(kDefaultEndpoint);
  bool endpoint_from_env = false;  // endpoint came from kEndpointEnv
  bool disabled_by_env = false;    // kDisabledEnv=true: no source at all
  // Identity fields added to every sample; default defaultTagFields().
  std::vector<std::string> tags = defaultTagFields();
  // Poll period of spot/instance-action (and the source's scrape interval);
  // default 5s.
  std::chrono::milliseconds spot_interval{5000};
  // Poll period of scheduled maintenance events and the rebalance
  // recommendation, and retry period of a failed identity document; default 60s.
  std::chrono::milliseconds metadata_interval{60000};
  // Bound of each IMDS request: TCP connect, and the whole exchange; default
  // 300ms (IMDS answers in a few ms; off EC2 we must not wait long).
  std::chrono::milliseconds timeout{300};
  // Lifetime asked for an IMDSv2 token (X-aws-ec2-metadata-token-ttl-seconds),
  // whole seconds, 1s..6h; default 6h.
  std::chrono::seconds token_ttl{21600};

  /// True when the endpoint is the well-known link-local one, i.e. neither
  /// the file nor the environment pointed it elsewhere.
  bool defaultEndpoint() const { return endpoint == kDefaultEndpoint; }
};

/// Reads an environment variable; returns nullptr when unset. Tests inject
/// their own; production passes std::getenv.
using EnvLookup = std::function<const char*(const char*)>;

/// Reads `sources.ec2`, recording bad values in the node's document (keeping
/// the default for them), applies kEndpointEnv and kDisabledEnv through
/// `env`, then reports unknown keys (node.finish()). A bad endpoint from the
/// environment is reported at `<path>.endpoint` naming the variable.
Ec2Config parseEc2Config(ConfigNode& node, const EnvLookup& env);

/// Checks an IMDS base URL: http://host[:port] with an optional trailing
/// '/', which it removes. Returns an error reason, or "" when valid.
std::string normalizeEndpoint(std::string& endpoint);

}  // namespace kubemetrics::scrapers::ec2
