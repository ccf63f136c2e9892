// Decoding core/v1 Pod and Node JSON, lists and watch events. Pods come from
// real kubelet /pods captures (../shared/fixtures/kubelet/pods_*.json, v1
// PodLists); the expected values below were read from those files.

#include "common/kube/objects.h"

#include <gtest/gtest.h>

#include <string>

#include "support/process.h"

namespace kubemetrics::kube {
namespace {

std::string fixture(const std::string& name) {
  return testing::readFile(std::string(KM_FIXTURES_DIR) + "/kubelet/" + name);
}

const KubePod* findPod(const ObjectList<KubePod>& list, std::string_view name) {
  for (const KubePod& pod : list.items) {
    if (pod.name == name) return &pod;
  }
  return nullptr;
}

class KubeObjectsFixtureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto nri = decodePodList(fixture("pods_k8s-1.35_nri.json"));
    ASSERT_TRUE(nri.has_value()) << nri.error().message();
    nri_ = new ObjectList<KubePod>(std::move(*nri));
    auto wavefront = decodePodList(fixture("pods_wavefront_collector.json"));
    ASSERT_TRUE(wavefront.has_value()) << wavefront.error().message();
    wavefront_ = new ObjectList<KubePod>(std::move(*wavefront));
  }
  static void TearDownTestSuite() {
    delete nri_;
    delete wavefront_;
  }
  static ObjectList<KubePod>* nri_;
  static ObjectList<KubePod>* wavefront_;
};
ObjectList<KubePod>* KubeObjectsFixtureTest::nri_ = nullptr;
ObjectList<KubePod>* KubeObjectsFixtureTest::wavefront_ = nullptr;

TEST_F(KubeObjectsFixtureTest, EveryPodDecodes) {
  ASSERT_EQ(nri_->items.size(), 24u);
  ASSERT_EQ(wavefront_->items.size(), 7u);
  for (const auto* list : {nri_, wavefront_}) {
    for (const KubePod& pod : list->items) {
      EXPECT_FALSE(pod.name.empty());
      EXPECT_FALSE(pod.namespace_name.empty()) << pod.name;
      EXPECT_FALSE(pod.uid.empty()) << pod.name;
      EXPECT_FALSE(pod.phase.empty()) << pod.name;
      EXPECT_FALSE(pod.containers.empty()) << pod.name;
      EXPECT_GT(approximateBytes(pod), sizeof(KubePod)) << pod.name;
    }
  }
  // The kubelet's /pods list has no metadata.resourceVersion.
  EXPECT_EQ(nri_->resource_version, "");
  EXPECT_EQ(nri_->continue_token, "");
}

TEST_F(KubeObjectsFixtureTest, DeploymentThroughItsReplicaSet) {
  const KubePod* pod = findPod(*nri_, "coredns-7d764666f9-qdcxt");
  ASSERT_NE(pod, nullptr);
  EXPECT_EQ(pod->namespace_name, "kube-system");
  EXPECT_EQ(pod->uid, "36447428-81f8-45eb-b825-414de2e8012b");
  EXPECT_EQ(pod->node_name, "datagen-1-35");
  EXPECT_EQ(pod->pod_ip, "10.244.0.2");
  EXPECT_EQ(pod->phase, "Running");
  EXPECT_EQ(pod->workload_kind, "Deployment");
  EXPECT_EQ(pod->workload_name, "coredns");
  EXPECT_EQ(pod->labels.size(), 2u);
  EXPECT_EQ(pod->labels.at("k8s-app"), "kube-dns");
  EXPECT_EQ(pod->labels.at("pod-template-hash"), "7d764666f9");
  EXPECT_EQ(pod->annotations.at("kubernetes.io/config.source"), "api");
  ASSERT_EQ(pod->containers.size(), 1u);
  const KubeContainer& coredns = pod->containers[0];
  EXPECT_EQ(coredns.name, "coredns");
  EXPECT_EQ(coredns.requests.cpu_millicores, 100.0);
  EXPECT_EQ(coredns.requests.memory_bytes, 70.0 * 1024 * 1024);
  EXPECT_FALSE(coredns.limits.cpu_millicores.has_value());
  EXPECT_EQ(coredns.limits.memory_bytes, 170.0 * 1024 * 1024);
  ASSERT_EQ(coredns.ports.size(), 5u);
  EXPECT_EQ(coredns.ports[0].name, "dns");
  EXPECT_EQ(coredns.ports[0].port, 53);
  EXPECT_EQ(coredns.ports[0].protocol, "UDP");
  EXPECT_EQ(coredns.ports[2].name, "metrics");
  EXPECT_EQ(coredns.ports[2].port, 9153);
  EXPECT_EQ(coredns.ports[2].protocol, "TCP");
  EXPECT_EQ(coredns.state, "running");
  EXPECT_EQ(coredns.reason, "");
  EXPECT_EQ(coredns.restart_count, 0);
}

