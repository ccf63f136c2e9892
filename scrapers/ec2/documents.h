#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kubemetrics/result.h"

namespace kubemetrics::scrapers::ec2 {

/// The fields of /latest/dynamic/instance-identity/document the agent uses.
/// A value type.
struct InstanceIdentity {
  std::string instance_id;
  std::string instance_type;
  std::string availability_zone;
  std::string region;
  std::string account_id;
  std::string image_id;
  std::string architecture;
  std::string private_ip;

  /// The value of a tag field by its config name (see knownTagFields()),
  /// or "" for an unknown name or an absent field.
  std::string_view field(std::string_view tag_name) const;
  /// (tag name, value) for each of `tag_names` with a non-empty value.
  std::vector<std::pair<std::string, std::string>> tags(
      const std::vector<std::string>& tag_names) const;
};

/// GET /latest/meta-data/spot/instance-action when present (the service
/// answers 404 until an interruption is scheduled).
struct SpotAction {
  std::string action;          // "terminate", "stop" or "hibernate"
  std::string time;            // as sent, RFC 3339 ("2017-09-18T08:22:00Z")
  std::int64_t time_unix = 0;  // the same, seconds since the epoch
};

/// One entry of /latest/meta-data/events/maintenance/scheduled.
struct MaintenanceEvent {
  std::string code;      // "system-reboot", "instance-stop", ...
  std::string event_id;  // "instance-event-0d59937288b749b32"
  std::string state;     // "active", "completed", "canceled"
  std::string description;
  std::string not_before;            // as sent ("21 Jan 2019 09:00:43 GMT")
  std::int64_t not_before_unix = 0;  // 0 when absent or unparsable
};

/// Parsers of IMDS documents. Pure functions of their input, thread-safe.
/// Each rejects what it cannot use with kDataLoss and a message that says
/// which document and why ("invalid JSON: ...", "no instanceId").

/// Requires a JSON object with a non-empty string "instanceId"; other
/// fields may be missing or null.
Result<InstanceIdentity> parseIdentityDocument(std::string_view json);
/// Requires "action" (string); "time" must be RFC 3339 UTC when present.
Result<SpotAction> parseSpotAction(std::string_view json);
/// Requires "noticeTime" (RFC 3339 UTC); returns it as Unix seconds.
Result<std::int64_t> parseRebalanceNotice(std::string_view json);
/// A JSON array of event objects, as IMDS sends it; a single bare object
/// (as in some documentation) is taken as a list of one. Empty text or
/// "[]" is no event.
Result<std::vector<MaintenanceEvent>> parseMaintenanceEvents(std::string_view json);

/// "2017-09-18T08:22:00Z" (fraction and "+00:00" accepted) -> Unix seconds.
std::optional<std::int64_t> parseRfc3339(std::string_view text);
/// "21 Jan 2019 09:00:43 GMT" -> Unix seconds.
std::optional<std::int64_t> parseImdsEventTime(std::string_view text);

}  // namespace kubemetrics::scrapers::ec2
