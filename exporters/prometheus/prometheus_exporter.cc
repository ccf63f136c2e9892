#include "prometheus_exporter.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <exception>
#include <map>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "common/http/content_encoding.h"
#include "common/http/request_auth.h"
#include "exposition_writer.h"
#include "kubemetrics/log.h"
#include "page_cache.h"
#include "target_series_limit.h"

namespace kubemetrics::exporters::prometheus {
namespace {

// How far ahead of the wall clock a held value may be stamped and still
// count as the present (a pushed sample from a sender whose clock runs a
// little fast).
constexpr std::int64_t kFutureToleranceMs = 10'000;

/// True when a sample stamped `ts` must not replace the value held, stamped
/// `held`: it is older (backfill, a listener replaying old data), and the
/// held value is not from the future. After the wall clock steps back (an
/// NTP correction) every new sample is "older" than the held one; taking
/// them keeps the series live instead of frozen for expire_after. 0: the
/// source did not stamp the sample, which always replaces.
bool isBackfill(std::int64_t ts, std::int64_t held, std::int64_t wall_now_ms) {
  return ts != 0 && ts < held && held <= wall_now_ms + kFutureToleranceMs;
}

struct SeriesKey {
  Symbol name;
  Labels labels;
};

// Lookups go through raw ids so that finding an existing series (the common
// case) copies no handle and so costs no atomic operation.
struct SeriesKeyRef {
  const void* name;
  const void* labels;
};

struct SeriesKeyHash {
  using is_transparent = void;
  std::size_t operator()(const SeriesKeyRef& k) const noexcept {
    const std::size_t h = std::hash<const void*>()(k.name);
    return h ^ (std::hash<const void*>()(k.labels) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  }
  std::size_t operator()(const SeriesKey& k) const noexcept {
    return (*this)(SeriesKeyRef{k.name.id(), k.labels.id()});
  }
};

struct SeriesKeyEqual {
  using is_transparent = void;
  static SeriesKeyRef ref(const SeriesKey& k) { return {k.name.id(), k.labels.id()}; }
  static SeriesKeyRef ref(const SeriesKeyRef& k) { return k; }
  template <class A, class B>
  bool operator()(const A& a, const B& b) const noexcept {
    return ref(a).name == ref(b).name && ref(a).labels == ref(b).labels;
  }
};

struct SeriesValue {
  double value = 0;
  std::int64_t timestamp_ms = 0;
  SteadyClock::time_point refreshed;
  TargetSeriesLimit::Target* target = nullptr;  // whose count it is in
};

struct FamilyEntry {
  FamilyInfo info;
  std::size_t series = 0;  // series of this name held; 0 -> dropped at the next sweep
};

// The page may hold each family once, so collected families named like one
// of the agent's own (including a histogram's or summary's derived series)
// are left out.
std::unordered_set<std::string> selfMetricNames(
    const std::vector<::prometheus::MetricFamily>& families) {
  std::unordered_set<std::string> names;
  for (const ::prometheus::MetricFamily& family : families) {
    names.insert(family.name);
    if (family.type == ::prometheus::MetricType::Histogram ||
        family.type == ::prometheus::MetricType::Summary) {
      names.insert(family.name + "_sum");
      names.insert(family.name + "_count");
      names.insert(family.name + "_bucket");
    }
  }
  return names;
}

std::string_view encodingName(PageEncoding encoding) {
  return encoding == PageEncoding::kGzip ? "gzip" : "identity";
}

}  // namespace

// The page cache's self-metrics, one series per encoding or result.
struct PageMetrics {
  struct PerEncoding {
    ::prometheus::Counter* renders = nullptr;
    ::prometheus::Counter* seconds = nullptr;
    ::prometheus::Gauge* bytes = nullptr;
  };
  PerEncoding identity;
  PerEncoding gzip;
  ::prometheus::Counter* hits = nullptr;
  ::prometheus::Counter* waited = nullptr;
  ::prometheus::Counter* refused = nullptr;

