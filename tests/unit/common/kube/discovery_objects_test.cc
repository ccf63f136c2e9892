// Decoding v1 Services and discovery.k8s.io/v1 EndpointSlices as the
// Kubernetes API reference shows them (EndpointSlice v1: addressType,
// endpoints[].addresses/conditions/nodeName/targetRef, ports[] whose port
// may be null), and the JSON path of a bad field.
#include "common/kube/discovery_objects.h"

#include <gtest/gtest.h>

namespace kubemetrics::kube {
namespace {

constexpr std::string_view kSlice = R"({
  "kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
  "metadata": {"name": "web-7xk2p", "namespace": "shop", "generateName": "web-",
    "labels": {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
               "kubernetes.io/service-name": "web"},
    "resourceVersion": "812"},
  "addressType": "IPv4",
  "endpoints": [
    {"addresses": ["10.244.1.5"], "conditions": {"ready": true, "serving": true, "terminating": false},
     "nodeName": "node-a", "zone": "eu-west-1a",
     "targetRef": {"kind": "Pod", "namespace": "shop", "name": "web-5d9f-abc", "uid": "u1"}},
    {"addresses": ["10.244.2.9"], "conditions": {"ready": false, "serving": true, "terminating": true},
     "targetRef": {"kind": "Pod", "namespace": "shop", "name": "web-5d9f-def", "uid": "u2"}},
    {"addresses": ["10.244.3.1"], "conditions": {}}
  ],
  "ports": [{"name": "http", "protocol": "TCP", "port": 8080, "appProtocol": "http"},
            {"name": "", "protocol": "TCP", "port": null}]
})";

TEST(DiscoveryObjectsTest, DecodesAnEndpointSlice) {
  auto slice = decodeEndpointSlice(kSlice);
  ASSERT_TRUE(slice) << slice.error().message();
  EXPECT_EQ(slice->namespace_name, "shop");
  EXPECT_EQ(slice->name, "web-7xk2p");
  EXPECT_EQ(slice->service_name, "web");
  EXPECT_EQ(slice->address_type, "IPv4");
  ASSERT_EQ(slice->ports.size(), 2u);
  EXPECT_EQ(slice->ports[0].port, 8080);
  EXPECT_EQ(slice->ports[1].port, 0) << "null port: all ports, never a target";
  ASSERT_EQ(slice->endpoints.size(), 3u);
  EXPECT_EQ(slice->endpoints[0].addresses, std::vector<std::string>{"10.244.1.5"});
  EXPECT_TRUE(slice->endpoints[0].ready);
  EXPECT_EQ(slice->endpoints[0].node_name, "node-a");
  EXPECT_EQ(slice->endpoints[0].target_kind, "Pod");
  EXPECT_EQ(slice->endpoints[0].target_name, "web-5d9f-abc");
  EXPECT_FALSE(slice->endpoints[1].ready);
  EXPECT_TRUE(slice->endpoints[2].ready) << "an absent ready is unknown, taken as ready";
}

TEST(DiscoveryObjectsTest, DecodesServiceListAndWatchEvents) {
  auto list = decodeServiceList(
      R"({"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"90"},"items":[
      {"metadata":{"name":"web","namespace":"shop","annotations":{"prometheus.io/scrape":"true"}},
       "spec":{"ports":[{"port":80}]}}]})");
  ASSERT_TRUE(list) << list.error().message();
  EXPECT_EQ(list->resource_version, "90");
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0].annotations.at("prometheus.io/scrape"), "true");
  auto event = decodeEndpointSliceEvent(std::string(R"({"type":"DELETED","object":)") +
                                        std::string(kSlice) + "}\n");
  ASSERT_TRUE(event) << event.error().message();
  EXPECT_EQ(event->type, WatchEventType::kDeleted);
  EXPECT_EQ(event->resource_version, "812");
  EXPECT_EQ(event->object.name, "web-7xk2p");
}

TEST(DiscoveryObjectsTest, ErrorsNameTheJsonPath) {
  auto bad_address = decodeEndpointSliceList(
      R"({"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"},"endpoints":[{"addresses":["10.0.0.1",7]}]}]})");
  ASSERT_FALSE(bad_address);
  EXPECT_EQ(bad_address.error().message(), "items[1].endpoints[0].addresses[1]: expected a string");
  auto bad_ready = decodeEndpointSlice(
      R"({"metadata":{"name":"a"},"endpoints":[{"addresses":[],"conditions":{"ready":"yes"}}]})");
  ASSERT_FALSE(bad_ready);
  EXPECT_EQ(bad_ready.error().message(), "endpoints[0].conditions.ready: expected a boolean");
  auto no_name = decodeService(R"({"metadata":{"namespace":"x"}})");
  ASSERT_FALSE(no_name);
  EXPECT_EQ(no_name.error().message(), "metadata.name: missing");
}

}  // namespace
}  // namespace kubemetrics::kube
