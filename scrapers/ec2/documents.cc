#include "documents.h"

#include <simdjson.h>

#include <array>
#include <cctype>
#include <charconv>

namespace kubemetrics::scrapers::ec2 {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil): timegm() depends on TZ handling we need not touch.
std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool readNumber(std::string_view& text, std::size_t digits, unsigned& out) {
  if (text.size() < digits) return false;
  unsigned value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    value = value * 10 + static_cast<unsigned>(text[i] - '0');
  }
  text.remove_prefix(digits);
  out = value;
  return true;
}

bool expect(std::string_view& text, char c) {
  if (text.empty() || text.front() != c) return false;
  text.remove_prefix(1);
  return true;
}

std::optional<std::int64_t> toUnix(unsigned year, unsigned month, unsigned day, unsigned hour,
                                   unsigned minute, unsigned second) {
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  return daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

// A string member, or "" when absent, null or not a string.
std::string stringField(simdjson::dom::object object, std::string_view key) {
  std::string_view value;
  if (object[key].get(value) != simdjson::SUCCESS) return {};
  return std::string(value);
}

Result<simdjson::dom::object> parseObject(simdjson::dom::parser& parser, std::string_view json,
                                          std::string_view what) {
  simdjson::dom::element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root); err != simdjson::SUCCESS) {
    return makeError(ErrorCode::kDataLoss,
                     std::string(what) + ": invalid JSON: " + simdjson::error_message(err));
  }
  simdjson::dom::object object;
  if (root.get(object) != simdjson::SUCCESS) {
    return makeError(ErrorCode::kDataLoss, std::string(what) + ": expected a JSON object");
  }
  return object;
}

MaintenanceEvent toEvent(simdjson::dom::object object) {
  MaintenanceEvent event;
  event.code = stringField(object, "Code");
  event.event_id = stringField(object, "EventId");
  event.state = stringField(object, "State");
  event.description = stringField(object, "Description");
  event.not_before = stringField(object, "NotBefore");
  event.not_before_unix = parseImdsEventTime(event.not_before).value_or(0);
  return event;
}

}  // namespace

std::string_view InstanceIdentity::field(std::string_view tag_name) const {
  if (tag_name == "instance_id") return instance_id;
  if (tag_name == "instance_type") return instance_type;
  if (tag_name == "availability_zone") return availability_zone;
  if (tag_name == "region") return region;
  if (tag_name == "account_id") return account_id;
  if (tag_name == "image_id") return image_id;
  if (tag_name == "architecture") return architecture;
  if (tag_name == "private_ip") return private_ip;
  return {};
}

std::vector<std::pair<std::string, std::string>> InstanceIdentity::tags(
    const std::vector<std::string>& tag_names) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& name : tag_names) {
    const std::string_view value = field(name);
    if (!value.empty()) out.emplace_back(name, std::string(value));
  }
  return out;
}

std::optional<std::int64_t> parseRfc3339(std::string_view text) {
  text = trim(text);
  unsigned y, mo, d, h, mi, s;
  if (!readNumber(text, 4, y) || !expect(text, '-') || !readNumber(text, 2, mo) ||
      !expect(text, '-') || !readNumber(text, 2, d)) {
    return std::nullopt;
  }
  if (text.empty() || (text.front() != 'T' && text.front() != 't' && text.front() != ' ')) {
    return std::nullopt;
  }
  text.remove_prefix(1);
  if (!readNumber(text, 2, h) || !expect(text, ':') || !readNumber(text, 2, mi) ||
      !expect(text, ':') || !readNumber(text, 2, s)) {
    return std::nullopt;
  }
  if (!text.empty() && text.front() == '.') {
    text.remove_prefix(1);
    std::size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    text.remove_prefix(digits);
  }
  std::int64_t offset = 0;
  if (text == "Z" || text == "z") {
    text = {};
  } else if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    const int sign = text.front() == '+' ? 1 : -1;
    text.remove_prefix(1);
    unsigned oh, om;
    if (!readNumber(text, 2, oh) || !expect(text, ':') || !readNumber(text, 2, om)) {
      return std::nullopt;
    }
    offset = sign * static_cast<std::int64_t>(oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (!text.empty()) return std::nullopt;
  auto t = toUnix(y, mo, d, h, mi, s);
  if (!t) return std::nullopt;
  return *t - offset;
}

std::optional<std::int64_t> parseImdsEventTime(std::string_view text) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  text = trim(text);
  unsigned d, y, h, mi, s;
  std::size_t day_digits = 0;
  while (day_digits < text.size() && day_digits < 2 &&
         std::isdigit(static_cast<unsigned char>(text[day_digits]))) {
    ++day_digits;
  }
  if (day_digits == 0 || !readNumber(text, day_digits, d) || !expect(text, ' ')) {
    return std::nullopt;
  }
  if (text.size() < 3) return std::nullopt;
  unsigned month = 0;
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (text.substr(0, 3) == kMonths[i]) month = static_cast<unsigned>(i + 1);
  }
  if (month == 0) return std::nullopt;
  text.remove_prefix(3);
  if (!expect(text, ' ') || !readNumber(text, 4, y) || !expect(text, ' ') ||
      !readNumber(text, 2, h) || !expect(text, ':') || !readNumber(text, 2, mi) ||
      !expect(text, ':') || !readNumber(text, 2, s)) {
    return std::nullopt;
  }
  text = trim(text);
  if (!text.empty() && text != "GMT" && text != "UTC") return std::nullopt;
  return toUnix(y, month, d, h, mi, s);
}

