// Self-test of the fake Kubernetes API server (tests/support/fake_kube_api.h)
// with httplib's client: what the kube client tests rely on.

#include "support/fake_kube_api.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/kube/objects.h"
#include "kubemetrics/http_client.h"
#include "support/process.h"

namespace kubemetrics::testing {
namespace {

using kube::WatchEventType;
using std::chrono::milliseconds;

constexpr milliseconds kWait{10000};

std::unique_ptr<httplib::SSLClient> client(const FakeKubeApi& api,
                                           const std::string& token = "fake-token") {
  const std::string url = api.url();
  const int port = std::stoi(url.substr(url.rfind(':') + 1));
  auto cli = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
  cli->set_ca_cert_path(api.caFile().c_str());
  cli->enable_server_certificate_verification(true);
  cli->set_read_timeout(60, 0);
  if (!token.empty()) cli->set_bearer_token_auth(token.c_str());
  return cli;
}

// A watch read on its own thread, its lines collected for the test thread.
class WatchReader {
 public:
  WatchReader(const FakeKubeApi& api, std::string path) : cli_(client(api)) {
    thread_ = std::thread([this, path = std::move(path)] {
      // As the agent's client does: a gzip watch would hold events back.
      const httplib::Headers headers = {{"Accept-Encoding", "gzip"}};
      auto res = cli_->Get(
          path.c_str(), headers,
          [this](const httplib::Response& response) {
            std::lock_guard<std::mutex> lock(mu_);
            status_ = response.status;
            content_type_ = response.get_header_value("Content-Type");
            content_encoding_ = response.get_header_value("Content-Encoding");
            chunked_ = response.get_header_value("Transfer-Encoding") == "chunked";
            return true;
          },
          [this](const char* data, size_t size) {
            std::lock_guard<std::mutex> lock(mu_);
            buffer_.append(data, size);
            for (std::size_t nl; (nl = buffer_.find('\n')) != std::string::npos;) {
              lines_.push_back(buffer_.substr(0, nl));
              buffer_.erase(0, nl + 1);
            }
            cv_.notify_all();
            return true;
          });
      std::lock_guard<std::mutex> lock(mu_);
      ended_ = true;
      cv_.notify_all();
    });
  }
  ~WatchReader() {
    cli_->stop();
    thread_.join();
  }

  // The first `count` lines, once they arrived (fewer on timeout).
  std::vector<std::string> waitForLines(std::size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, kWait, [&] { return lines_.size() >= count || ended_; });
    return lines_;
  }
  bool waitForEnd() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return ended_; });
  }
  int status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  std::string contentType() {
    std::lock_guard<std::mutex> lock(mu_);
    return content_type_;
  }
  std::string contentEncoding() {
    std::lock_guard<std::mutex> lock(mu_);
    return content_encoding_;
  }
  bool chunked() {
    std::lock_guard<std::mutex> lock(mu_);
    return chunked_;
  }

 private:
  std::unique_ptr<httplib::SSLClient> cli_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string buffer_;
  std::vector<std::string> lines_;
  bool ended_ = false;
  int status_ = 0;
  std::string content_type_;
  std::string content_encoding_;
  bool chunked_ = false;
  std::thread thread_;
};

kube::ObjectList<KubePod> listPods(const FakeKubeApi& api, const std::string& path) {
  auto res = client(api)->Get(path.c_str());
  EXPECT_TRUE(res) << path;
  if (!res) return {};
  EXPECT_EQ(res->status, 200) << path << ": " << res->body;
  auto list = kube::decodePodList(res->body);
  EXPECT_TRUE(list.has_value()) << (list ? "" : list.error().message());
  return list ? *list : kube::ObjectList<KubePod>{};
}

std::vector<std::string> names(const kube::ObjectList<KubePod>& list) {
  std::vector<std::string> out;
  for (const KubePod& pod : list.items) out.push_back(pod.namespace_name + "/" + pod.name);
  return out;
}

TEST(FakeKubeApiTest, RejectsAWrongTokenWithAStatus) {
  FakeKubeApi api;
  for (const std::string token : {"", "other-token"}) {
    auto res = client(api, token)->Get("/api/v1/pods");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    EXPECT_NE(res->body.find(R"("kind":"Status")"), std::string::npos) << res->body;
    EXPECT_NE(res->body.find(R"("code":401)"), std::string::npos) << res->body;
  }
  EXPECT_EQ(api.unauthorized(), 2);
  EXPECT_EQ(api.requests("pods", "list"), 2);

  api.setToken("rotated");
  EXPECT_EQ(client(api)->Get("/api/v1/pods")->status, 401);
  EXPECT_EQ(client(api, "rotated")->Get("/api/v1/pods")->status, 200);
  EXPECT_EQ(api.unauthorized(), 3);
}