  // Throws what prometheus-cpp throws (a name taken by another type).
  static PageMetrics registerIn(::prometheus::Registry& metrics) {
    PageMetrics m;
    auto& renders = ::prometheus::BuildCounter()
                        .Name("kubemetrics_prometheus_endpoint_renders_total")
                        .Help(
                            "Pages the Prometheus endpoint rendered (identity) or gzip-encoded "
                            "(gzip); each serves every scrape within cache_for.")
                        .Register(metrics);
    auto& seconds = ::prometheus::BuildCounter()
                        .Name("kubemetrics_prometheus_endpoint_render_seconds_total")
                        .Help("Wall time spent rendering (identity) and gzip-encoding pages.")
                        .Register(metrics);
    auto& bytes = ::prometheus::BuildGauge()
                      .Name("kubemetrics_prometheus_endpoint_page_bytes")
                      .Help("Size of the latest page, by encoding.")
                      .Register(metrics);
    auto& scrapes = ::prometheus::BuildCounter()
                        .Name("kubemetrics_prometheus_endpoint_scrapes_total")
                        .Help(
                            "Scrapes of the Prometheus endpoint: answered from the cache "
                            "(cache_hit), after waiting for a render (waited), or refused "
                            "with 503 because max_waiting_scrapes were waiting (refused).")
                        .Register(metrics);
    for (PageEncoding encoding : {PageEncoding::kIdentity, PageEncoding::kGzip}) {
      PerEncoding& e = encoding == PageEncoding::kGzip ? m.gzip : m.identity;
      const std::map<std::string, std::string> labels{
          {"encoding", std::string(encodingName(encoding))}};
      e.renders = &renders.Add(labels);
      e.seconds = &seconds.Add(labels);
      e.bytes = &bytes.Add(labels);
    }
    m.hits = &scrapes.Add({{"result", "cache_hit"}});
    m.waited = &scrapes.Add({{"result", "waited"}});
    m.refused = &scrapes.Add({{"result", "refused"}});
    return m;
  }

  PageCacheEvents events() const {
    PageCacheEvents events;
    events.encoded = [m = *this](PageEncoding encoding, double took, std::size_t size) {
      const PerEncoding& e = encoding == PageEncoding::kGzip ? m.gzip : m.identity;
      e.renders->Increment();
      e.seconds->Increment(took);
      e.bytes->Set(static_cast<double>(size));
    };
    events.hit = [c = hits] { c->Increment(); };
    events.waited = [c = waited] { c->Increment(); };
    events.refused = [c = refused] { c->Increment(); };
    return events;
  }
};

class PrometheusExporter::State {
 public:
  State(const PrometheusEndpointConfig& config, ::prometheus::Registry& registry, Clock clock,
        ::prometheus::Gauge& series_gauge, ::prometheus::Counter& expired_counter,
        ::prometheus::Family<::prometheus::Counter>& refused_family,
        const PageMetrics& page_metrics)
      : expire_after_(config.expire_after),
        // Expiry is exact at render time; the sweep in send() only bounds
        // memory when nobody scrapes, so it can be coarse.
        sweep_interval_(
            std::max<SteadyClock::duration>(config.expire_after / 4, std::chrono::seconds(1))),
        registry_(registry),
        clock_(clock ? std::move(clock) : Clock([] { return SteadyClock::now(); })),
        series_gauge_(series_gauge),
        expired_counter_(expired_counter),
        refused_family_(refused_family),
        limit_(static_cast<std::size_t>(config.max_series_per_target)),
        last_sweep_(clock_()),
        pages_(
            config.cache_for, static_cast<std::size_t>(config.max_waiting_scrapes),
            [this] { return render(); }, [this] { return clock_(); }, page_metrics.events()) {}

  PageCache& pages() { return pages_; }

