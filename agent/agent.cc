#include "agent/agent.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <sstream>
#include <utility>

#include "agent/pipeline/enricher.h"
#include "agent/pipeline/pipeline.h"
#include "agent/registry.h"
#include "agent/scheduler.h"
#include "agent/self_metrics_forwarder.h"
#include "common/config/config_document.h"
#include "common/config/units.h"
#include "common/http/http_server.h"
#include "common/kube/metadata_service.h"
#include "common/push/push_exporter.h"
#include "kubemetrics/kube_metadata.h"
#include "kubemetrics/labels.h"

namespace kubemetrics {
namespace {

constexpr auto kSweepInterval = std::chrono::seconds(60);
// How long start() waits for the first Kubernetes pod and node LISTs.
constexpr auto kKubeSyncWait = std::chrono::seconds(5);

struct Components {
  std::vector<SourcePtr> sources;
  std::vector<ListenerPtr> listeners;
  std::vector<ExporterPtr> exporters;
};

/// Runs the factory of every entry of `entries` (one component kind) on
/// its subtree of `section`, appending what it built to `out`.
template <class Entry, class Built>
Result<void> buildEach(const std::vector<Entry>& entries, ConfigNode& section,
                       const ComponentContext* context, std::vector<Built>& out) {
  for (const Entry& entry : entries) {
    ConfigNode node = section.child(entry.key);
    auto built = entry.factory(node, context);
    if (!built) return tl::unexpected(built.error());
    for (Built& component : *built) out.push_back(std::move(component));
  }
  return {};
}

/// Reads `sources:` (scraped sources and listeners) and `exporters:`
/// through every registered factory; with
/// a null context only validates. Each factory sees its subtree even when
/// the file omits it, so the effective config shows every default.
/// `exporters.spool` is read into `spool` first: the context the push
/// exporters get refers to it.
Result<Components> buildComponents(ConfigNode& root, const ComponentContext* context,
                                   SpoolSettings& spool) {
  Components out;
  ConfigNode sources = root.child("sources");
  ConfigNode exporters = root.child("exporters");
  ConfigNode spool_node = exporters.child("spool");
  spool = push::parseSpoolConfig(spool_node);
  if (auto built = buildEach(registeredSources(), sources, context, out.sources); !built) {
    return tl::unexpected(built.error());
  }
  if (auto built = buildEach(registeredListeners(), sources, context, out.listeners); !built) {
    return tl::unexpected(built.error());
  }
  sources.finish();
  if (auto built = buildEach(registeredExporters(), exporters, context, out.exporters); !built) {
    return tl::unexpected(built.error());
  }
  exporters.finish();
  root.finish();
  return out;
}

void applyOverrides(const AgentOverrides& overrides, AgentConfig& config,
                    std::vector<ConfigError>& errors) {
  if (overrides.listen) {
    std::string host;
    unsigned short port = 0;
    if (!splitListenAddress(*overrides.listen, &host, &port)) {
      errors.push_back({"--listen", "expected ADDR:PORT such as 0.0.0.0:9464 (got \"" +
                                        *overrides.listen + "\")"});
    }
    config.server.listen = *overrides.listen;
  }
  if (overrides.log_level) config.log_level = *overrides.log_level;
}

/// A route handler answering from a plain text producer.
HttpResponse textResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

}  // namespace

ConfigCheck Agent::check(std::string_view yaml, const std::string& origin,
                         const AgentOverrides& overrides) {
  ConfigCheck check;
  auto doc = ConfigDocument::parse(yaml, origin);
  if (doc->errors().empty()) {
    ConfigNode root = doc->root();
    check.config = parseAgentConfig(root);
    SpoolSettings spool;
    auto built = buildComponents(root, nullptr, spool);
    if (!built) doc->addError(origin, built.error().message());
  }
  check.errors = doc->errors();
  applyOverrides(overrides, check.config, check.errors);
  check.effective_yaml = doc->effectiveYaml();
  return check;
}

Result<std::unique_ptr<Agent>> Agent::create(std::string_view yaml, const std::string& origin,
                                             const AgentOverrides& overrides) {
  ConfigCheck checked = check(yaml, origin, overrides);
  if (!checked.ok()) {
    std::string message;
    for (const ConfigError& e : checked.errors) message += e.toString() + "\n";
    return makeError(ErrorCode::kInvalidArgument, message);
  }

  std::unique_ptr<Agent> agent(new Agent());
  agent->config_ = checked.config;
  agent->metrics_ = std::make_shared<prometheus::Registry>();
  HttpServerOptions server_options;
  server_options.max_connections = agent->config_.server.max_connections;
  // The kubelet's probes must get through whatever idle clients hold.
  server_options.evict_idle_at_limit = true;
  server_options.idle_timeout = agent->config_.server.idle_timeout;
  server_options.max_body_bytes = agent->config_.server.max_request_body;
  server_options.tls = agent->config_.server.tls;
  agent->server_ = std::make_unique<HttpServer>(server_options, agent->metrics_.get());

  // Second pass on a fresh document, now creating the components: the
  // first pass proved the whole file valid before anything was built.
  auto doc = ConfigDocument::parse(yaml, origin);
  ConfigNode root = doc->root();
  parseAgentConfig(root);
  // A source that tags its own series must not let a static tag named as
  // the Enricher's labels win over a pod's value (AgentTags::Snapshot).
  AgentTags::NamePredicate enriched;
  if (agent->config_.pipeline.enrich.enabled) enriched = &Enricher::addsLabel;
  agent->tags_ = std::make_unique<AgentTags>(configuredTags(agent->config_), &agent->runtime_tags_,
                                             std::move(enriched));
  agent->kube_ = std::make_unique<kube::KubeMetadataService>(agent->config_.kubernetes,
                                                             agent->config_.node, *agent->metrics_);
  ComponentContext context{agent->config_,       agent->spool_, *agent->metrics_, *agent->server_,
                           agent->runtime_tags_, *agent->tags_, agent->status_,   systemClock(),
                           agent->lifecycle_,    *agent->kube_};
  auto components = buildComponents(root, &context, agent->spool_);
  if (!components) return tl::unexpected(components.error());

  const KubeMetadata* kube = nullptr;
  if (agent->config_.pipeline.enrich.enabled) {
    auto acquired = agent->kube_->acquire("pipeline.enrich");
    if (!acquired) {
      return needsKubernetesApi("pipeline.enrich.enabled", acquired.error());
    }
    kube = *acquired;
  }
  std::vector<SelfMetricsRoute> self_metrics = selfMetricsRoutes(components->exporters);
  auto pipeline = Pipeline::create(agent->config_, std::move(components->exporters),
                                   *agent->metrics_, agent->tags_.get(), kube);
  if (!pipeline) return tl::unexpected(pipeline.error());
  agent->pipeline_ = std::move(*pipeline);
  Pipeline* pipe = agent->pipeline_.get();
  if (!self_metrics.empty()) {
    agent->self_metrics_ = std::make_unique<SelfMetricsForwarder>(
        std::move(self_metrics), *agent->metrics_,
        [pipe](SampleBatchPtr batch, std::span<const std::string> to) {
          return pipe->submitTo(std::move(batch), to);
        });
  }
  // A notice comes from a source, on the scheduler's thread: the scheduler
  // stops before the pipeline shuts down, so none arrives after.
  agent->lifecycle_.subscribe([pipe](const TerminationNotice& notice) {
    logWarn("agent") << "the node goes away (" << notice.reason
                     << "): exporters deliver what they hold now";
    pipe->prepareForTermination(notice.at);
  });
  agent->listeners_ = std::move(components->listeners);
  agent->scheduler_ = std::make_unique<Scheduler>(
      std::move(components->sources),
      [pipe](SampleBatchPtr batch) { pipe->submit(std::move(batch)); }, *agent->metrics_);

  prometheus::BuildGauge()
      .Name("kubemetrics_build_info")
      .Help("Always 1; the labels say which build runs.")
      .Register(*agent->metrics_)
      .Add({{"version", std::string(kAgentVersion)}, {"role", agent->config_.role}})
      .Set(1);

  Agent* self = agent.get();
  agent->server_->add("/healthz", [](const HttpRequest&) { return textResponse(200, "ok\n"); });
  agent->server_->add("/readyz", [self](const HttpRequest&) {
    if (!self->ready_.load()) return textResponse(503, "not ready\n");
    std::ostringstream body;
    body << "ready\n";
    for (const auto& s : self->scheduler_->status()) {
      body << "source " << s.name << ": "
           << (!s.scraped ? "waiting for first scrape"
               : s.up     ? "up"
                          : "down: " + s.last_error)
           << "\n";
    }
    return textResponse(200, body.str());
  });
  agent->server_->add(
      "/status", [self](const HttpRequest&) { return textResponse(200, self->status_.render()); });
  agent->status_.add("agent", [self] {
    std::string out = "version " + std::string(kAgentVersion) + "\ncluster " +
                      self->config_.cluster + "\nnode " + self->config_.node + "\nrole " +
                      self->config_.role + "\n";
    const auto tags = self->runtime_tags_.tags();
    for (const auto& [name, value] : *tags) out += "tag " + name + "=" + value + "\n";
    return out;
  });
  agent->server_->add("/", [](const HttpRequest&) {
    return textResponse(200, "kubemetrics-agent " + std::string(kAgentVersion) +
                                 "\n/metrics  collected series and self-metrics\n/healthz  "
                                 "liveness\n/readyz   readiness and source status\n/status   "
                                 "what the agent detected\n");
  });
  return agent;
}

Agent::~Agent() { stop(); }

Result<void> Agent::start() {
  auto bound = server_->start(config_.server.listen);
  if (!bound) return makeError(bound.error().code(), "server: " + bound.error().message());
  pipeline_->start();
  // Before the sources, and waited for (bounded): the first scrapes find
  // the pods listed, so no series goes out unenriched. An API server that
  // does not answer in time delays nothing further (the components cope
  // with an unsynced snapshot, the watches keep trying).
  kube_->start();
  kube_->waitForSync(deadlineIn(kKubeSyncWait));
  scheduler_->start();
  if (self_metrics_) self_metrics_->start();
  for (const ListenerPtr& listener : listeners_) {
    auto listening = listener->start(*pipeline_);
    if (!listening) return listening;
  }
  housekeeping_ = std::thread([this] { housekeeping(); });
  ready_.store(true);
  logInfo("agent") << "kubemetrics-agent " << kAgentVersion << " serving on "
                   << config_.server.listen << " (port " << server_->port() << "), cluster \""
                   << config_.cluster << "\", node \"" << config_.node << "\", role "
                   << config_.role;
  return {};
}

void Agent::stop() {
  if (stopped_.exchange(true)) return;
  ready_.store(false);
  const Deadline deadline = deadlineIn(config_.shutdown_timeout);
  logInfo("agent") << "stopping: draining the pipeline (at most "
                   << config_.shutdown_timeout.count() << " ms)";
  // Listeners first: what they took in is then in the ring, and drained.
  for (const ListenerPtr& listener : listeners_) listener->stop();
  // Half the time for the scrapes in progress, the rest (at least) for the
  // pipeline: a scrape stuck in a system call must not use up the drain.
  if (scheduler_ && !scheduler_->stop(deadlineIn(config_.shutdown_timeout / 2))) {
    sources_left_running_ = true;
  }
  if (self_metrics_) self_metrics_->stop();
  if (pipeline_) pipeline_->shutdown(deadline);
  // The pipeline's enrichment holds snapshots, never the watches: they can
  // stop last.
  if (kube_) kube_->stop();
  { std::lock_guard<std::mutex> lock(housekeeping_mu_); }
  housekeeping_wake_.notify_all();
  if (housekeeping_.joinable()) housekeeping_.join();
  if (server_) server_->stop();
  logInfo("agent") << "stopped";
}

void Agent::showReloads(const ReloadHistory& history) {
  auto& reloads = prometheus::BuildCounter()
                      .Name("kubemetrics_config_reloads_total")
                      .Help(
                          "Configuration reloads (SIGHUP or a changed file) by result: applied, "
                          "invalid (refused, the running configuration stays), failed (did not "
                          "start, the previous configuration was restored).")
                      .Register(*metrics_);
  // Counters only go up: each is brought to the process-wide count.
  auto bringTo = [&](const char* result, std::uint64_t count) {
    prometheus::Counter& counter = reloads.Add({{"result", result}});
    counter.Increment(static_cast<double>(count) - counter.Value());
  };
  bringTo("applied", history.applied);
  bringTo("invalid", history.invalid);
  bringTo("failed", history.failed);
  prometheus::BuildGauge()
      .Name("kubemetrics_config_last_reload_successful")
      .Help("1 when the last reload attempt was applied (or none was made), 0 otherwise.")
      .Register(*metrics_)
      .Add({})
      .Set(history.last_successful ? 1 : 0);
  prometheus::BuildGauge()
      .Name("kubemetrics_config_last_reload_success_timestamp_seconds")
      .Help("When the running configuration was loaded (Unix time).")
      .Register(*metrics_)
      .Add({})
      .Set(history.last_success_unix_seconds);
}

unsigned short Agent::port() const { return server_ ? server_->port() : 0; }

void Agent::housekeeping() {
  auto& symbols = prometheus::BuildGauge()
                      .Name("kubemetrics_interned_strings")
                      .Help("Distinct label names, values and metric names held in memory.")
                      .Register(*metrics_)
                      .Add({});
  auto& label_sets = prometheus::BuildGauge()
                         .Name("kubemetrics_interned_label_sets")
                         .Help("Distinct label sets held in memory.")
                         .Register(*metrics_)
                         .Add({});
  std::unique_lock<std::mutex> lock(housekeeping_mu_);
  do {
    sweepInterned();
    symbols.Set(static_cast<double>(internedSymbolCount()));
    label_sets.Set(static_cast<double>(internedLabelSetCount()));
  } while (!housekeeping_wake_.wait_for(lock, kSweepInterval, [this] { return stopped_.load(); }));
}

}  // namespace kubemetrics