TEST(FakeKubeApiTest, ListsWithTheCurrentResourceVersion) {
  FakeKubeApi api;
  EXPECT_EQ(api.resourceVersion(), "1");
  api.upsertPod(podJson("shop", "web-abc12-x1", "n1", {{"app", "web"}}, {}, "10.0.0.5", 8080));
  api.upsertPod(podJson("shop", "db-0", "n2", {{"app", "db"}}));
  api.upsertNode(
      nodeJson("n1", {{"node-role.kubernetes.io/worker", ""}}, "4", "16Gi", "3800m", "15Gi"));
  EXPECT_EQ(api.resourceVersion(), "4");

  auto pods = listPods(api, "/api/v1/pods");
  EXPECT_EQ(pods.resource_version, "4");
  EXPECT_EQ(pods.continue_token, "");
  ASSERT_EQ(names(pods), (std::vector<std::string>{"shop/db-0", "shop/web-abc12-x1"}));
  const KubePod& web = pods.items[1];
  EXPECT_EQ(web.pod_ip, "10.0.0.5");
  EXPECT_EQ(web.workload_kind, "ReplicaSet");
  EXPECT_EQ(web.workload_name, "web-abc12");
  ASSERT_EQ(web.containers.size(), 1u);
  EXPECT_EQ(web.containers[0].ports[0].port, 8080);

  auto res = client(api)->Get("/api/v1/nodes");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  auto nodes = kube::decodeNodeList(res->body);
  ASSERT_TRUE(nodes.has_value()) << nodes.error().message();
  ASSERT_EQ(nodes->items.size(), 1u);
  EXPECT_EQ(nodes->items[0].role, "worker");
  EXPECT_EQ(nodes->items[0].allocatable.cpu_millicores, 3800.0);
  // Each object carries the resourceVersion of its last change.
  EXPECT_NE(res->body.find(R"("resourceVersion":"4")"), std::string::npos) << res->body;

  // Modifying changes the object's resourceVersion, not its place.
  api.upsertPod(podJson("shop", "db-0", "n2", {{"app", "db"}, {"tier", "2"}}));
  auto again = client(api)->Get("/api/v1/pods");
  ASSERT_TRUE(again);
  EXPECT_NE(again->body.find(R"("tier":"2")"), std::string::npos);
  EXPECT_NE(again->body.find(R"("resourceVersion":"5")"), std::string::npos);
  EXPECT_EQ(api.requests("pods", "list"), 2);
  EXPECT_EQ(api.requests("nodes", "list"), 1);
  EXPECT_EQ(api.requests("pods", "watch"), 0);
}

TEST(FakeKubeApiTest, HonoursFieldSelectorsAndNamespacePaths) {
  FakeKubeApi api;
  api.upsertPod(podJson("a", "p1-x", "n1", {}));
  api.upsertPod(podJson("b", "p2-x", "n1", {}));
  api.upsertPod(podJson("a", "p3-x", "n2", {}));

  EXPECT_EQ(names(listPods(api, "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1")),
            (std::vector<std::string>{"a/p1-x", "b/p2-x"}));
  EXPECT_EQ(names(listPods(api,
                           "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1%2Cmetadata."
                           "namespace%3Db")),
            (std::vector<std::string>{"b/p2-x"}));
  EXPECT_EQ(names(listPods(api, "/api/v1/pods?fieldSelector=spec.nodeName!%3Dn1")),
            (std::vector<std::string>{"a/p3-x"}));
  EXPECT_EQ(names(listPods(api, "/api/v1/pods?fieldSelector=metadata.name%3D%3Dp1-x")),
            (std::vector<std::string>{"a/p1-x"}));
  EXPECT_EQ(names(listPods(api, "/api/v1/namespaces/a/pods")),
            (std::vector<std::string>{"a/p1-x", "a/p3-x"}));
  // labelSelector: "key=value" and "key" (exists) terms.
  EXPECT_EQ(listPods(api, "/api/v1/pods?labelSelector=app%3Dnone").items.size(), 0u);
  EXPECT_EQ(listPods(api, "/api/v1/pods?labelSelector=").items.size(), 3u);

  auto bad = client(api)->Get("/api/v1/pods?fieldSelector=status.phase%3DRunning");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("field label not supported: status.phase"), std::string::npos);
  auto missing = client(api)->Get("/api/v1/configmaps");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  const auto log = api.requestLog();
  ASSERT_GE(log.size(), 2u);
  EXPECT_EQ(log[0], "GET /api/v1/pods?fieldSelector=spec.nodeName%3Dn1");
}