  void send(const SampleBatch& batch) {
    const SteadyClock::time_point now = clock_();
    const std::int64_t wall_now_ms = wall_ms_();
    std::lock_guard<std::mutex> lock(mu_);
    // First, so that expired series no longer count against their target's limit.
    if (now - last_sweep_ >= sweep_interval_) sweepLocked(now);
    for (const MetricMetadata& meta : batch.metadata) {
      FamilyEntry& family = families_[meta.name];
      family.info.type = meta.type;
      if (!meta.help.empty()) family.info.help = meta.help;
      if (family.info.source.empty()) family.info.source = batch.source;
    }
    for (const Sample& sample : batch.samples) {
      auto it = series_.find(SeriesKeyRef{sample.name.id(), sample.labels.id()});
      if (isStaleMarker(sample.value)) {
        // The series ended (its target dropped it or stopped answering):
        // off the page now rather than after expire_after. A marker older
        // than the value held is backfill, like any older sample.
        if (it == series_.end()) continue;
        if (isBackfill(sample.timestamp_ms, it->second.timestamp_ms, wall_now_ms)) continue;
        eraseLocked(it);
        continue;
      }
      if (it == series_.end()) {
        bool first_refusal = false;
        TargetSeriesLimit::Target* target =
            limit_.admit(batch.source, sample.labels, &first_refusal);
        if (target == nullptr) {
          refuseLocked(batch.source, sample.labels, first_refusal);
          continue;
        }
        series_.emplace(SeriesKey{sample.name, sample.labels},
                        SeriesValue{sample.value, sample.timestamp_ms, now, target});
        FamilyEntry& family = families_[sample.name];
        if (family.info.source.empty()) family.info.source = batch.source;
        ++family.series;
        continue;
      }
      if (isBackfill(sample.timestamp_ms, it->second.timestamp_ms, wall_now_ms)) continue;
      it->second.value = sample.value;
      it->second.timestamp_ms = sample.timestamp_ms;
      it->second.refreshed = now;
    }
    series_gauge_.Set(static_cast<double>(series_.size()));
  }

  std::string render() {
    const SteadyClock::time_point now = clock_();
    std::vector<SeriesSnapshot> snapshot;
    FamilyInfoMap families;
    {
      std::lock_guard<std::mutex> lock(mu_);
      snapshot.reserve(series_.size());
      sweepLocked(now, [&snapshot](const SeriesKey& key, const SeriesValue& value) {
        snapshot.push_back(
            SeriesSnapshot{key.name, key.labels, value.value, value.timestamp_ms, value.refreshed});
      });
      families.reserve(families_.size());
      for (const auto& [name, family] : families_) families.emplace(name, family.info);
      series_gauge_.Set(static_cast<double>(series_.size()));
    }

    std::vector<::prometheus::MetricFamily> self;
    std::string self_error;
    try {
      self = registry_.Collect();
    } catch (const std::exception& e) {
      self_error = e.what();
    }
    // writeExposition reserves the collected part's exact size.
    std::string out;
    writeExposition(out, std::move(snapshot), families, selfMetricNames(self));
    if (self_error.empty()) {
      try {
        std::ostringstream text;
        ::prometheus::TextSerializer().Serialize(text, self);
        out += text.str();
      } catch (const std::exception& e) {
        self_error = e.what();
      }
    }
    if (!self_error.empty()) {
      // A plain comment keeps the page valid; the collected series still go out.
      out += "# kubemetrics-agent: self-metrics unavailable: ";
      for (char c : self_error) out.push_back(c == '\n' ? ' ' : c);
      out.push_back('\n');
    }
    return out;
  }

  std::size_t seriesCount() {
    std::lock_guard<std::mutex> lock(mu_);
    return series_.size();
  }

  void setClock(Clock clock) { clock_ = std::move(clock); }
  void setWallClock(WallClock wall_ms) { wall_ms_ = std::move(wall_ms); }

 private:
  using SeriesMap = std::unordered_map<SeriesKey, SeriesValue, SeriesKeyHash, SeriesKeyEqual>;

  // Requires mu_. Removes one series; its family goes at the next sweep if
  // it was the last.
  SeriesMap::iterator eraseLocked(SeriesMap::iterator it) {
    auto family = families_.find(it->first.name);
    if (family != families_.end() && family->second.series > 0) --family->second.series;
    limit_.release(it->second.target);
    return series_.erase(it);
  }

  // Requires mu_. A sample of a new series its target has no room for.
  void refuseLocked(const std::string& source, const Labels& labels, bool first_refusal) {
    auto counter = refused_by_source_.find(source);
    if (counter == refused_by_source_.end()) {
      counter =
          refused_by_source_.emplace(source, &refused_family_.Add({{"source", source}})).first;
    }
    counter->second->Increment();
    if (!first_refusal) return;
    logWarn("prometheus exporter")
        << "source \"" << source << "\", instance \"" << labels.get("instance") << "\" holds "
        << limit_.maxPerTarget()
        << " series on the page (exporters.prometheus.max_series_per_target): its new series are "
           "not served until some of the held ones end or expire (expire_after); counted in "
           "kubemetrics_prometheus_endpoint_refused_samples_total";
  }