TEST_F(KubeObjectsFixtureTest, OtherOwnersAsTheyAre) {
  const KubePod* kindnet = findPod(*nri_, "kindnet-zkpn8");
  ASSERT_NE(kindnet, nullptr);
  EXPECT_EQ(kindnet->workload_kind, "DaemonSet");
  EXPECT_EQ(kindnet->workload_name, "kindnet");
  EXPECT_EQ(kindnet->labels.at("controller-revision-hash"), "89b9544c4");
  EXPECT_EQ(kindnet->containers[0].requests.cpu_millicores, 100.0);
  EXPECT_EQ(kindnet->containers[0].limits.memory_bytes, 50.0 * 1024 * 1024);

  const KubePod* statefulset = findPod(*nri_, "e2e-statefulset-0");
  ASSERT_NE(statefulset, nullptr);
  EXPECT_EQ(statefulset->workload_kind, "StatefulSet");
  EXPECT_EQ(statefulset->workload_name, "e2e-statefulset");
  EXPECT_EQ(statefulset->containers[0].requests.cpu_millicores, 40.0);
  EXPECT_EQ(statefulset->containers[0].requests.memory_bytes, 15.0 * 1024 * 1024);
  EXPECT_EQ(statefulset->containers[0].limits.cpu_millicores, 80.0);
  EXPECT_EQ(statefulset->containers[0].limits.memory_bytes, 30.0 * 1024 * 1024);

  const KubePod* job = findPod(*nri_, "e2e-cronjob-29707813-dhlr2");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->workload_kind, "Job");
  EXPECT_EQ(job->workload_name, "e2e-cronjob-29707813");
  EXPECT_EQ(job->phase, "Succeeded");

  // A static (mirror) pod has no owner reference in this capture.
  const KubePod* apiserver = findPod(*nri_, "kube-apiserver-datagen-1-35");
  ASSERT_NE(apiserver, nullptr);
  EXPECT_EQ(apiserver->workload_kind, "");
  EXPECT_EQ(apiserver->workload_name, "");
  EXPECT_EQ(apiserver->containers[0].requests.cpu_millicores, 250.0);
}

