#pragma once

#include <prometheus/registry.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "kubemetrics/component.h"
#include "kubemetrics/config.h"
#include "kubemetrics/deadline.h"
#include "kubemetrics/exporter.h"
#include "kubemetrics/http.h"
#include "kubemetrics/result.h"

namespace kubemetrics::exporters::prometheus {

/// The pull exporter ("prometheus"): keeps the latest value of every series
/// it is sent and serves them, with the agent's own metrics from the
/// self-metrics registry, as one Prometheus text page (see
/// writeExposition). Series not refreshed for `expire_after` leave the page
/// and memory; a staleness marker (isStaleMarker) removes its series at once.
/// A target (source and `instance` label) holding `max_series_per_target`
/// series gets no new ones until some leave (TargetSeriesLimit).
///
/// Scrapes are answered through a PageCache: the page is rendered at most
/// once per `cache_for` (and gzipped at most once, for clients that accept
/// gzip, which then get it with Content-Encoding: gzip), on the exporter's
/// own render thread, and shared by every scraper; the async handler never
/// holds a server io thread while a render runs, so /healthz stays quick.
/// More than `max_waiting_scrapes` scrapes waiting get 503 with
/// Retry-After: 1.
///
/// Thread-safe: send() runs on the pipeline's flusher thread while render()
/// and the HTTP handler run on server threads. One mutex guards the series;
/// render() holds it only to expire and copy the series out (two handle
/// copies per series), and formats outside it, so a scrape of a large page
/// delays send() by the copy, not by the formatting. The HTTP handler shares
/// ownership of the state, so it stays valid if the exporter is destroyed
/// before the server stops. The registry must outlive both.
class PrometheusExporter : public Exporter {
 public:
  using Clock = std::function<SteadyClock::time_point()>;
  /// The wall clock in Unix milliseconds (tests step it back).
  using WallClock = std::function<std::int64_t()>;

  /// Registers the exporter's self-metrics in `metrics`
  /// (kubemetrics_prometheus_endpoint_series,
  /// kubemetrics_prometheus_endpoint_expired_series_total,
  /// kubemetrics_prometheus_endpoint_refused_samples_total{source},
  /// kubemetrics_prometheus_endpoint_renders_total{encoding},
  /// kubemetrics_prometheus_endpoint_render_seconds_total{encoding},
  /// kubemetrics_prometheus_endpoint_page_bytes{encoding},
  /// kubemetrics_prometheus_endpoint_scrapes_total{result}). A registration
  /// prometheus-cpp refuses (a name taken by another type) is kInternal.
  /// `clock` defaults to SteadyClock::now; tests pass a fake.
  static Result<std::unique_ptr<PrometheusExporter>> create(const PrometheusEndpointConfig& config,
                                                            ::prometheus::Registry& metrics,
                                                            Clock clock = {});
  ~PrometheusExporter() override;

  // kubemetrics::Exporter
  std::string_view name() const override { return "prometheus"; }
  /// Stores every sample as the latest value of its series; a sample older
  /// (by timestamp) than the one held is ignored. A staleness marker removes
  /// its series (and is never stored). Never fails.
  Result<void> send(SharedBatch batch) override;
  /// Nothing to flush: the page is served until the HTTP server stops.
  void shutdown(Deadline deadline) override;

  /// The whole page: collected series, then the agent's own metrics.
  /// Renders now, bypassing the cache.
  std::string render();
  /// Answers GET/HEAD with the page (kContentType), gzip-encoded when the
  /// request accepts gzip; 405 otherwise; 503 when too many wait. Blocks
  /// until answered (tests).
  HttpResponse serve(const HttpRequest& request);
  /// The handler for HttpRoutes::addAsync, sharing ownership of the state:
  /// answers from the cache at once or from the render thread later.
  AsyncHttpHandler asyncHandler() const;
  /// The same, blocking its caller until answered (tests, HttpRoutes
  /// without async support).
  HttpHandler handler() const;
  /// Series currently held (expired ones go at the next render or sweep).
  std::size_t seriesCount() const;
  /// Replaces the clock; call before any concurrent use.
  void setClockForTest(Clock clock);
  /// Replaces the wall clock; call before any concurrent use.
  void setWallClockForTest(WallClock wall_ms);

 private:
  class State;
  explicit PrometheusExporter(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

/// Factory for `exporters.prometheus` (agent/registry.cc): parses the
/// config; with a null context (validation only) returns no exporter;
/// otherwise serves a page at `path` via context->routes and, unless
/// `enabled: false`, returns its exporter. A disabled one's page holds only
/// the agent's own metrics.
ExporterFactory buildExporters;

}  // namespace kubemetrics::exporters::prometheus
