#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/kube/api_client.h"
#include "common/kube/objects.h"
#include "kubemetrics/log.h"

namespace kubemetrics::kube {

/// Where a Reflector puts what it learns. Called on the reflector's thread
/// only, one call at a time.
template <typename T>
class ReflectorStore {
 public:
  virtual ~ReflectorStore() = default;
  /// The complete content after a LIST: what is not in `items` is gone.
  virtual void replace(std::vector<T>&& items) = 0;
  /// One ADDED, MODIFIED or DELETED event, in stream order.
  virtual void apply(WatchEventType type, T&& object) = 0;
};

/// The self-metric families a Reflector adds its `kind` children to
/// (owned by the registry; any may be null in tests).
struct ReflectorMetrics {
  prometheus::Family<prometheus::Counter>* watch_events = nullptr;  // {kind,type}
  prometheus::Family<prometheus::Counter>* relists = nullptr;       // {kind,reason}
  prometheus::Family<prometheus::Counter>* api_errors = nullptr;    // {kind,reason}
};

/// What one Reflector watches.
struct ReflectorOptions {
  std::string kind;            // "pod" | "node" | ...: metric label and log prefix
  std::string path;            // "/api/v1/pods"
  std::string field_selector;  // "spec.nodeName=node-a"; "" for none
  std::string label_selector;  // "kubernetes.io/service-name"; "" for none
  std::size_t page_size = 500;
};

/// Keeps a ReflectorStore equal to one API resource, as client-go's
/// Reflector does: LIST (paginated) -> replace the store -> WATCH from the
/// list's resourceVersion with bookmarks, event by event. A watch the
/// server ends (timeoutSeconds) is re-opened from the last resourceVersion
/// seen (an event's or a bookmark's); 410 Gone (HTTP or an ERROR event)
/// means that version was compacted away: LIST again. Any other failure
/// (connect, timeout, 401/403/429/5xx, an undecodable line) is counted and
/// retried after a capped exponential backoff with full jitter.
///
/// Thread-safe: start() and stop() from the owner's thread; everything else
/// runs on the reflector's own thread. stop() returns promptly: it cancels
/// the request in flight and wakes a backoff wait.
template <typename T>
class Reflector {
 public:
  Reflector(ReflectorOptions options, const KubeApiConfig& config, std::string server,
            SecretFile* token, ReflectorStore<T>& store, ReflectorMetrics metrics);
  ~Reflector();
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  void start();
  /// Idempotent; joins the thread.
  void stop();

 private:
  struct Listed {
    std::vector<T> items;
    std::string resource_version;
  };

  void run();
  ApiResult<Listed> listAll();
  /// One WATCH from `resource_version`, which it advances.
  ApiResult<void> watchOnce(std::string& resource_version, std::uint64_t& events);
  LineVerdict onLine(std::string_view line, std::string& resource_version, std::uint64_t& events,
                     std::optional<ApiError>& gone);
  std::string listQuery(const std::string& continue_token) const;
  std::string watchQuery(const std::string& resource_version);
  void countError(const ApiError& error);
  void countEvent(WatchEventType type);
  /// Waits a jittered backoff (or until stop()); false when stopping.
  bool backOff();
  bool stopping() const;

  const ReflectorOptions options_;
  const KubeApiConfig config_;
  KubeApiClient client_;
  ReflectorStore<T>& store_;
  const ReflectorMetrics metrics_;
  LogLimiter log_limiter_{std::chrono::seconds(30)};

  std::mt19937_64 rng_{std::random_device{}()};  // reflector thread only
  std::chrono::milliseconds backoff_cap_{0};     // 0: no failure since the last success
  std::uint64_t failures_since_success_ = 0;
  std::chrono::seconds watch_timeout_{0};  // of the watch in progress
  std::string last_decode_error_;          // the decoder's words for the last bad body

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  bool running_ = false;   // guarded by mu_: the thread has not finished run()
  std::thread thread_;
};

}  // namespace kubemetrics::kube