Result<InstanceIdentity> parseIdentityDocument(std::string_view json) {
  simdjson::dom::parser parser;
  auto object = parseObject(parser, json, "identity document");
  if (!object) return tl::unexpected(object.error());
  InstanceIdentity identity;
  identity.instance_id = stringField(*object, "instanceId");
  if (identity.instance_id.empty()) {
    return makeError(ErrorCode::kDataLoss, "identity document: no instanceId string");
  }
  identity.instance_type = stringField(*object, "instanceType");
  identity.availability_zone = stringField(*object, "availabilityZone");
  identity.region = stringField(*object, "region");
  identity.account_id = stringField(*object, "accountId");
  identity.image_id = stringField(*object, "imageId");
  identity.architecture = stringField(*object, "architecture");
  identity.private_ip = stringField(*object, "privateIp");
  return identity;
}

Result<SpotAction> parseSpotAction(std::string_view json) {
  simdjson::dom::parser parser;
  auto object = parseObject(parser, json, "spot/instance-action");
  if (!object) return tl::unexpected(object.error());
  SpotAction action;
  action.action = stringField(*object, "action");
  if (action.action.empty()) {
    return makeError(ErrorCode::kDataLoss, "spot/instance-action: no action string");
  }
  action.time = stringField(*object, "time");
  if (!action.time.empty()) {
    auto t = parseRfc3339(action.time);
    if (!t) {
      return makeError(ErrorCode::kDataLoss,
                       "spot/instance-action: time is not RFC 3339 (got \"" + action.time + "\")");
    }
    action.time_unix = *t;
  }
  return action;
}

Result<std::int64_t> parseRebalanceNotice(std::string_view json) {
  simdjson::dom::parser parser;
  auto object = parseObject(parser, json, "events/recommendations/rebalance");
  if (!object) return tl::unexpected(object.error());
  const std::string notice = stringField(*object, "noticeTime");
  auto t = parseRfc3339(notice);
  if (!t) {
    return makeError(
        ErrorCode::kDataLoss,
        "events/recommendations/rebalance: noticeTime is not RFC 3339 (got \"" + notice + "\")");
  }
  return *t;
}

Result<std::vector<MaintenanceEvent>> parseMaintenanceEvents(std::string_view json) {
  std::vector<MaintenanceEvent> events;
  if (trim(json).empty()) return events;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root); err != simdjson::SUCCESS) {
    return makeError(
        ErrorCode::kDataLoss,
        std::string("events/maintenance/scheduled: invalid JSON: ") + simdjson::error_message(err));
  }
  simdjson::dom::object single;
  if (root.get(single) == simdjson::SUCCESS) {
    events.push_back(toEvent(single));
    return events;
  }
  simdjson::dom::array list;
  if (root.get(list) != simdjson::SUCCESS) {
    return makeError(ErrorCode::kDataLoss, "events/maintenance/scheduled: expected a JSON array");
  }
  for (simdjson::dom::element element : list) {
    simdjson::dom::object object;
    if (element.get(object) != simdjson::SUCCESS) {
      return makeError(ErrorCode::kDataLoss,
                       "events/maintenance/scheduled: expected an array of objects");
    }
    events.push_back(toEvent(object));
  }
  return events;
}

}  // namespace kubemetrics::scrapers::ec2
