// Every registered component through its whole life, generated from the
// registry: defaults validate, the factory builds with and without a
// context, an enabled instance runs once and shuts down twice. And every
// component folder the build found is registered (and nothing else is).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/registry.h"
#include "common/config/config_document.h"
#include "support/component_context.h"
#include "support/scoped_env.h"
#include "unit/agent/component_configs.h"

namespace kubemetrics {
namespace {

struct Case {
  std::string section;  // "sources" or "exporters"
  std::string key;
  std::string path() const { return section + "." + key; }
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.path(); }

std::vector<Case> registeredCases() {
  std::vector<Case> cases;
  for (const SourceEntry& e : registeredSources()) cases.push_back({"sources", std::string(e.key)});
  for (const ListenerEntry& e : registeredListeners()) {
    cases.push_back({"sources", std::string(e.key)});
  }
  for (const ExporterEntry& e : registeredExporters()) {
    cases.push_back({"exporters", std::string(e.key)});
  }
  return cases;
}

std::set<std::string> split(const std::string& list) {
  std::set<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) out.insert(item);
  return out;
}

// One component's factory over `subtree` (YAML under its key), returning
// what it built; errors recorded in the document are reported in `errors`.
struct Built {
  std::vector<SourcePtr> sources;
  std::vector<ListenerPtr> listeners;
  std::vector<ExporterPtr> exporters;
  std::vector<std::string> errors;
};

Result<Built> build(const Case& c, const std::string& subtree, const ComponentContext* context) {
  auto doc = ConfigDocument::parse(c.section + ":\n  " + c.key + ": " + subtree + "\n", "test");
  ConfigNode node = doc->root().child(c.section).child(c.key);
  Built built;
  if (c.section == "sources") {
    for (const SourceEntry& e : registeredSources()) {
      if (e.key != c.key) continue;
      auto made = e.factory(node, context);
      if (!made) return tl::unexpected(made.error());
      built.sources = std::move(*made);
    }
    for (const ListenerEntry& e : registeredListeners()) {
      if (e.key != c.key) continue;
      auto made = e.factory(node, context);
      if (!made) return tl::unexpected(made.error());
      built.listeners = std::move(*made);
    }
  } else {
    for (const ExporterEntry& e : registeredExporters()) {
      if (e.key != c.key) continue;
      auto made = e.factory(node, context);
      if (!made) return tl::unexpected(made.error());
      built.exporters = std::move(*made);
    }
  }
  for (const ConfigError& e : doc->errors()) built.errors.push_back(e.toString());
  return built;
}

// A context whose spool lives in a fresh directory, whose agent has the
// role the component needs (testing::enablingRole), and whose Kubernetes
// API is a fake holding one annotated pod of this node and one annotated
// Service endpoint, whose ports refuse.
struct LifecycleContext : testing::TestComponentContext {
  explicit LifecycleContext(const std::string& role = "cluster") {
    char dir[] = "/tmp/km-lifecycle-XXXXXX";
    spool_dir = ::mkdtemp(dir);
    spool.dir = spool_dir;
    agent.cluster = "lifecycle";
    agent.node = "node-1";
    agent.role = role;
    KubePod pod;
    pod.namespace_name = "default";
    pod.name = "lifecycle";
    pod.node_name = agent.node;
    pod.phase = "Running";
    pod.pod_ip = "127.0.0.1";
    pod.annotations = {{"prometheus.io/scrape", "true"}, {"prometheus.io/port", "1"}};
    fake_kube.setPod(std::move(pod));
    fake_kube.setSynced(true);
    kube.metadata = &fake_kube;
    // One annotated Service with one endpoint on the refusing port.
    fake_services.setService(
        KubeService{"default", "lifecycle", {{"prometheus.io/scrape", "true"}}});
    KubeEndpointSlice slice;
    slice.namespace_name = "default";
    slice.name = "lifecycle-1";
    slice.service_name = "lifecycle";
    slice.ports = {KubeEndpointPort{"http", 1, "TCP"}};
    slice.endpoints = {KubeEndpoint{{"127.0.0.1"}, true, "node-1", "Pod", "default", "lifecycle"}};
    fake_services.setSlice(std::move(slice));
    fake_services.setSynced(true);
    kube.services = &fake_services;
    kube.access = KubeApiAccess{"https://127.0.0.1:1", "", "", true};
  }
  ~LifecycleContext() { std::filesystem::remove_all(spool_dir); }
  std::string spool_dir;
  testing::FakeKubeMetadata fake_kube;
  testing::FakeServiceCatalog fake_services;
};

// Where a listener under test hands its batches: nowhere (it is only
// started and stopped here).
struct RefusingSink : SampleSink {
  bool offer(SampleBatchPtr&) override { return false; }
};

class ComponentLifecycleTest : public ::testing::TestWithParam<Case> {};

TEST_P(ComponentLifecycleTest, DefaultsValidateAndBuild) {
  const Case& c = GetParam();
  // Validation only (--check-config): no instance, no error.
  auto validated = build(c, "{}", nullptr);
  ASSERT_TRUE(validated) << c.path() << ": " << validated.error().message();
  EXPECT_EQ(validated->errors, std::vector<std::string>{}) << c.path();
  EXPECT_TRUE(validated->sources.empty() && validated->listeners.empty() &&
              validated->exporters.empty())
      << c.path();
  // With a context, the defaults build (some components are off by default).
  LifecycleContext context;
  auto built = build(c, "{}", &context.context);
  ASSERT_TRUE(built) << c.path() << ": " << built.error().message();
  EXPECT_EQ(built->errors, std::vector<std::string>{}) << c.path();
  for (ExporterPtr& e : built->exporters) {
    e->shutdown(deadlineIn(std::chrono::seconds(5)));
    e->shutdown(deadlineIn(std::chrono::seconds(5)));
  }
}

TEST_P(ComponentLifecycleTest, EnabledInstanceRunsAndShutsDownTwice) {
  const Case& c = GetParam();
  const auto config = testing::enablingConfigs().find(c.path());
  ASSERT_NE(config, testing::enablingConfigs().end())
      << c.path() << " has no case in tests/unit/agent/component_configs.h: add the config "
      << "that makes it create an instance on loopback";
  // ctest disables the EC2 source for every test (AWS_EC2_METADATA_DISABLED);
  // the enabling config points it at a loopback port instead.
  testing::ScopedEnv ec2_allowed("AWS_EC2_METADATA_DISABLED", nullptr);
  LifecycleContext context(testing::enablingRole(c.path()));
  auto built = build(c, config->second, &context.context);
  ASSERT_TRUE(built) << c.path() << ": " << built.error().message();
  EXPECT_EQ(built->errors, std::vector<std::string>{}) << c.path();
  ASSERT_EQ(built->sources.size() + built->listeners.size() + built->exporters.size(), 1u)
      << c.path();
  for (SourcePtr& source : built->sources) {
    EXPECT_FALSE(source->name().empty());
    EXPECT_GT(source->interval().count(), 0);
    EXPECT_LT(source->phase(), source->interval());
    // Its upstream refuses connections: the scrape may fail, but returns.
    SampleBatch batch;
    (void)source->scrape(batch, deadlineIn(std::chrono::seconds(3)));
  }
  for (ListenerPtr& listener : built->listeners) {
    EXPECT_FALSE(listener->name().empty());
    RefusingSink sink;
    ASSERT_TRUE(listener->start(sink)) << c.path();
    listener->stop();
    listener->stop();  // safe twice
  }
  for (ExporterPtr& exporter : built->exporters) {
    EXPECT_FALSE(exporter->name().empty());
    auto batch = std::make_shared<SampleBatch>();
    batch->source = "lifecycle";
    batch->samples.push_back(Sample{Symbol::intern("lifecycle_test"), Labels(), 1, 1000});
    EXPECT_TRUE(exporter->send(batch)) << c.path();
    exporter->shutdown(deadlineIn(std::chrono::seconds(5)));
    exporter->shutdown(deadlineIn(std::chrono::seconds(5)));  // safe twice
  }
}

INSTANTIATE_TEST_SUITE_P(Registered, ComponentLifecycleTest, ::testing::ValuesIn(registeredCases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.section + "_" + info.param.key;
                         });

// A folder under scrapers/ or exporters/ is a component the build compiles
// and links into the agent (cmake/Component.cmake); agent/registry.cc must
// list it, or the agent would never build it.
TEST(ComponentRegistryTest, EveryComponentFolderIsRegistered) {
  std::set<std::string> sources, exporters;
  for (const SourceEntry& e : registeredSources()) sources.emplace(e.key);
  for (const ListenerEntry& e : registeredListeners()) sources.emplace(e.key);
  for (const ExporterEntry& e : registeredExporters()) exporters.emplace(e.key);
  EXPECT_EQ(sources, split(KM_SOURCE_FOLDERS))
      << "scrapers/<key>/ folders and KM_SOURCE(key) lines of agent/registry.cc differ";
  EXPECT_EQ(exporters, split(KM_EXPORTER_FOLDERS))
      << "exporters/<key>/ folders and KM_EXPORTER(key) lines of agent/registry.cc differ";
}

}  // namespace
}  // namespace kubemetrics
