#pragma once

#include <prometheus/registry.h>

#include <string>

#include "kubemetrics/http.h"

namespace kubemetrics {

struct AgentConfig;

/// What a component factory gets besides its own config: the agent-level
/// settings, the self-metrics registry, and the HTTP routes it may serve.
/// All references outlive every component. Start-up only.
struct ComponentContext {
  const AgentConfig& agent;
  prometheus::Registry& metrics;
  HttpRoutes& routes;
};

}  // namespace kubemetrics