  // Requires mu_.
  void sweepLocked(SteadyClock::time_point now) {
    sweepLocked(now, [](const SeriesKey&, const SeriesValue&) {});
  }

  // Drops the expired series and calls `kept(key, value)` on every other
  // one, in the same walk over the series: a render's snapshot is one
  // pass over a million scattered nodes, not two.
  template <typename Kept>
  void sweepLocked(SteadyClock::time_point now, Kept&& kept) {
    last_sweep_ = now;
    std::size_t expired = 0;
    for (auto it = series_.begin(); it != series_.end();) {
      if (now - it->second.refreshed < expire_after_) {
        kept(it->first, it->second);
        ++it;
        continue;
      }
      it = eraseLocked(it);
      ++expired;
    }
    std::erase_if(families_, [](const auto& entry) { return entry.second.series == 0; });
    if (expired > 0) expired_counter_.Increment(static_cast<double>(expired));
  }

  const SteadyClock::duration expire_after_;
  const SteadyClock::duration sweep_interval_;
  ::prometheus::Registry& registry_;
  Clock clock_;  // set before concurrent use, read-only after
  WallClock wall_ms_ = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };  // as clock_
  ::prometheus::Gauge& series_gauge_;
  ::prometheus::Counter& expired_counter_;
  ::prometheus::Family<::prometheus::Counter>& refused_family_;

