#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kubemetrics/agent_tags.h"
#include "kubemetrics/clock.h"
#include "kubemetrics/config.h"
#include "kubemetrics/exporter.h"
#include "kubemetrics/http.h"
#include "kubemetrics/kube_metadata.h"
#include "kubemetrics/listener.h"
#include "kubemetrics/node_lifecycle.h"
#include "kubemetrics/result.h"
#include "kubemetrics/runtime_tags.h"
#include "kubemetrics/source.h"
#include "kubemetrics/status_board.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

// The component SDK: what a source or an exporter is given when the agent
// builds it, and the shape of the factory it registers. A component folder
// (scrapers/<key>/ or exporters/<key>/) defines one factory,
// kubemetrics::scrapers::<key>::buildSources (or buildListeners, for a
// source that is pushed to rather than scraped) or
// kubemetrics::exporters::<key>::buildExporters, and agent/registry.cc lists
// the key once; the same <key> names the folder, the namespace and the
// config section (sources.<key>, exporters.<key>).

namespace kubemetrics {

/// Who this agent is, from the top of the config file. Plain value type.
struct AgentIdentity {
  std::string cluster;        // tag `cluster` on every sample
  std::string node;           // tag `node`; default: the host name
  std::string role = "node";  // node (DaemonSet) | cluster (one or more replicas)
  /// `sharding:` (role: cluster): this replica's ordinal and the number of
  /// replicas; each replica scrapes the discovered targets whose hash
  /// (common/scrape/shard.h) modulo total_shards is its shard.
  int shard = 0;
  int total_shards = 1;
};

/// `exporters.spool`: where push exporters keep what they cannot deliver
/// now. Shared by every push exporter; each uses the subdirectory named
/// after its instance. Plain value type.
struct SpoolSettings {
  /// kWal: the batch being filled is journaled, every payload is written
  /// to the spool before it is sent and removed once the backend
  /// acknowledged it (a SIGKILL loses only what had not reached the
  /// exporter). kOverflow: payloads go to disk only when they cannot be
  /// sent now (less disk I/O; a SIGKILL loses what is in memory).
  enum class Mode { kWal, kOverflow };
  bool enabled = true;  // false: no spool, drops are counted
  Mode mode = Mode::kWal;
  std::string dir = "/var/lib/kubemetrics/spool";     // created if missing
  std::uint64_t max_bytes = 1024ULL * 1024 * 1024;    // per exporter; drop oldest beyond
  std::uint64_t segment_bytes = 16ULL * 1024 * 1024;  // a segment file rolls at this size
  bool sync = false;  // fdatasync after each record (power-loss safety, slower)
};

/// What a component factory gets besides its own config: who the agent is,
/// the spool settings, the self-metrics registry, the HTTP routes it may
/// serve, the run-time tags the pipeline adds to every sample (a source that
/// discovers them, like EC2, sets them), all the tags the pipeline adds (a
/// source may add them itself, see AgentTags), the /status page's
/// sections, the clock to schedule by (systemClock() in the agent, a
/// manual one in tests), the node's lifecycle (a source that learns the
/// node goes away announces it there), and the Kubernetes API metadata
/// (pods and node, shared by every component that asks for it). The agent owns everything
/// referenced, and it outlives every component, so a component may keep
/// pointers to it. Built at start-up;
/// the referenced objects say their own thread-safety.
struct ComponentContext {
  const AgentIdentity& agent;
  const SpoolSettings& spool;
  prometheus::Registry& metrics;
  HttpRoutes& routes;
  RuntimeTags& runtime_tags;
  const AgentTags& tags;
  StatusBoard& status;
  const Clock& clock;
  NodeLifecycle& lifecycle;
  KubeMetadataProvider& kube;
};

/// A component's factory. It reads its config subtree (`sources.<key>` or
/// `exporters.<key>`) through `node`, reporting every problem there (and
/// calling node.finish()). With a null context it only validates
/// (--check-config); otherwise it also creates the enabled instances. An
/// error return is a start-up failure (a port taken, a file unreadable),
/// not a config error. Called at start-up only, on the main thread.
using SourceFactory = Result<std::vector<SourcePtr>>(ConfigNode& node,
                                                     const ComponentContext* context);
using ExporterFactory = Result<std::vector<ExporterPtr>>(ConfigNode& node,
                                                         const ComponentContext* context);
/// The same for listeners (`sources.<key>`): a listener binds its ports in
/// Listener::start(), not in the factory.
using ListenerFactory = Result<std::vector<ListenerPtr>>(ConfigNode& node,
                                                         const ComponentContext* context);

}  // namespace kubemetrics
