#include "common/scrape/prometheus_target.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>

#include "kubemetrics/log.h"

namespace kubemetrics::scrape {

namespace {

std::string reasonOf(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kUnavailable:
      return "unreachable";
    case ErrorCode::kResourceExhausted:
      return "body_too_large";
    case ErrorCode::kDataLoss:
      return "truncated";
    case ErrorCode::kPermissionDenied:
      return "forbidden";
    case ErrorCode::kInvalidArgument:
      return "request";
    case ErrorCode::kInternal:
      break;
  }
  return "internal";
}

std::int64_t wallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

PrometheusTarget::PrometheusTarget(TargetConfig config, std::string source_name,
                                   prometheus::Registry* registry, const AgentTags* tags)
    : config_(std::move(config)),
      source_name_(std::move(source_name)),
      tags_(tags),
      parser_(ParserOptions{.max_line_bytes = config_.max_line_bytes,
                            .max_labels = config_.max_labels,
                            .max_samples = config_.max_samples,
                            .metadata = true},
              [this](const Symbol& name, LabelsBuilder& scraped) {
                return labelSeries(name, scraped);
              }),
      report_names_{Symbol::intern("up"), Symbol::intern("scrape_duration_seconds"),
                    Symbol::intern("scrape_samples_scraped"),
                    Symbol::intern("scrape_samples_post_metric_relabeling"),
                    Symbol::intern("scrape_series_added")} {
  LabelsBuilder builder;
  // Extra labels first so job and instance always win, as in Prometheus
  // where they are target labels set last.
  for (const auto& [k, v] : config_.labels) builder.set(k, v);
  builder.set("job", config_.name);
  builder.set("instance", config_.instance());
  target_labels_ = builder.build();
  report_labels_ = target_labels_;
  target_label_list_.assign(target_labels_.begin(), target_labels_.end());

  HttpClientOptions options;
  options.connect_timeout =
      std::min<std::chrono::milliseconds>(config_.timeout, options.connect_timeout);
  options.max_response_bytes = config_.max_body_bytes;
  options.accept_gzip = true;
  options.tls.ca_file = config_.ca_file;
  options.tls.insecure_skip_verify = config_.insecure_skip_verify;
  client_ = std::make_unique<HttpClient>(options);
  if (config_.insecure_skip_verify) {
    logWarn(source_name_) << "tls.insecure_skip_verify is on: the certificate of " << config_.url
                          << " is not verified";
  }
  // A fixed per-target phase (as Prometheus spreads targets by a hash of
  // the target) within the jitter; the scheduler keeps it for every scrape.
  if (config_.jitter.count() > 0) {
    const std::size_t h = std::hash<std::string>()(config_.name + "\n" + config_.url);
    phase_ = std::chrono::milliseconds(
        static_cast<std::int64_t>(h % static_cast<std::size_t>(config_.jitter.count() + 1)));
  }
  if (registry != nullptr) {
    errors_family_ = &prometheus::BuildCounter()
                          .Name("kubemetrics_prometheus_scrape_errors_total")
                          .Help(
                              "Failed scrapes of Prometheus targets, per target and reason "
                              "(timeout, unreachable, http_status, body_too_large, truncated, "
                              "parse, sample_limit, limit, ...).")
                          .Register(*registry);
    stale_markers_ = &prometheus::BuildCounter()
                          .Name("kubemetrics_prometheus_stale_markers_total")
                          .Help(
                              "Staleness markers written for series of a Prometheus target that "
                              "vanished or whose scrape failed.")
                          .Register(*registry)
                          .Add({{"target", source_name_}});
    cached_series_ = &prometheus::BuildGauge()
                          .Name("kubemetrics_prometheus_cached_series")
                          .Help(
                              "Series texts the parser of a Prometheus target keeps interned "
                              "between scrapes.")
                          .Register(*registry)
                          .Add({{"target", source_name_}});
  }
}

PrometheusTarget::~PrometheusTarget() = default;

Labels PrometheusTarget::labelSeries(const Symbol& /*name*/, LabelsBuilder& scraped) const {
  for (const Label& target : target_label_list_) {
    const std::string_view existing = scraped.get(target.name.view());
    if (existing.empty()) {
      scraped.set(target.name, target.value);
      continue;
    }
    if (config_.honor_labels) continue;
    // Prometheus keeps the scraped value as exported_<name> (adding more
    // prefixes while that name is taken too).
    std::string exported = "exported_" + target.name.str();
    while (!scraped.get(exported).empty()) exported = "exported_" + exported;
    const std::string value(existing);
    scraped.set(exported, value);
    scraped.set(target.name, target.value);
  }
  if (const AgentTags::Snapshot* own = ownTags()) own->addTo(scraped);
  return scraped.build();
}

void PrometheusTarget::refreshTags(SampleBatch& out, std::int64_t ts_ms) {
  if (tags_ == nullptr) return;
  // Only when every sample of the batch will be this target's.
  const bool own_batch = out.samples.empty();
  if (tags_snapshot_ == nullptr || tags_snapshot_->version != tags_->version()) {
    const bool reported = tags_snapshot_ != nullptr;  // up and scrape_* went out with the old tags
    tags_snapshot_ = tags_->current();
    // Its label sets carry the old tags. Every series gets new labels, so
    // it is a new series to a backend: the parser still writes the markers
    // of the old ones at the end of this scrape (but for a series whose
    // labels come out the same, its own label overriding the changed tag).
    parser_.clearCache();
    LabelsBuilder builder(target_labels_);
    if (const AgentTags::Snapshot* own = ownTags()) own->addTo(builder);
    Labels report = builder.build();
    if (reported && report != report_labels_) {
      // The target under its old labels is gone for good: as Prometheus does
      // when a target goes away, its up and scrape_* series are marked too.
      for (const Symbol& name : report_names_) {
        out.samples.push_back(Sample{name, report_labels_, kStaleNaN, ts_ms});
      }
      if (stale_markers_ != nullptr) stale_markers_->Increment(report_names_.size());
    }
    report_labels_ = std::move(report);
  }
  if (own_batch && ownTags() != nullptr) out.tags_version = tags_snapshot_->version;
}

void PrometheusTarget::appendReport(SampleBatch& out, std::int64_t ts_ms, double seconds, bool up,
                                    std::size_t scraped, std::size_t added) const {
  const std::array<double, 5> values = {up ? 1.0 : 0.0, seconds, static_cast<double>(scraped),
                                        static_cast<double>(scraped), static_cast<double>(added)};
  for (std::size_t i = 0; i < report_names_.size(); ++i) {
    out.samples.push_back(Sample{report_names_[i], report_labels_, values[i], ts_ms});
  }
}

void PrometheusTarget::countError(const std::string& reason) {
  if (errors_family_ != nullptr)
    errors_family_->Add({{"target", source_name_}, {"reason", reason}}).Increment();
}

Result<ScrapeStats> PrometheusTarget::scrape(SampleBatch& out, Deadline deadline) {
  const auto began = SteadyClock::now();
  const std::int64_t ts_ms = wallClockMs();
  const Deadline scrape_deadline = std::min(deadline, began + config_.timeout);

  HttpClientRequest request;
  request.url = config_.url;
  request.headers.emplace_back("Accept", std::string(kAcceptHeader));
  request.headers.emplace_back(
      "X-Prometheus-Scrape-Timeout-Seconds",
      std::to_string(std::chrono::duration<double>(config_.timeout).count()));
  std::optional<Error> failure;
  std::string reason;
  if (!config_.bearer_token_file.empty()) {
    // Re-read every scrape: projected service-account tokens rotate.
    std::ifstream in(config_.bearer_token_file);
    std::stringstream token;
    token << in.rdbuf();
    std::string text = token.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
      text.pop_back();
    if (!in || text.empty()) {
      failure = Error(ErrorCode::kPermissionDenied,
                      "cannot read bearer_token_file " + config_.bearer_token_file);
      reason = "bearer_token";
    } else {
      request.headers.emplace_back("Authorization", "Bearer " + text);
    }
  }

  refreshTags(out, ts_ms);
  const std::size_t metadata_before = out.metadata.size();
  const std::size_t samples_before = out.samples.size();
  parser_.begin(ExpositionFormat::kAuto, &out, ts_ms);
  std::optional<Error> parse_error;
  if (!failure) {
    // A body error is kept and the rest drained (bounded by max_body_bytes
    // and the deadline), so an HTTP error status, known only afterwards, is
    // what gets reported for an error page.
    const BodyChunkHandler on_chunk = [&](std::string_view chunk) -> Result<void> {
      if (parse_error) return {};
      if (auto r = parser_.feed(chunk); !r) parse_error = r.error();
      return {};
    };
    auto response = client_->send(request, scrape_deadline, on_chunk);
    if (!response) {
      failure = response.error();
      reason = reasonOf(response.error());
    } else if (response->status < 200 || response->status > 299) {
      failure = Error(ErrorCode::kUnavailable, "HTTP status " + std::to_string(response->status));
      reason = "http_status";
    } else if (!parse_error) {
      auto finished = parser_.finish(formatFromContentType(response->header("Content-Type")));
      if (!finished) parse_error = finished.error();
    }
  }
  if (!failure && parse_error) {
    failure = *parse_error;
    const std::string& m = parse_error->message();
    reason = parse_error->code() != ErrorCode::kResourceExhausted ? "parse"
             : m.find("sample limit") != std::string::npos        ? "sample_limit"
                                                                  : "limit";
  }
  if (failure) {
    // Prometheus keeps nothing of a failed scrape but its report, and marks
    // every series of the previous scrape stale (not up and scrape_*: up = 0
    // says what happened).
    out.samples.resize(samples_before);
    out.metadata.resize(metadata_before);
    parser_.abandon();
  }
  const ParseStats stats = parser_.stats();
  if (stale_markers_ != nullptr && stats.stale_markers > 0)
    stale_markers_->Increment(static_cast<double>(stats.stale_markers));
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - began).count();
  appendReport(out, ts_ms, seconds, !failure, failure ? 0 : stats.samples,
               failure ? 0 : stats.new_series);
  reported_ = true;
  if (cached_series_ != nullptr) cached_series_->Set(static_cast<double>(parser_.cachedSeries()));
  if (failure) {
    countError(reason);
    return makeError(failure->code(), "scrape of " + config_.url + " failed (" + reason +
                                          "): " + failure->message());
  }
  return ScrapeStats{out.samples.size() - samples_before};
}

std::size_t PrometheusTarget::retire(SampleBatch& out) {
  const std::int64_t ts_ms = wallClockMs();
  // An empty scrape that failed: the cache marks every series the last
  // kept scrape had (and those a tag change still owes a marker), exactly
  // the series a backend still considers live.
  parser_.begin(ExpositionFormat::kAuto, &out, ts_ms);
  parser_.abandon();
  std::size_t markers = parser_.stats().stale_markers;
  if (reported_) {
    for (const Symbol& name : report_names_) {
      out.samples.push_back(Sample{name, report_labels_, kStaleNaN, ts_ms});
    }
    markers += report_names_.size();
    reported_ = false;
  }
  if (stale_markers_ != nullptr && markers > 0)
    stale_markers_->Increment(static_cast<double>(markers));
  return markers;
}

}  // namespace kubemetrics::scrape