  // TODO(promexp): KM_GUARDED_BY(mu_) once thread_annotations.h offers an
  // annotated mutex; on std::mutex Clang rejects the attribute.
  std::mutex mu_;
  SeriesMap series_;                                                           // mu_
  TargetSeriesLimit limit_;                                                    // mu_
  std::unordered_map<std::string, ::prometheus::Counter*> refused_by_source_;  // mu_
  std::unordered_map<Symbol, FamilyEntry> families_;                           // mu_
  SteadyClock::time_point last_sweep_;                                         // mu_
  // Last: destroyed first, so its render thread stops while the series it
  // renders still exist.
  PageCache pages_;
};

namespace {

HttpResponse pageResponse(const PageBody& body, PageEncoding encoding) {
  HttpResponse response;
  if (!body) {
    response.status = 500;
    response.body = "the page could not be rendered; see the agent's log\n";
    return response;
  }
  response.content_type = std::string(kContentType);
  // TODO(rendercache): share the body with the server instead of copying it
  // once per scraper (HttpResponse holds a std::string).
  response.body = *body;
  if (encoding == PageEncoding::kGzip) {
    response.headers.emplace_back("Content-Encoding", "gzip");
    response.headers.emplace_back("Vary", "Accept-Encoding");
  }
  return response;
}

}  // namespace

Result<std::unique_ptr<PrometheusExporter>> PrometheusExporter::create(
    const PrometheusEndpointConfig& config, ::prometheus::Registry& metrics, Clock clock) {
  ::prometheus::Gauge* series_gauge = nullptr;
  ::prometheus::Counter* expired_counter = nullptr;
  ::prometheus::Family<::prometheus::Counter>* refused_family = nullptr;
  PageMetrics page_metrics;
  try {
    series_gauge = &::prometheus::BuildGauge()
                        .Name("kubemetrics_prometheus_endpoint_series")
                        .Help("Series the Prometheus endpoint currently serves.")
                        .Register(metrics)
                        .Add({});
    expired_counter = &::prometheus::BuildCounter()
                           .Name("kubemetrics_prometheus_endpoint_expired_series_total")
                           .Help(
                               "Series dropped from the Prometheus endpoint because they "
                               "were not refreshed within expire_after.")
                           .Register(metrics)
                           .Add({});
    refused_family = &::prometheus::BuildCounter()
                          .Name("kubemetrics_prometheus_endpoint_refused_samples_total")
                          .Help(
                              "Samples of new series the Prometheus endpoint did not store "
                              "because their target (source and instance) held "
                              "max_series_per_target series, by source.")
                          .Register(metrics);
    page_metrics = PageMetrics::registerIn(metrics);
  } catch (const std::exception& e) {
    return makeError(ErrorCode::kInternal,
                     std::string("prometheus exporter: cannot register self-metrics: ") + e.what());
  }
  auto state = std::make_shared<State>(config, metrics, std::move(clock), *series_gauge,
                                       *expired_counter, *refused_family, page_metrics);
  return std::unique_ptr<PrometheusExporter>(new PrometheusExporter(std::move(state)));
}

PrometheusExporter::PrometheusExporter(std::shared_ptr<State> state) : state_(std::move(state)) {}

PrometheusExporter::~PrometheusExporter() = default;

Result<void> PrometheusExporter::send(SharedBatch batch) {
  if (batch) state_->send(*batch);
  return {};
}

void PrometheusExporter::shutdown(Deadline /*deadline*/) {}

std::string PrometheusExporter::render() { return state_->render(); }

HttpResponse PrometheusExporter::serve(const HttpRequest& request) { return handler()(request); }

AsyncHttpHandler PrometheusExporter::asyncHandler() const {
  return [state = state_](const HttpRequest& request, HttpResponder respond) {
    if (request.method != "GET" && request.method != "HEAD") {
      HttpResponse response;
      response.status = 405;
      response.body = "method not allowed\n";
      response.headers.emplace_back("Allow", "GET, HEAD");
      return respond(std::move(response));
    }
    const PageEncoding encoding = http_internal::acceptsGzip(request.header("Accept-Encoding"))
                                      ? PageEncoding::kGzip
                                      : PageEncoding::kIdentity;
    const bool queued = state->pages().request(
        encoding,
        [respond](PageBody body, PageEncoding served) { respond(pageResponse(body, served)); });
    if (!queued) {
      HttpResponse response;
      response.status = 503;
      response.body = "too many scrapes waiting for the page; retry\n";
      response.headers.emplace_back("Retry-After", "1");
      respond(std::move(response));
    }
  };
}

HttpHandler PrometheusExporter::handler() const {
  // HttpRoutes' default addAsync is the blocking adapter this needs.
  struct Capture : HttpRoutes {
    void add(std::string /*path*/, HttpHandler handler) override { captured = std::move(handler); }
    HttpHandler captured;
  } capture;
  capture.addAsync({}, asyncHandler());
  return std::move(capture.captured);
}

std::size_t PrometheusExporter::seriesCount() const { return state_->seriesCount(); }

void PrometheusExporter::setWallClockForTest(WallClock wall_ms) {
  state_->setWallClock(std::move(wall_ms));
}

void PrometheusExporter::setClockForTest(Clock clock) {
  state_->setClock(clock ? std::move(clock) : Clock([] { return SteadyClock::now(); }));
}

Result<std::vector<ExporterPtr>> buildExporters(ConfigNode& node, const ComponentContext* context) {
  const PrometheusEndpointConfig config = parseConfig(node);
  std::vector<ExporterPtr> exporters;
  if (context == nullptr) return exporters;
  auto exporter = PrometheusExporter::create(config, context->metrics);
  if (!exporter) return tl::unexpected(exporter.error());
  AsyncHttpHandler serve = (*exporter)->asyncHandler();
  auto created =
      RequestAuth::create({config.token_file, config.basic_auth}, "exporters.prometheus");
  if (!created) return tl::unexpected(created.error());
  if ((*created)->required()) {
    std::shared_ptr<const RequestAuth> auth = std::move(*created);
    // Counted by the server as kubemetrics_http_requests_total{code="401"}.
    serve = [auth, serve](const HttpRequest& request, HttpResponder respond) {
      if (auth->allows(request)) return serve(request, std::move(respond));
      HttpResponse response;
      response.status = 401;
      response.body = "unauthorized: send " + auth->expected() + "\n";
      response.headers.emplace_back("WWW-Authenticate", auth->challenge());
      respond(std::move(response));
    };
  }
  context->routes.addAsync(config.path, std::move(serve));
  // Disabled, it is sent nothing and its page holds only the agent's own
  // metrics (the handler keeps its state): a push-only agent stays observable.
  if (config.enabled) exporters.push_back(std::move(*exporter));
  return exporters;
}

}  // namespace kubemetrics::exporters::prometheus