TEST_F(KubeObjectsFixtureTest, RestartsAndTerminatedStates) {
  const KubePod* creating = findPod(*nri_, "e2e-container-creating");
  ASSERT_NE(creating, nullptr);
  ASSERT_EQ(creating->containers.size(), 1u);
  EXPECT_EQ(creating->containers[0].restart_count, 2);
  EXPECT_EQ(creating->containers[0].state, "terminated");
  EXPECT_EQ(creating->containers[0].reason, "Completed");
  // "5M" is decimal: 5,000,000 bytes.
  EXPECT_EQ(creating->containers[0].requests.memory_bytes, 5e6);
  EXPECT_EQ(creating->containers[0].requests.cpu_millicores, 5.0);
  EXPECT_EQ(creating->labels.at("app.kubernetes.io/managed-by"), "Helm");

  const KubePod* mysql = findPod(*wavefront_, "mysql-release-0");
  ASSERT_NE(mysql, nullptr);
  EXPECT_EQ(mysql->namespace_name, "collector-targets");
  EXPECT_EQ(mysql->workload_kind, "StatefulSet");
  EXPECT_EQ(mysql->workload_name, "mysql-release");
  EXPECT_EQ(mysql->containers[0].restart_count, 1);
  EXPECT_EQ(mysql->containers[0].state, "running");
  ASSERT_EQ(mysql->containers[0].ports.size(), 1u);
  EXPECT_EQ(mysql->containers[0].ports[0].port, 3306);
  EXPECT_EQ(mysql->labels.at("statefulset.kubernetes.io/pod-name"), "mysql-release-0");
  EXPECT_EQ(mysql->labels.size(), 7u);

  const KubePod* failed = findPod(*wavefront_, "job-failure-fxw4d");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->phase, "Failed");
  EXPECT_EQ(failed->containers[0].state, "terminated");
  EXPECT_EQ(failed->containers[0].reason, "Error");
  EXPECT_EQ(failed->workload_kind, "Job");

  const KubePod* collector = findPod(*wavefront_, "wavefront-collector-b4rnf");
  ASSERT_NE(collector, nullptr);
  EXPECT_EQ(collector->workload_kind, "DaemonSet");
  EXPECT_EQ(collector->workload_name, "wavefront-collector");
  EXPECT_FALSE(collector->containers[0].requests.cpu_millicores.has_value());
}

// A hand-written pod for the cases the captures lack.
constexpr const char* kPod = R"json({
  "kind": "Pod", "apiVersion": "v1",
  "metadata": {
    "name": "web-6f7b9c5d8-x2x4q", "namespace": "shop", "uid": "u-1", "resourceVersion": "77",
    "labels": {"app": "web", "pod-template-hash": "6f7b9c5d8"},
    "ownerReferences": [
      {"apiVersion": "v1", "kind": "Node", "name": "n1"},
      {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-6f7b9c5d8", "controller": true}
    ],
    "creationTimestamp": null
  },
  "spec": {
    "nodeName": "n1",
    "initContainers": [{"name": "init", "resources": {"requests": {"cpu": "bad"}}}],
    "containers": [
      {"name": "app", "resources": {"requests": {"cpu": "0.5", "memory": "1Gi"}}},
      {"name": "sidecar", "ports": [{"containerPort": 9090}]}
    ]
  },
  "status": {
    "phase": "Pending",
    "containerStatuses": [
      {"name": "sidecar", "restartCount": 3,
       "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}}},
      {"name": "app", "restartCount": 0, "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}}
    ],
    "unknownField": [1, 2, 3]
  }
})json";

TEST(KubeObjectsTest, JoinsStatusesByNameAndSkipsInitContainers) {
  auto pod = decodePod(kPod);
  ASSERT_TRUE(pod.has_value()) << pod.error().message();
  EXPECT_EQ(pod->workload_kind, "Deployment");
  EXPECT_EQ(pod->workload_name, "web");
  EXPECT_EQ(pod->phase, "Pending");
  EXPECT_EQ(pod->pod_ip, "");
  ASSERT_EQ(pod->containers.size(), 2u);
  EXPECT_EQ(pod->containers[0].name, "app");
  EXPECT_EQ(pod->containers[0].requests.cpu_millicores, 500.0);
  EXPECT_EQ(pod->containers[0].requests.memory_bytes, 1073741824.0);
  EXPECT_EQ(pod->containers[0].state, "running");
  EXPECT_EQ(pod->containers[1].name, "sidecar");
  EXPECT_EQ(pod->containers[1].restart_count, 3);
  EXPECT_EQ(pod->containers[1].state, "waiting");
  EXPECT_EQ(pod->containers[1].reason, "CrashLoopBackOff");
  ASSERT_EQ(pod->containers[1].ports.size(), 1u);
  EXPECT_EQ(pod->containers[1].ports[0].port, 9090);
  EXPECT_EQ(pod->containers[1].ports[0].protocol, "TCP");
  EXPECT_EQ(pod->containers[1].ports[0].name, "");
}

TEST(KubeObjectsTest, WorkloadFallsBackToTheFirstOwnerAndKeepsUnhashedReplicaSets) {
  auto first = decodePod(R"({"metadata":{"name":"p","namespace":"n","ownerReferences":[
      {"kind":"Job","name":"backup-28391"},{"kind":"Other","name":"x"}]}})");
  ASSERT_TRUE(first.has_value()) << first.error().message();
  EXPECT_EQ(first->workload_kind, "Job");
  EXPECT_EQ(first->workload_name, "backup-28391");

  // No pod-template-hash label: a bare ReplicaSet stays one.
  auto bare = decodePod(R"({"metadata":{"name":"p","namespace":"n","ownerReferences":[
      {"kind":"ReplicaSet","name":"rs-abc","controller":true}]}})");
  ASSERT_TRUE(bare.has_value()) << bare.error().message();
  EXPECT_EQ(bare->workload_kind, "ReplicaSet");
  EXPECT_EQ(bare->workload_name, "rs-abc");

  // A hash that is not the name's suffix does not make a Deployment.
  auto other = decodePod(R"({"metadata":{"name":"p","namespace":"n",
      "labels":{"pod-template-hash":"zzz"},
      "ownerReferences":[{"kind":"ReplicaSet","name":"rs-abc","controller":true}]}})");
  ASSERT_TRUE(other.has_value()) << other.error().message();
  EXPECT_EQ(other->workload_kind, "ReplicaSet");

  auto none = decodePod(R"({"metadata":{"name":"p","namespace":"n"}})");
  ASSERT_TRUE(none.has_value()) << none.error().message();
  EXPECT_EQ(none->workload_kind, "");
  EXPECT_TRUE(none->containers.empty());
}

