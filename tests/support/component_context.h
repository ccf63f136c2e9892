#pragma once

#include <prometheus/registry.h>

#include <map>
#include <string>

#include "kubemetrics/component.h"
#include "support/fake_kube_metadata.h"

namespace kubemetrics::testing {

/// Everything a component factory's context refers to, owned in one place,
/// for tests that build a component outside the agent. The routes a
/// component registers are kept in `routes.handlers` for the test to call.
/// Not copyable (the context refers to the members); one per test.
struct TestComponentContext {
  struct Routes : HttpRoutes {
    void add(std::string path, HttpHandler handler) override {
      handlers[std::move(path)] = std::move(handler);
    }
    std::map<std::string, HttpHandler> handlers;
  };

  AgentIdentity agent;
  SpoolSettings spool;
  prometheus::Registry registry;
  Routes routes;
  RuntimeTags runtime_tags;
  AgentTags tags{{}, &runtime_tags};
  StatusBoard status;
  NodeLifecycle lifecycle;
  TestKubeProvider kube;
  ComponentContext context{agent, spool,  registry,      routes,    runtime_tags,
                           tags,  status, systemClock(), lifecycle, kube};
};

}  // namespace kubemetrics::testing
