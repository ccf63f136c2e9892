#include "ec2_source.h"

#include <chrono>
#include <ctime>
#include <utility>

#include "kubemetrics/log.h"

namespace kubemetrics::scrapers::ec2 {
namespace {

constexpr std::string_view kIdentityPath = "/latest/dynamic/instance-identity/document";
constexpr std::string_view kSpotPath = "/latest/meta-data/spot/instance-action";
constexpr std::string_view kRebalancePath = "/latest/meta-data/events/recommendations/rebalance";
constexpr std::string_view kMaintenancePath = "/latest/meta-data/events/maintenance/scheduled";

struct FamilySpec {
  std::string_view name;
  std::string_view help;
};

constexpr FamilySpec kFamilies[] = {
    {"ec2.instance_info", "Always 1; the labels are the EC2 identity of the node."},
    {"ec2.spot.interruption_pending",
     "1 when EC2 has scheduled a spot interruption (spot/instance-action), else 0."},
    {"ec2.spot.interruption_seconds_left",
     "Seconds until the scheduled spot interruption; the label says stop, terminate or "
     "hibernate."},
    {"ec2.rebalance.recommended",
     "1 when EC2 recommends rebalancing this spot instance away (elevated interruption risk)."},
    {"ec2.rebalance.notice_timestamp_seconds",
     "When the rebalance recommendation was issued, in Unix seconds."},
    {"ec2.maintenance.scheduled_events", "Scheduled maintenance events of the instance."},
    {"ec2.maintenance.event_seconds_until",
     "Seconds until a scheduled maintenance event's NotBefore time (negative: it began)."},
};

std::string formatUnix(std::int64_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string httpError(std::string_view path, int status) {
  return "IMDS GET " + std::string(path) + ": HTTP " + std::to_string(status);
}

}  // namespace

std::string_view toString(Ec2Presence presence) {
  switch (presence) {
    case Ec2Presence::kDisabled:
      return "disabled";
    case Ec2Presence::kProbing:
      return "probing";
    case Ec2Presence::kPresent:
      return "present";
    case Ec2Presence::kAbsent:
      return "absent";
  }
  return "unknown";
}

Ec2Status::Snapshot Ec2Status::snapshot() const {
  MutexLock lock(mu_);
  return snapshot_;
}

void Ec2Status::update(const std::function<void(Snapshot&)>& change) {
  MutexLock lock(mu_);
  change(snapshot_);
}

std::string Ec2Status::render() const {
  const Snapshot s = snapshot();
  std::string out;
  out += "endpoint " + s.endpoint + " (from " + s.endpoint_origin + ")\n";
  out += "enabled " + s.mode + "\n";
  out += "state " + std::string(toString(s.presence));
  if (!s.presence_reason.empty()) out += ": " + s.presence_reason;
  out += "\n";
  if (s.probe_duration.count() >= 0) {
    out += "first_probe_ms " + std::to_string(s.probe_duration.count()) + "\n";
  }
  out += "imds " + std::string(toString(s.version));
  if (!s.fallback_reason.empty()) out += " (fallback: " + s.fallback_reason + ")";
  out += "\n";
  if (s.identity) {
    const InstanceIdentity& id = *s.identity;
    out += "identity instance_id=" + id.instance_id + " instance_type=" + id.instance_type +
           " availability_zone=" + id.availability_zone + " region=" + id.region +
           " account_id=" + id.account_id + " image_id=" + id.image_id + "\n";
  } else {
    out += "identity none\n";
  }
  out += "spot " + s.spot + "\n";
  out += "rebalance " + s.rebalance + "\n";
  out += "maintenance " + s.maintenance + "\n";
  if (!s.last_error.empty()) out += "last_error " + s.last_error + "\n";
  return out;
}

Ec2Source::Ec2Source(std::string name, Ec2Config config, std::unique_ptr<ImdsTransport> transport,
                     RuntimeTags* runtime_tags, prometheus::Registry* self_metrics,
                     std::shared_ptr<Ec2Status> status, const Clock& clock,
                     NodeLifecycle* lifecycle)
    : name_(std::move(name)),
      clock_(clock),
      config_(std::move(config)),
      client_(ImdsClientOptions{config_.endpoint, config_.timeout, config_.token_ttl},
              std::move(transport), self_metrics),
      runtime_tags_(runtime_tags),
      lifecycle_(lifecycle),
      status_(status ? std::move(status) : std::make_shared<Ec2Status>()) {
  status_->update([&](Ec2Status::Snapshot& s) {
    s.endpoint = config_.endpoint;
    s.endpoint_origin = config_.endpoint_from_env ? std::string(kEndpointEnv)
                        : config_.configured_endpoint == kDefaultEndpoint ? "default"
                                                                          : "config";
    s.mode = config_.enabled == EnabledMode::kTrue ? "true" : "auto";
    s.presence = Ec2Presence::kProbing;
  });
}

Ec2Source::~Ec2Source() = default;

Result<void> Ec2Source::fetchIdentity(Deadline deadline) {
  auto response = client_.get(kIdentityPath, deadline);
  if (!response) return tl::unexpected(response.error());
  if (response->status != 200) {
    return makeError(ErrorCode::kUnavailable, httpError(kIdentityPath, response->status));
  }
  auto identity = parseIdentityDocument(response->body);
  if (!identity) {
    if (!malformed_logged_) {
      malformed_logged_ = true;
      logError("ec2") << identity.error().message() << " (from " << config_.endpoint
                      << kIdentityPath << "); no EC2 tags will be added until it parses";
    }
    return tl::unexpected(identity.error());
  }
  identity_ = std::move(*identity);
  auto tags = identity_->tags(config_.tags);
  LabelsBuilder builder;
  for (const auto& [tag, value] : tags) builder.set(tag, value);
  info_labels_ = builder.build();
  std::string list;
  for (const auto& [tag, value] : tags) list += (list.empty() ? "" : " ") + tag + "=" + value;
  if (runtime_tags_) runtime_tags_->set(std::move(tags));
  logInfo("ec2") << "EC2 instance " << identity_->instance_id << " (" << identity_->instance_type
                 << ") in " << identity_->availability_zone << " via "
                 << toString(client_.version()) << " at " << config_.endpoint
                 << "; tagging every sample with " << list;
  return {};
}

Result<void> Ec2Source::pollSpot(Deadline deadline) {
  auto response = client_.get(kSpotPath, deadline);
  if (!response) return tl::unexpected(response.error());
  if (response->status == 404) {
    spot_.reset();
    spot_known_ = true;
    return {};
  }
  if (response->status != 200) {
    return makeError(ErrorCode::kUnavailable, httpError(kSpotPath, response->status));
  }
  auto action = parseSpotAction(response->body);
  if (!action) return tl::unexpected(action.error());
  if (!spot_ || spot_->action != action->action || spot_->time != action->time) {
    logWarn("ec2") << "spot interruption notice: " << action->action << " at " << action->time;
  }
  spot_ = std::move(*action);
  spot_known_ = true;
  announce(spot_->time_unix, "spot interruption (" + spot_->action + ")");
  return {};
}

void Ec2Source::announce(std::int64_t at_unix, std::string reason) {
  if (!lifecycle_) return;
  // No time given: treat it as now, the most urgent.
  const auto at = at_unix > 0 ? std::chrono::system_clock::from_time_t(at_unix) : clock_.wallNow();
  lifecycle_->announceTermination({at, std::move(reason)});
}

Result<void> Ec2Source::pollRebalance(Deadline deadline) {
  auto response = client_.get(kRebalancePath, deadline);
  if (!response) return tl::unexpected(response.error());
  if (response->status == 404) {
    rebalance_.reset();
    rebalance_known_ = true;
    return {};
  }
  if (response->status != 200) {
    return makeError(ErrorCode::kUnavailable, httpError(kRebalancePath, response->status));
  }
  auto notice = parseRebalanceNotice(response->body);
  if (!notice) return tl::unexpected(notice.error());
  if (!rebalance_) logWarn("ec2") << "rebalance recommendation issued at " << formatUnix(*notice);
  rebalance_ = *notice;
  rebalance_known_ = true;
  return {};
}

Result<void> Ec2Source::pollMaintenance(Deadline deadline) {
  auto response = client_.get(kMaintenancePath, deadline);
  if (!response) return tl::unexpected(response.error());
  if (response->status == 404) {
    events_.clear();
    events_known_ = true;
    return {};
  }
  if (response->status != 200) {
    return makeError(ErrorCode::kUnavailable, httpError(kMaintenancePath, response->status));
  }
  auto events = parseMaintenanceEvents(response->body);
  if (!events) return tl::unexpected(events.error());
  if (events->size() > events_.size()) {
    for (const MaintenanceEvent& e : *events) {
      logWarn("ec2") << "scheduled maintenance: " << e.code << " " << e.event_id << " (" << e.state
                     << ") not before " << e.not_before;
    }
  }
  events_ = std::move(*events);
  events_known_ = true;
  for (const MaintenanceEvent& e : events_) {
    // A stop or retirement takes the node away (a reboot brings it back
    // with its disk, and SIGTERM drains before it).
    if ((e.code == "instance-stop" || e.code == "instance-retirement") && e.state == "active") {
      announce(e.not_before_unix, "scheduled " + e.code + " " + e.event_id);
    }
  }
  return {};
}

void Ec2Source::add(SampleBatch& out, std::string_view name, const Labels& labels, double value) {
  out.samples.push_back(Sample{Symbol::intern(name), labels, value, now_ms_});
  for (const FamilySpec& f : kFamilies) {
    if (f.name != name) continue;
    bool listed = false;
    for (const MetricMetadata& m : out.metadata) listed = listed || m.name.view() == name;
    if (!listed) {
      out.metadata.push_back(
          MetricMetadata{Symbol::intern(name), MetricType::kGauge, std::string(f.help), ""});
    }
  }
}

void Ec2Source::emit(SampleBatch& out) {
  const std::int64_t now = now_ms_ / 1000;
  if (identity_) add(out, "ec2.instance_info", info_labels_, 1);
  if (spot_known_) {
    add(out, "ec2.spot.interruption_pending", Labels(), spot_ ? 1 : 0);
    if (spot_) {
      const double left = spot_->time_unix > 0 ? static_cast<double>(spot_->time_unix - now) : 0;
      add(out, "ec2.spot.interruption_seconds_left",
          LabelsBuilder().set("action", spot_->action).build(), left < 0 ? 0 : left);
    }
  }
  if (rebalance_known_) {
    add(out, "ec2.rebalance.recommended", Labels(), rebalance_ ? 1 : 0);
    if (rebalance_) {
      add(out, "ec2.rebalance.notice_timestamp_seconds", Labels(),
          static_cast<double>(*rebalance_));
    }
  }
  if (events_known_) {
    add(out, "ec2.maintenance.scheduled_events", Labels(), static_cast<double>(events_.size()));
    for (const MaintenanceEvent& e : events_) {
      if (e.not_before_unix == 0) continue;
      add(out, "ec2.maintenance.event_seconds_until",
          LabelsBuilder()
              .set("code", e.code)
              .set("event_id", e.event_id)
              .set("state", e.state)
              .build(),
          static_cast<double>(e.not_before_unix - now));
    }
  }
}

void Ec2Source::publishStatus(const std::string& last_error) {
  const std::int64_t now = now_ms_ / 1000;
  status_->update([&](Ec2Status::Snapshot& s) {
    if (!absent_ && probed_) s.presence = Ec2Presence::kPresent;
    s.version = client_.version();
    s.fallback_reason = client_.fallbackReason();
    s.identity = identity_;
    if (spot_known_) {
      s.spot = spot_ ? spot_->action + " at " + spot_->time + " (" +
                           std::to_string(std::max<std::int64_t>(0, spot_->time_unix - now)) +
                           " s left)"
                     : "none";
    }
    if (rebalance_known_) {
      s.rebalance = rebalance_ ? "recommended at " + formatUnix(*rebalance_) : "none";
    }
    if (events_known_) {
      if (events_.empty()) {
        s.maintenance = "none";
      } else {
        s.maintenance = std::to_string(events_.size()) + " scheduled:";
        for (const MaintenanceEvent& e : events_) {
          s.maintenance += " [" + e.code + " " + e.event_id + " " + e.state + " not before " +
                           e.not_before + "]";
        }
      }
    }
    s.last_error = last_error;
  });
}

Result<ScrapeStats> Ec2Source::scrape(SampleBatch& out, Deadline deadline) {
  if (absent_) return ScrapeStats{};
  now_ms_ = clock_.wallMs();
  // Scheduling (next_identity_, next_metadata_) follows the injected
  // clock; the probe's duration is network time, measured for real.
  const auto began = clock_.now();
  const auto probe_began = SteadyClock::now();
  std::optional<Error> first_error;
  const auto note = [&first_error](const Result<void>& r) {
    if (!r && !first_error) first_error = r.error();
  };

  bool reachable = true;
  if (!identity_ && began >= next_identity_) {
    const std::uint64_t answers = client_.responses();
    auto identity = fetchIdentity(deadline);
    // Any HTTP answer (even a 404 or 401) means something is there.
    const bool answered = client_.responses() > answers;
    reachable = answered;
    if (!probed_) {
      probed_ = true;
      const auto took =
          std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - probe_began);
      const bool unreachable = !identity && (identity.error().code() == ErrorCode::kUnavailable ||
                                             identity.error().code() == ErrorCode::kTimeout);
      if (config_.enabled == EnabledMode::kAuto && unreachable && !answered) {
        absent_ = true;
        logInfo("ec2") << "not on EC2: the instance metadata service at " << config_.endpoint
                       << " did not answer (" << identity.error().message() << ", after "
                       << took.count() << " ms); the ec2 source stays idle "
                       << "(sources.ec2.enabled: auto). Set enabled: false to skip the probe.";
        status_->update([&](Ec2Status::Snapshot& s) {
          s.presence = Ec2Presence::kAbsent;
          s.presence_reason = "not on EC2 (" + identity.error().message() + ")";
          s.probe_duration = took;
          s.version = ImdsVersion::kUnknown;
          s.last_error = identity.error().message();
        });
        return ScrapeStats{};
      }
      status_->update([&](Ec2Status::Snapshot& s) { s.probe_duration = took; });
    }
    if (!identity) {
      next_identity_ = began + config_.metadata_interval;
      note(identity);
    }
  }
  // When nothing answered the identity request, the others would only
  // wait out their timeouts too; an HTTP or parse error does not stop them.
  if (reachable) {
    note(pollSpot(deadline));
    if (began >= next_metadata_) {
      next_metadata_ = began + config_.metadata_interval;
      note(pollRebalance(deadline));
      note(pollMaintenance(deadline));
    }
  }
  emit(out);
  publishStatus(first_error ? first_error->message() : std::string());
  if (first_error) return tl::unexpected(*first_error);
  return ScrapeStats{out.samples.size()};
}

}  // namespace kubemetrics::scrapers::ec2