// Shaped after the v1 Node object of the Kubernetes API reference
// (https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/node-v1/)
// as `kubectl get node -o json` prints it for a kubeadm control-plane node.
constexpr const char* kNode = R"json({
  "apiVersion": "v1",
  "kind": "Node",
  "metadata": {
    "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
    "creationTimestamp": "2024-05-02T09:14:03Z",
    "labels": {
      "beta.kubernetes.io/arch": "amd64",
      "kubernetes.io/hostname": "cp-1",
      "kubernetes.io/os": "linux",
      "node-role.kubernetes.io/master": "",
      "node-role.kubernetes.io/control-plane": "",
      "node.kubernetes.io/instance-type": "m5.large",
      "topology.kubernetes.io/zone": "us-west-2a"
    },
    "name": "cp-1",
    "resourceVersion": "48213",
    "uid": "b1c7a0f4-7c55-4e5d-9d7e-0c1d2f3a4b5c"
  },
  "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"],
           "taints": [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]},
  "status": {
    "addresses": [{"address": "172.18.0.2", "type": "InternalIP"},
                  {"address": "cp-1", "type": "Hostname"}],
    "allocatable": {"cpu": "1930m", "ephemeral-storage": "47227284Ki", "hugepages-2Mi": "0",
                    "memory": "7458208Ki", "pods": "110"},
    "capacity": {"cpu": "2", "ephemeral-storage": "51242Mi", "hugepages-2Mi": "0",
                 "memory": "7972384Ki", "pods": "110"},
    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
    "nodeInfo": {"kubeletVersion": "v1.30.0", "osImage": "Debian GNU/Linux 12 (bookworm)"}
  }
})json";

TEST(KubeObjectsTest, DecodesNode) {
  auto node = decodeNode(kNode);
  ASSERT_TRUE(node.has_value()) << node.error().message();
  EXPECT_EQ(node->name, "cp-1");
  EXPECT_EQ(node->role, "control-plane,master");
  EXPECT_EQ(node->labels.size(), 7u);
  EXPECT_EQ(node->labels.at("topology.kubernetes.io/zone"), "us-west-2a");
  EXPECT_EQ(node->capacity.cpu_millicores, 2000.0);
  EXPECT_EQ(node->capacity.memory_bytes, 7972384.0 * 1024);
  EXPECT_EQ(node->allocatable.cpu_millicores, 1930.0);
  EXPECT_EQ(node->allocatable.memory_bytes, 7458208.0 * 1024);
  EXPECT_GT(approximateBytes(*node), sizeof(KubeNode));

  auto worker = decodeNode(R"({"metadata":{"name":"w","labels":{"kubernetes.io/os":"linux"}}})");
  ASSERT_TRUE(worker.has_value()) << worker.error().message();
  EXPECT_EQ(worker->role, "");
  EXPECT_FALSE(worker->capacity.cpu_millicores.has_value());
}

