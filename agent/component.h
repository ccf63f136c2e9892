#pragma once

#include <prometheus/registry.h>

#include <string>

#include "kubemetrics/agent_tags.h"
#include "kubemetrics/http.h"
#include "kubemetrics/runtime_tags.h"
#include "status_board.h"

namespace kubemetrics {

struct AgentConfig;

/// What a component factory gets besides its own config: the agent-level
/// settings, the self-metrics registry, the HTTP routes it may serve, the
/// run-time tags the pipeline adds to every sample (a source that discovers
/// them, like EC2, sets them), all the tags the pipeline adds (a source may
/// add them itself, see AgentTags), and the /status page's sections. All
/// references outlive every component. Start-up only.
struct ComponentContext {
  const AgentConfig& agent;
  prometheus::Registry& metrics;
  HttpRoutes& routes;
  RuntimeTags& runtime_tags;
  const AgentTags& tags;
  StatusBoard& status;
};

}  // namespace kubemetrics