TEST(FakeKubeApiTest, WatchDeliversEventsInOrder) {
  FakeKubeApi api;
  api.upsertNode(nodeJson("n1", {}, "2", "8Gi", "2", "7Gi"));
  const std::string start = api.resourceVersion();
  WatchReader watch(api, "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1&watch=1&resourceVersion=" +
                             start + "&allowWatchBookmarks=true");
  ASSERT_TRUE(api.waitForWatches(1, kWait));
  EXPECT_EQ(api.openWatches(), 1);

  api.upsertPod(podJson("shop", "web-1-a", "n1", {{"app", "web"}}));
  api.upsertPod(podJson("shop", "other-1-a", "n2", {}));  // another node: not sent
  api.upsertPod(podJson("shop", "web-1-a", "n1", {{"app", "web"}, {"v", "2"}}));
  api.deletePod("shop", "web-1-a");
  api.sendBookmarks();

  const auto lines = watch.waitForLines(4);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(watch.status(), 200);
  EXPECT_EQ(watch.contentType(), "application/json");
  EXPECT_TRUE(watch.chunked());
  EXPECT_EQ(watch.contentEncoding(), "");

  std::vector<kube::WatchEvent<KubePod>> events;
  for (const std::string& line : lines) {
    auto event = kube::decodePodEvent(line);
    ASSERT_TRUE(event.has_value()) << line << ": " << event.error().message();
    events.push_back(*event);
  }
  EXPECT_EQ(events[0].type, WatchEventType::kAdded);
  EXPECT_EQ(events[0].resource_version, "3");
  EXPECT_EQ(events[0].object.labels.size(), 1u);
  EXPECT_EQ(events[1].type, WatchEventType::kModified);
  EXPECT_EQ(events[1].resource_version, "5");
  EXPECT_EQ(events[1].object.labels.at("v"), "2");
  EXPECT_EQ(events[2].type, WatchEventType::kDeleted);
  EXPECT_EQ(events[2].resource_version, "6");
  EXPECT_EQ(events[2].object.name, "web-1-a");
  EXPECT_EQ(events[3].type, WatchEventType::kBookmark);
  EXPECT_EQ(events[3].resource_version, "6");
  EXPECT_EQ(
      lines[3],
      R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"6"}}})");

  // A watch from an older resourceVersion replays the history after it;
  // one without bookmarks gets none.
  WatchReader replay(api, "/api/v1/pods?watch=true&resourceVersion=" + start);
  const auto replayed = replay.waitForLines(4);
  ASSERT_EQ(replayed.size(), 4u);
  EXPECT_NE(replayed[1].find("other-1-a"), std::string::npos);
  ASSERT_TRUE(api.waitForWatches(2, kWait));
  api.sendBookmarks();
  api.closeWatches();
  ASSERT_TRUE(replay.waitForEnd());
  ASSERT_TRUE(watch.waitForEnd());
  EXPECT_EQ(replay.waitForLines(5).size(), 4u);
  EXPECT_EQ(watch.waitForLines(5).size(), 5u);  // its second bookmark
  EXPECT_EQ(api.requests("pods", "watch"), 2);
}