TEST(KubeObjectsTest, DecodesNodeListWithPaging) {
  const std::string list = std::string(R"({"kind":"NodeList","apiVersion":"v1",
      "metadata":{"resourceVersion":"48213","continue":"eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ","remainingItemCount":1},
      "items":[)") + kNode +
                           "]}";
  auto nodes = decodeNodeList(list);
  ASSERT_TRUE(nodes.has_value()) << nodes.error().message();
  ASSERT_EQ(nodes->items.size(), 1u);
  EXPECT_EQ(nodes->items[0].name, "cp-1");
  EXPECT_EQ(nodes->resource_version, "48213");
  EXPECT_EQ(nodes->continue_token, "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ");

  auto empty =
      decodePodList(R"({"kind":"PodList","metadata":{"resourceVersion":"5"},"items":null})");
  ASSERT_TRUE(empty.has_value()) << empty.error().message();
  EXPECT_TRUE(empty->items.empty());
  EXPECT_EQ(empty->resource_version, "5");
}

TEST(KubeObjectsTest, DecodesWatchEvents) {
  auto added = decodePodEvent(std::string(R"({"type":"ADDED","object":)") + kPod + "}\n");
  ASSERT_TRUE(added.has_value()) << added.error().message();
  EXPECT_EQ(added->type, WatchEventType::kAdded);
  EXPECT_EQ(added->resource_version, "77");
  EXPECT_EQ(added->object.name, "web-6f7b9c5d8-x2x4q");
  EXPECT_EQ(added->object.workload_name, "web");

  for (auto [type, expected] : {std::pair{"MODIFIED", WatchEventType::kModified},
                                std::pair{"DELETED", WatchEventType::kDeleted}}) {
    auto event = decodePodEvent(std::string(R"({"type":")") + type + R"(","object":)" + kPod + "}");
    ASSERT_TRUE(event.has_value()) << event.error().message();
    EXPECT_EQ(event->type, expected) << type;
    EXPECT_EQ(event->object.namespace_name, "shop");
  }

  auto node = decodeNodeEvent(std::string(R"({"type":"MODIFIED","object":)") + kNode + "}");
  ASSERT_TRUE(node.has_value()) << node.error().message();
  EXPECT_EQ(node->type, WatchEventType::kModified);
  EXPECT_EQ(node->resource_version, "48213");
  EXPECT_EQ(node->object.role, "control-plane,master");

  // The bookmark shape of the API concepts document: only the kind and
  // metadata.resourceVersion are set.
  auto bookmark = decodePodEvent(
      R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12746"}}})");
  ASSERT_TRUE(bookmark.has_value()) << bookmark.error().message();
  EXPECT_EQ(bookmark->type, WatchEventType::kBookmark);
  EXPECT_EQ(bookmark->resource_version, "12746");
  EXPECT_EQ(bookmark->object.name, "");

  auto expired = decodePodEvent(
      R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
      R"json("message":"too old resource version: 1 (12746)","reason":"Expired","code":410}})json");
  ASSERT_TRUE(expired.has_value()) << expired.error().message();
  EXPECT_EQ(expired->type, WatchEventType::kError);
  EXPECT_EQ(expired->error_code, 410);
  EXPECT_EQ(expired->error_message, "too old resource version: 1 (12746)");
  EXPECT_EQ(expired->resource_version, "");
}

struct Malformed {
  const char* json;
  const char* message;
};

TEST(KubeObjectsTest, MalformedPodsNameThePath) {
  const Malformed cases[] = {
      {"", "invalid JSON: "},
      {"{", "invalid JSON: "},
      {"[1]", "expected an object"},
      {R"({"spec":{}})", "metadata: missing"},
      {R"({"metadata":{"namespace":"n"}})", "metadata.name: missing"},
      {R"({"metadata":{"name":7}})", "metadata.name: expected a string"},
      {R"({"metadata":{"name":"p","labels":{"a":1}}})", "metadata.labels.a: expected a string"},
      {R"({"metadata":{"name":"p","labels":[]}})", "metadata.labels: expected an object"},
      {R"({"metadata":{"name":"p"},"spec":{"containers":{}}})",
       "spec.containers: expected an array"},
      {R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"},
          {"name":"b","resources":{"requests":{"cpu":"12Q"}}}]}})",
       R"(spec.containers[1].resources.requests.cpu: invalid quantity "12Q")"},
      {R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a",
          "resources":{"limits":{"memory":true}}}]}})",
       "spec.containers[0].resources.limits.memory: expected a quantity string"},
      {R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a",
          "ports":[{"containerPort":"80"}]}]}})",
       "spec.containers[0].ports[0].containerPort: expected an integer"},
      {R"({"metadata":{"name":"p"},"status":{"containerStatuses":[{"name":"a",
          "restartCount":1.5}]}})",
       "status.containerStatuses[0].restartCount: expected an integer"},
      {R"({"metadata":{"name":"p","ownerReferences":[{"kind":"Job","controller":"yes"}]}})",
       "metadata.ownerReferences[0].controller: expected a boolean"},
  };
  for (const Malformed& c : cases) {
    auto pod = decodePod(c.json);
    ASSERT_FALSE(pod.has_value()) << c.json;
    EXPECT_EQ(pod.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(pod.error().message().rfind(c.message, 0), 0u)
        << "got: " << pod.error().message() << "\nwanted: " << c.message;
  }
}

