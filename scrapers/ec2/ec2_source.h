#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "documents.h"
#include "imds_client.h"
#include "kubemetrics/clock.h"
#include "kubemetrics/component.h"
#include "kubemetrics/config.h"
#include "kubemetrics/mutex.h"
#include "kubemetrics/runtime_tags.h"
#include "kubemetrics/source.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace kubemetrics::scrapers::ec2 {

/// Where the source is in its life, for /status and tests.
enum class Ec2Presence {
  kDisabled,  // enabled: false, AWS_EC2_METADATA_DISABLED, or auto with no sign of EC2
  kProbing,   // created, first request not answered yet
  kPresent,   // IMDS answered
  kAbsent,    // enabled: auto and the first probe found nothing: idle for good
};
std::string_view toString(Ec2Presence presence);

/// What the EC2 source found, shown on the /status page ("ec2" section).
/// Written by the source's thread, read by HTTP threads. Thread-safe.
class Ec2Status {
 public:
  struct Snapshot {
    std::string endpoint;
    std::string endpoint_origin;  // "config", "default" or the env variable
    std::string mode;             // "auto", "true", "false"
    Ec2Presence presence = Ec2Presence::kProbing;
    std::string presence_reason;  // why absent/disabled
    ImdsVersion version = ImdsVersion::kUnknown;
    std::string fallback_reason;
    std::optional<InstanceIdentity> identity;
    std::string spot = "unknown";         // "none" or "terminate at ... (N s left)"
    std::string rebalance = "unknown";    // "none" or "recommended at ..."
    std::string maintenance = "unknown";  // "none" or one line per event
    std::string last_error;
    std::chrono::milliseconds probe_duration{-1};  // first probe, -1 until done
  };

  Snapshot snapshot() const;
  void update(const std::function<void(Snapshot&)>& change);
  /// The /status section text: one "key value" line each.
  std::string render() const;

 private:
  mutable Mutex mu_;
  Snapshot snapshot_ KM_GUARDED_BY(mu_);
};

/// The `ec2` source: the EC2 instance metadata service. On its first scrape
/// (on the scheduler's thread, so Agent::start never waits for it) it reads
/// the instance identity document and publishes the configured identity
/// fields as run-time tags, which the pipeline adds to every sample. Every
/// scrape (spot_interval) it polls spot/instance-action; every
/// metadata_interval the rebalance recommendation and the scheduled
/// maintenance events. Samples:
///   ec2.instance_info{<identity tags>} 1
///   ec2.spot.interruption_pending 0|1
///   ec2.spot.interruption_seconds_left{action} (only while an action is set)
///   ec2.rebalance.recommended 0|1
///   ec2.rebalance.notice_timestamp_seconds (only while recommended)
///   ec2.maintenance.scheduled_events (count)
///   ec2.maintenance.event_seconds_until{code,event_id,state} per event
///
/// With enabled: auto, a first probe that is refused or times out means
/// "not on EC2": logged once, the source stays idle (scrapes succeed with
/// no samples). With enabled: true every failure is a scrape error and the
/// identity is retried every metadata_interval. A malformed identity
/// document is a scrape error (no tags) and is retried likewise; spot and
/// maintenance polling go on.
///
/// Owned by the scheduler thread (scrape() never runs concurrently); the
/// status object it shares is thread-safe.
class Ec2Source final : public Source {
 public:
  /// `runtime_tags`, `self_metrics` and `lifecycle` are optional and must
  /// outlive the source (a spot interruption, or a scheduled instance-stop
  /// or instance-retirement event, is announced to `lifecycle`); `status`
  /// may be shared with the /status page. `clock` decides when the identity
  /// and metadata are polled again and stamps samples; requests to IMDS
  /// keep real-time timeouts. It must outlive the source.
  Ec2Source(std::string name, Ec2Config config, std::unique_ptr<ImdsTransport> transport,
            RuntimeTags* runtime_tags, prometheus::Registry* self_metrics,
            std::shared_ptr<Ec2Status> status, const Clock& clock = systemClock(),
            NodeLifecycle* lifecycle = nullptr);
  ~Ec2Source() override;

  // kubemetrics::Source
  std::string_view name() const override { return name_; }
  std::chrono::milliseconds interval() const override { return config_.spot_interval; }
  Result<ScrapeStats> scrape(SampleBatch& out, Deadline deadline) override;
  bool discoversTags() const override { return true; }

  /// The IMDS base URL every request goes to, fixed at construction (config,
  /// then AWS_EC2_METADATA_SERVICE_ENDPOINT). Thread-safe.
  const std::string& resolvedEndpoint() const { return config_.endpoint; }
  const Ec2Config& config() const { return config_; }
  const std::shared_ptr<Ec2Status>& status() const { return status_; }

 private:
  Result<void> fetchIdentity(Deadline deadline);
  void announce(std::int64_t at_unix, std::string reason);
  Result<void> pollSpot(Deadline deadline);
  Result<void> pollRebalance(Deadline deadline);
  Result<void> pollMaintenance(Deadline deadline);
  void emit(SampleBatch& out);
  void add(SampleBatch& out, std::string_view name, const Labels& labels, double value);
  void publishStatus(const std::string& last_error);

  const std::string name_;
  const Clock& clock_;
  const Ec2Config config_;
  ImdsClient client_;
  RuntimeTags* const runtime_tags_;
  NodeLifecycle* const lifecycle_;
  const std::shared_ptr<Ec2Status> status_;

  bool probed_ = false;  // the first request got an answer or failed
  bool absent_ = false;
  bool malformed_logged_ = false;
  SteadyClock::time_point next_identity_{};
  SteadyClock::time_point next_metadata_{};
  std::optional<InstanceIdentity> identity_;
  Labels info_labels_;
  std::optional<SpotAction> spot_;
  bool spot_known_ = false;
  std::optional<std::int64_t> rebalance_;
  bool rebalance_known_ = false;
  std::vector<MaintenanceEvent> events_;
  bool events_known_ = false;
  std::int64_t now_ms_ = 0;
  std::vector<std::string> families_used_;
};

/// The registry factory for `sources.ec2`. Parses the config (errors through
/// `node`); with a null context (validation only) returns no source. With a
/// context it registers the "ec2" /status section and returns one source
/// named "ec2" unless: enabled: false; AWS_EC2_METADATA_DISABLED=true; or
/// enabled: auto with the default link-local endpoint on a machine that
/// shows no sign of EC2 (see looksLikeEc2) and is not in Kubernetes, so a
/// laptop or CI run never sends a packet to 169.254.169.254. Each case is
/// logged once. Never fails.
SourceFactory buildSources;

/// True when `sys_root` ("/sys") shows an EC2 machine: a DMI vendor, board
/// vendor or BIOS version naming Amazon (Nitro, and Xen instances'
/// "4.11.amazon"), or a Xen /sys/hypervisor/uuid starting with "ec2".
/// Reads a few small files; no network. Thread-safe.
bool looksLikeEc2(const std::string& sys_root);

}  // namespace kubemetrics::scrapers::ec2
