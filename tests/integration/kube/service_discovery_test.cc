// Service discovery end to end, in process: the Kubernetes API client
// (KubeMetadataService::acquireServices, LIST + WATCH of Services and
// EndpointSlices) against the fake API server (tests/support/
// fake_kube_api.h: Service v1 and EndpointSlice discovery.k8s.io/v1 as the
// Kubernetes API reference describes them, LIST and WATCH per the API
// concepts document), and KubernetesServicesSource scraping real fake
// targets on 127.0.0.1. A Service with three endpoints gives three targets
// with namespace/service/pod labels; an endpoint removed by a watch event
// stops its target with staleness markers.
//
// The three endpoints share 127.0.0.1, so each needs its own port: the
// EndpointSlice controller puts endpoints whose (named) target port
// resolves to different numbers into different slices, so the Service has
// three slices of one endpoint each, all labelled with its name.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/kube/metadata_service.h"
#include "scrapers/kubernetes_services/kubernetes_services_source.h"
#include "support/fake_kube_api.h"
#include "support/fake_pod.h"
#include "support/process.h"
#include "support/registry_value.h"
#include "support/wait_for.h"

namespace kubemetrics::scrapers::kubernetes_services {
namespace {

using kubemetrics::testing::endpointSliceJson;
using kubemetrics::testing::FakeKubeApi;
using kubemetrics::testing::FakePod;
using kubemetrics::testing::registryValue;
using kubemetrics::testing::serviceJson;
using kubemetrics::testing::SliceEndpoint;
using kubemetrics::testing::TempDir;
using namespace std::chrono_literals;
using kubemetrics::testing::waitFor;

// The samples of `name` (markers or not) whose labels include `labels`.
std::vector<const Sample*> select(const SampleBatch& batch, std::string_view name,
                                  const std::map<std::string, std::string>& labels,
                                  bool markers = false) {
  std::vector<const Sample*> out;
  for (const Sample& s : batch.samples) {
    if (isStaleMarker(s.value) != markers) continue;
    if (!name.empty() && s.name.view() != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) match = match && s.labels.get(k) == v;
    if (match) out.push_back(&s);
  }
  return out;
}

class ServiceDiscoveryTest : public ::testing::Test {
 protected:
  ServiceDiscoveryTest() {
    for (int i = 0; i < 3; ++i) {
      pods_.push_back(std::make_unique<FakePod>(
          "/metrics", "# TYPE web_requests_total counter\nweb_requests_total{code=\"200\"} " +
                          std::to_string(10 * (i + 1)) + "\n"));
    }
  }

  void SetUp() override {
    token_file_ = dir_.write("token", "fake-token\n");
    api_.upsertService(serviceJson("shop", "web", {{"prometheus.io/scrape", "true"}}));
    // Not annotated: its endpoint is never scraped.
    api_.upsertService(serviceJson("shop", "db", {}));
    for (int i = 0; i < 3; ++i) api_.upsertEndpointSlice(slice(i, true));
    api_.upsertEndpointSlice(
        endpointSliceJson("shop", "db-x1", "db", pods_[0]->port(), {{"127.0.0.1", "db-0", true}}));
  }

  void TearDown() override {
    if (service_) service_->stop();
  }

  // Slice i of `web`: endpoint pod web-i on fake pod i's port, or no
  // endpoint (the pod went away) when !present.
  std::string slice(int i, bool present) const {
    std::vector<SliceEndpoint> endpoints;
    if (present) endpoints.push_back({"127.0.0.1", "web-" + std::to_string(i), true});
    return endpointSliceJson("shop", "web-s" + std::to_string(i), "web", pods_[i]->port(),
                             endpoints);
  }

  kube::KubeApiConfig config() const {
    kube::KubeApiConfig config;
    config.api_server = api_.url();
    config.bearer_token_file = token_file_;
    config.ca_file = api_.caFile();
    config.watch_timeout = 60s;
    config.initial_backoff = 20ms;
    config.max_backoff = 200ms;
    config.request_timeout = 5s;
    return config;
  }

  // The API client with the service watches synced, and the source on it.
  std::unique_ptr<KubernetesServicesSource> startSource(ShardSpec shard = {}) {
    service_ = std::make_unique<kube::KubeMetadataService>(config(), "", registry_);
    auto catalog = service_->acquireServices("test");
    EXPECT_TRUE(catalog) << catalog.error().message();
    if (!catalog) return nullptr;
    service_->start();
    EXPECT_TRUE(service_->waitForSync(deadlineIn(15s)));
    EXPECT_TRUE(api_.waitForWatches(2, 10s));
    catalog_ = *catalog;
    scrape::DiscoveryConfig discovery;
    discovery.enabled = true;
    discovery.interval = 10s;
    discovery.target.interval = 10s;
    discovery.target.timeout = 5s;
    return std::make_unique<KubernetesServicesSource>(discovery, shard, *catalog, &registry_,
                                                      nullptr);
  }