TEST(FakeKubeApiTest, WatchFromNowAndTimeout) {
  FakeKubeApi api;
  api.upsertPod(podJson("a", "before-x", "n1", {}));
  WatchReader watch(api, "/api/v1/pods?watch=1&resourceVersion=0&timeoutSeconds=1");
  ASSERT_TRUE(api.waitForWatches(1, kWait));
  api.upsertPod(podJson("a", "after-x", "n1", {}));
  const auto lines = watch.waitForLines(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("after-x"), std::string::npos);
  // timeoutSeconds=1 ends the stream cleanly.
  ASSERT_TRUE(watch.waitForEnd());
  EXPECT_EQ(watch.status(), 200);
  for (int i = 0; i < 1000 && api.openWatches() > 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(api.openWatches(), 0);
}

TEST(FakeKubeApiTest, CompactionExpiresWatchesAndOldVersions) {
  FakeKubeApi api;
  api.upsertPod(podJson("a", "p-x", "n1", {}));
  const std::string old_rv = api.resourceVersion();
  WatchReader watch(api, "/api/v1/pods?watch=1&resourceVersion=" + old_rv);
  ASSERT_TRUE(api.waitForWatches(1, kWait));
  api.upsertPod(podJson("a", "q-x", "n1", {}));
  api.compactHistory();
  ASSERT_TRUE(watch.waitForEnd());
  const auto lines = watch.waitForLines(2);
  ASSERT_EQ(lines.size(), 2u);
  auto added = kube::decodePodEvent(lines[0]);
  ASSERT_TRUE(added.has_value());
  EXPECT_EQ(added->object.name, "q-x");
  auto expired = kube::decodePodEvent(lines[1]);
  ASSERT_TRUE(expired.has_value()) << lines[1];
  EXPECT_EQ(expired->type, WatchEventType::kError);
  EXPECT_EQ(expired->error_code, 410);
  EXPECT_NE(lines[1].find(R"("reason":"Expired")"), std::string::npos);

  // An older resourceVersion is gone for LIST (HTTP 410) and WATCH (an
  // ERROR event, as the API server's watch cache answers).
  auto list = client(api)->Get(("/api/v1/pods?resourceVersion=" + old_rv).c_str());
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 410);
  EXPECT_NE(list->body.find(R"("code":410)"), std::string::npos);
  WatchReader old_watch(api, "/api/v1/pods?watch=1&resourceVersion=" + old_rv);
  ASSERT_TRUE(old_watch.waitForEnd());
  const auto old_lines = old_watch.waitForLines(1);
  ASSERT_EQ(old_lines.size(), 1u);
  EXPECT_EQ(kube::decodePodEvent(old_lines[0])->error_code, 410);

  // The current version, "" and "0" still work.
  EXPECT_EQ(listPods(api, "/api/v1/pods?resourceVersion=" + api.resourceVersion()).items.size(),
            2u);
  EXPECT_EQ(listPods(api, "/api/v1/pods?resourceVersion=0").items.size(), 2u);
  WatchReader fresh(api, "/api/v1/pods?watch=1&resourceVersion=" + api.resourceVersion());
  ASSERT_TRUE(api.waitForWatches(1, kWait));
  api.deletePod("a", "p-x");
  const auto fresh_lines = fresh.waitForLines(1);
  ASSERT_EQ(fresh_lines.size(), 1u);
  EXPECT_EQ(kube::decodePodEvent(fresh_lines[0])->type, WatchEventType::kDeleted);
}

TEST(FakeKubeApiTest, PaginatesOverAConsistentSnapshot) {
  FakeKubeApi api;
  for (int i = 0; i < 5; ++i) api.upsertPod(podJson("a", "p" + std::to_string(i) + "-x", "n1", {}));
  const std::string rv = api.resourceVersion();

  auto first = listPods(api, "/api/v1/pods?limit=2");
  EXPECT_EQ(names(first), (std::vector<std::string>{"a/p0-x", "a/p1-x"}));
  EXPECT_EQ(first.resource_version, rv);
  ASSERT_FALSE(first.continue_token.empty());

  // Changes after the first page do not show in the later pages.
  api.upsertPod(podJson("a", "p10-x", "n1", {}));
  api.deletePod("a", "p4-x");
  auto second = listPods(api, "/api/v1/pods?limit=2&continue=" + first.continue_token);
  EXPECT_EQ(names(second), (std::vector<std::string>{"a/p2-x", "a/p3-x"}));
  EXPECT_EQ(second.resource_version, rv);
  auto third = listPods(api, "/api/v1/pods?limit=2&continue=" + second.continue_token);
  EXPECT_EQ(names(third), (std::vector<std::string>{"a/p4-x"}));
  EXPECT_EQ(third.continue_token, "");

  // A fresh list sees the changes; compaction expires its token.
  auto fresh = listPods(api, "/api/v1/pods?limit=3");
  EXPECT_EQ(names(fresh), (std::vector<std::string>{"a/p0-x", "a/p1-x", "a/p10-x"}));
  api.compactHistory();
  auto expired =
      client(api)->Get(("/api/v1/pods?limit=3&continue=" + fresh.continue_token).c_str());
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->status, 410);
  EXPECT_NE(expired->body.find("continue parameter is too old"), std::string::npos);
}