TEST(KubeObjectsTest, MalformedListsAndEventsNameThePath) {
  const Malformed cases[] = {
      {R"({"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b","uid":5}}]})",
       "items[1].metadata.uid: expected a string"},
      {R"({"metadata":{"resourceVersion":5},"items":[]})",
       "metadata.resourceVersion: expected a string"},
      {R"({"items":{}})", "items: expected an array"},
  };
  for (const Malformed& c : cases) {
    auto list = decodePodList(c.json);
    ASSERT_FALSE(list.has_value()) << c.json;
    EXPECT_EQ(list.error().message(), c.message);
  }
  auto node_list =
      decodeNodeList(R"({"items":[{"metadata":{"name":"a"},"status":{"capacity":{"cpu":"2x"}}}]})");
  ASSERT_FALSE(node_list.has_value());
  EXPECT_EQ(node_list.error().message(), R"(items[0].status.capacity.cpu: invalid quantity "2x")");

  const Malformed events[] = {
      {R"({"type":"SOMETHING","object":{}})", R"(type: unknown watch event type "SOMETHING")"},
      {R"({"object":{}})", "type: missing"},
      {R"({"type":"ADDED"})", "object: missing"},
      {R"({"type":"ADDED","object":[]})", "object: expected an object"},
      {R"({"type":"ADDED","object":{"metadata":{}}})", "object.metadata.name: missing"},
      {R"({"type":"ERROR","object":{"code":"410"}})", "object.code: expected an integer"},
      {R"({"type":"ADDED","object":{"metadata":{"name":"p"}}} trailing)", "invalid JSON: "},
  };
  for (const Malformed& c : events) {
    auto event = decodePodEvent(c.json);
    ASSERT_FALSE(event.has_value()) << c.json;
    EXPECT_EQ(event.error().message().rfind(c.message, 0), 0u)
        << "got: " << event.error().message() << "\nwanted: " << c.message;
  }
}

TEST(KubeObjectsTest, ApproximateBytesGrowsWithContent) {
  KubePod small;
  small.name = "p";
  KubePod large = small;
  for (int i = 0; i < 10; ++i) {
    large.labels.emplace("a-rather-long-label-key-" + std::to_string(i),
                         "a-rather-long-label-value-" + std::to_string(i));
  }
  large.containers.resize(3);
  EXPECT_GT(approximateBytes(large), approximateBytes(small) + 10 * 2 * 30);
  EXPECT_GE(approximateBytes(small), sizeof(KubePod));
}

}  // namespace
}  // namespace kubemetrics::kube