  FakeKubeApi api_;
  TempDir dir_;
  std::string token_file_;
  std::vector<std::unique_ptr<FakePod>> pods_;
  prometheus::Registry registry_;
  std::unique_ptr<kube::KubeMetadataService> service_;
  KubeServiceCatalog* catalog_ = nullptr;
};

TEST_F(ServiceDiscoveryTest, ThreeEndpointsAreThreeTargetsThenARemovedOneGoesStale) {
  auto source = startSource();
  ASSERT_NE(source, nullptr);

  SampleBatch first;
  auto scraped = source->scrape(first, deadlineIn(20s));
  ASSERT_TRUE(scraped) << scraped.error().message();
  EXPECT_EQ(source->targetKeysForTest().size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const std::string pod = "web-" + std::to_string(i);
    const auto series = select(first, "web_requests_total", {{"pod", pod}});
    ASSERT_EQ(series.size(), 1u) << pod;
    EXPECT_EQ(series[0]->value, 10 * (i + 1));
    EXPECT_EQ(series[0]->labels.get("job"), "kubernetes-service-endpoints");
    EXPECT_EQ(series[0]->labels.get("namespace"), "shop");
    EXPECT_EQ(series[0]->labels.get("service"), "web");
    EXPECT_EQ(series[0]->labels.get("instance"), pods_[i]->instance());
    const auto up = select(first, "up", {{"pod", pod}});
    ASSERT_EQ(up.size(), 1u);
    EXPECT_EQ(up[0]->value, 1);
    EXPECT_EQ(pods_[i]->requests("/metrics"), 1) << pod;
  }
  EXPECT_TRUE(select(first, "", {{"service", "db"}}).empty()) << "db is not annotated";
  EXPECT_TRUE(select(first, "", {}, /*markers=*/true).empty());
  EXPECT_EQ(registryValue(registry_, "kubemetrics_kubernetes_services_targets"), 3);

  // web-1 goes away: its slice is MODIFIED to hold no endpoint (a watch
  // event, no re-list).
  const int lists_before = api_.requests("endpointslices", "list");
  const std::uint64_t version = catalog_->snapshot()->version;
  api_.upsertEndpointSlice(slice(1, false));
  ASSERT_TRUE(waitFor([&] { return catalog_->snapshot()->version > version; }));
  EXPECT_EQ(api_.requests("endpointslices", "list"), lists_before);

  SampleBatch second;
  scraped = source->scrape(second, deadlineIn(20s));
  ASSERT_TRUE(scraped) << scraped.error().message();
  EXPECT_EQ(source->targetKeysForTest().size(), 2u);
  EXPECT_EQ(pods_[1]->requests("/metrics"), 1) << "a removed endpoint is not scraped again";
  EXPECT_EQ(pods_[0]->requests("/metrics"), 2);
  EXPECT_EQ(pods_[2]->requests("/metrics"), 2);
  // Every series of web-1, up and scrape_* included, is marked stale once;
  // the others are live and unmarked.
  const auto stale = select(second, "", {{"pod", "web-1"}}, /*markers=*/true);
  std::set<std::string> stale_names;
  for (const Sample* s : stale) stale_names.insert(std::string(s->name.view()));
  EXPECT_EQ(stale_names.count("web_requests_total"), 1u);
  EXPECT_EQ(stale_names.count("up"), 1u);
  EXPECT_EQ(stale_names.count("scrape_duration_seconds"), 1u);
  EXPECT_EQ(stale.size(), stale_names.size()) << "one marker per series";
  EXPECT_TRUE(select(second, "", {{"pod", "web-1"}}, /*markers=*/false).empty());
  EXPECT_TRUE(select(second, "", {{"pod", "web-0"}}, /*markers=*/true).empty());
  EXPECT_EQ(select(second, "web_requests_total", {{"pod", "web-2"}}).size(), 1u);

  // A third scrape: nothing more about web-1.
  SampleBatch third;
  ASSERT_TRUE(source->scrape(third, deadlineIn(20s)));
  EXPECT_TRUE(select(third, "", {{"pod", "web-1"}}, true).empty());
  EXPECT_TRUE(select(third, "", {{"pod", "web-1"}}, false).empty());

  // The Service loses its annotation: every target goes, with markers.
  const std::uint64_t before_unannotate = catalog_->snapshot()->version;
  api_.upsertService(serviceJson("shop", "web", {}));
  ASSERT_TRUE(waitFor([&] { return catalog_->snapshot()->version > before_unannotate; }));
  SampleBatch fourth;
  (void)source->scrape(fourth, deadlineIn(20s));
  EXPECT_TRUE(source->targetKeysForTest().empty());
  EXPECT_EQ(select(fourth, "up", {{"pod", "web-0"}}, true).size(), 1u);
  EXPECT_EQ(select(fourth, "up", {{"pod", "web-2"}}, true).size(), 1u);
}

TEST_F(ServiceDiscoveryTest, NotReadyEndpointIsNotATargetAndTheWatchAsksForServiceSlicesOnly) {
  api_.upsertEndpointSlice(endpointSliceJson("shop", "web-s1", "web", pods_[1]->port(),
                                             {{"127.0.0.1", "web-1", false}}));
  auto source = startSource();
  ASSERT_NE(source, nullptr);
  SampleBatch out;
  ASSERT_TRUE(source->scrape(out, deadlineIn(20s)));
  EXPECT_EQ(source->targetKeysForTest().size(), 2u);
  EXPECT_EQ(pods_[1]->requests("/metrics"), 0);
  bool selected = false;
  for (const std::string& request : api_.requestLog()) {
    if (request.find("/apis/discovery.k8s.io/v1/endpointslices?") != std::string::npos) {
      selected = selected ||
                 request.find("labelSelector=kubernetes.io%2Fservice-name") != std::string::npos;
    }
  }
  EXPECT_TRUE(selected) << "the slices are selected by the kubernetes.io/service-name label";
}

}  // namespace
}  // namespace kubemetrics::scrapers::kubernetes_services