TEST(FakeKubeApiTest, FailsTheNextRequestsOnDemand) {
  FakeKubeApi api;
  api.failNextRequests(2, 503);
  auto cli = client(api);
  auto a = cli->Get("/api/v1/pods");
  auto b = cli->Get("/api/v1/nodes?watch=1");
  auto c = cli->Get("/api/v1/pods");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->status, 503);
  EXPECT_NE(a->body.find(R"("reason":"ServiceUnavailable")"), std::string::npos) << a->body;
  EXPECT_EQ(b->status, 503);
  EXPECT_EQ(c->status, 200);
  EXPECT_EQ(api.requests("pods", "list"), 2);
  EXPECT_EQ(api.requests("nodes", "watch"), 1);

  api.failNextRequests(1, 429);
  auto throttled = cli->Get("/api/v1/pods");
  ASSERT_TRUE(throttled);
  EXPECT_EQ(throttled->status, 429);
  EXPECT_EQ(throttled->get_header_value("Retry-After"), "1");
  EXPECT_EQ(cli->Get("/api/v1/pods")->status, 200);
}

// A client that goes away frees its watch (openWatches() drops), so tests
// that count watches after a reconnect see the new one only.
TEST(FakeKubeApiTest, ClientDisconnectEndsItsWatch) {
  FakeKubeApi api;
  auto watch = std::make_unique<WatchReader>(api, "/api/v1/pods?watch=1");
  ASSERT_TRUE(api.waitForWatches(1, kWait));
  watch.reset();
  for (int i = 0; i < 1000 && api.openWatches() > 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(api.openWatches(), 0);
}

TEST(FakeKubeApiTest, DestructorEndsOpenWatches) {
  auto api = std::make_unique<FakeKubeApi>();
  auto watch = std::make_unique<WatchReader>(*api, "/api/v1/nodes?watch=1");
  ASSERT_TRUE(api->waitForWatches(1, kWait));
  const auto start = std::chrono::steady_clock::now();
  api.reset();
  EXPECT_TRUE(watch->waitForEnd());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// The agent's own client asks for gzip; a watch must still stream each
// event as it happens, so the event arrives while the stream is still open
// (HttpClient reads the body with async_read_some: async_read would hold a
// small event until its 64 KiB buffer filled or the deadline passed).
TEST(FakeKubeApiTest, StreamsToTheAgentHttpClient) {
  FakeKubeApi api;
  HttpClientOptions options;
  options.tls.ca_file = api.caFile();
  ASSERT_TRUE(options.accept_gzip);
  HttpClient http(options);
  HttpClientRequest request;
  request.url = api.url() + "/api/v1/pods?watch=1&timeoutSeconds=30";
  request.headers.emplace_back("Authorization", "Bearer fake-token");

  std::mutex mu;
  std::string received;
  std::chrono::steady_clock::time_point sent_at;
  std::chrono::steady_clock::time_point received_at;
  std::thread writer([&] {
    if (!api.waitForWatches(1, kWait)) return;
    std::lock_guard<std::mutex> lock(mu);
    sent_at = std::chrono::steady_clock::now();
    api.upsertPod(podJson("a", "streamed-x", "n1", {}));
  });
  auto response =
      http.send(request, deadlineIn(kWait), [&](std::string_view chunk) -> Result<void> {
        std::lock_guard<std::mutex> lock(mu);
        received.append(chunk);
        received_at = std::chrono::steady_clock::now();
        if (received.find('\n') != std::string::npos) {
          return makeError(ErrorCode::kInternal, "got the event");  // stop reading
        }
        return {};
      });
  writer.join();
  ASSERT_FALSE(response.has_value());
  EXPECT_LT(received_at - sent_at, std::chrono::seconds(2));
  EXPECT_EQ(response.error().message(), "got the event");
  auto event = kube::decodePodEvent(received);
  ASSERT_TRUE(event.has_value()) << received;
  EXPECT_EQ(event->object.name, "streamed-x");
}

TEST(FakeKubeApiTest, PodItemsFromACapture) {
  const auto items =
      podItemsFromList(readFile(std::string(KM_FIXTURES_DIR) + "/kubelet/pods_k8s-1.35_nri.json"));
  ASSERT_EQ(items.size(), 24u);
  FakeKubeApi api;
  for (const std::string& item : items) api.upsertPod(item);
  auto pods = listPods(api, "/api/v1/pods?fieldSelector=spec.nodeName%3Ddatagen-1-35");
  EXPECT_EQ(pods.items.size(), 24u);
  EXPECT_EQ(pods.resource_version, "25");
}

}  // namespace
}  // namespace kubemetrics::testing
