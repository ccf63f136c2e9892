#include "common/kube/reflector.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "common/kube/discovery_objects.h"

namespace kubemetrics::kube {
namespace {

constexpr std::string_view kLog = "kubernetes";

// The decoders of each kind, chosen by overload.
Result<ObjectList<KubePod>> decodeList(std::string_view json, const KubePod*) {
  return decodePodList(json);
}
Result<ObjectList<KubeNode>> decodeList(std::string_view json, const KubeNode*) {
  return decodeNodeList(json);
}
Result<WatchEvent<KubePod>> decodeEvent(std::string_view line, const KubePod*) {
  return decodePodEvent(line);
}
Result<WatchEvent<KubeNode>> decodeEvent(std::string_view line, const KubeNode*) {
  return decodeNodeEvent(line);
}
Result<ObjectList<KubeService>> decodeList(std::string_view json, const KubeService*) {
  return decodeServiceList(json);
}
Result<WatchEvent<KubeService>> decodeEvent(std::string_view line, const KubeService*) {
  return decodeServiceEvent(line);
}
Result<ObjectList<KubeEndpointSlice>> decodeList(std::string_view json, const KubeEndpointSlice*) {
  return decodeEndpointSliceList(json);
}
Result<WatchEvent<KubeEndpointSlice>> decodeEvent(std::string_view line, const KubeEndpointSlice*) {
  return decodeEndpointSliceEvent(line);
}

const char* typeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kBookmark:
      return "BOOKMARK";
    case WatchEventType::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

void increment(prometheus::Family<prometheus::Counter>* family,
               const std::map<std::string, std::string>& labels) {
  if (family != nullptr) family->Add(labels).Increment();
}

// A watch that ends normally sooner than this without any event is treated
// like a failure for pacing (not counted): a server that closes every watch
// at once must not be hammered.
constexpr std::chrono::seconds kMinWatchDuration{1};

}  // namespace

template <typename T>
Reflector<T>::Reflector(ReflectorOptions options, const KubeApiConfig& config, std::string server,
                        SecretFile* token, ReflectorStore<T>& store, ReflectorMetrics metrics)
    : options_(std::move(options)),
      config_(config),
      client_(config, std::move(server), token),
      store_(store),
      metrics_(metrics) {
  // Create the children at zero, so a dashboard sees them before the first
  // event.
  for (const char* type : {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"}) {
    if (metrics_.watch_events)
      metrics_.watch_events->Add({{"kind", options_.kind}, {"type", type}});
  }
  for (const char* reason : {"start", "gone"}) {
    if (metrics_.relists) metrics_.relists->Add({{"kind", options_.kind}, {"reason", reason}});
  }
  for (const char* reason : {"unauthorized", "connect", "timeout", "decode"}) {
    if (metrics_.api_errors)
      metrics_.api_errors->Add({{"kind", options_.kind}, {"reason", reason}});
  }
}

template <typename T>
Reflector<T>::~Reflector() {
  stop();
}

template <typename T>
void Reflector<T>::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  running_ = true;
  thread_ = std::thread([this] {
    run();
    std::lock_guard<std::mutex> done(mu_);
    running_ = false;
    wake_.notify_all();
  });
}

template <typename T>
void Reflector<T>::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (!thread_.joinable()) return;
  }
  wake_.notify_all();
  // A cancel() that lands between the thread's last stop check and the
  // start of its next request is lost, so repeat it until the thread is out.
  for (;;) {
    client_.cancel();
    std::unique_lock<std::mutex> lock(mu_);
    if (wake_.wait_for(lock, std::chrono::milliseconds(20), [this] { return !running_; })) break;
  }
  thread_.join();
}

template <typename T>
bool Reflector<T>::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

template <typename T>
bool Reflector<T>::backOff() {
  backoff_cap_ = backoff_cap_.count() == 0 ? config_.initial_backoff
                                           : std::min(backoff_cap_ * 2, config_.max_backoff);
  // Full jitter: anywhere in [0, cap], so agents failing together (an API
  // server restart) do not come back together.
  std::uniform_int_distribution<std::int64_t> pick(0, backoff_cap_.count());
  const std::chrono::milliseconds wait(pick(rng_));
  std::unique_lock<std::mutex> lock(mu_);
  return !wake_.wait_for(lock, wait, [this] { return stopping_; });
}

template <typename T>
void Reflector<T>::countError(const ApiError& error) {
  ++failures_since_success_;
  increment(metrics_.api_errors, {{"kind", options_.kind}, {"reason", error.reason()}});
  std::uint64_t suppressed = 0;
  if (log_limiter_.allow(options_.kind + error.reason(), &suppressed)) {
    auto line = logWarn(kLog);
    line << options_.kind << "s: " << error.message;
    if (!last_decode_error_.empty() && error.failure == ApiFailure::kDecode) {
      line << " (" << last_decode_error_ << ")";
    }
    line << "; retrying with backoff (failure " << failures_since_success_ << " in a row";
    if (suppressed > 0) line << ", " << suppressed << " similar lines suppressed";
    line << ")";
  }
}

template <typename T>
void Reflector<T>::countEvent(WatchEventType type) {
  increment(metrics_.watch_events, {{"kind", options_.kind}, {"type", typeName(type)}});
}

template <typename T>
std::string Reflector<T>::listQuery(const std::string& continue_token) const {
  std::string query = options_.path + "?limit=" + std::to_string(options_.page_size);
  if (!options_.field_selector.empty()) {
    query += "&fieldSelector=" + encodeQueryValue(options_.field_selector);
  }
  if (!options_.label_selector.empty()) {
    query += "&labelSelector=" + encodeQueryValue(options_.label_selector);
  }
  if (!continue_token.empty()) query += "&continue=" + encodeQueryValue(continue_token);
  return query;
}

template <typename T>
std::string Reflector<T>::watchQuery(const std::string& resource_version) {
  const auto base = std::max<std::int64_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(config_.watch_timeout).count());
  std::uniform_int_distribution<std::int64_t> pick(base, 2 * base - 1);
  watch_timeout_ = std::chrono::seconds(pick(rng_));
  std::string query = options_.path + "?watch=1&allowWatchBookmarks=true&resourceVersion=" +
                      encodeQueryValue(resource_version) +
                      "&timeoutSeconds=" + std::to_string(watch_timeout_.count());
  if (!options_.field_selector.empty()) {
    query += "&fieldSelector=" + encodeQueryValue(options_.field_selector);
  }
  if (!options_.label_selector.empty()) {
    query += "&labelSelector=" + encodeQueryValue(options_.label_selector);
  }
  return query;
}

template <typename T>
ApiResult<typename Reflector<T>::Listed> Reflector<T>::listAll() {
  Listed listed;
  std::string continue_token;
  // Bounded: a server that hands out continue tokens for ever is a bug.
  for (int page = 0; page < 100000; ++page) {
    ApiResult<std::string> body =
        client_.get(listQuery(continue_token), deadlineIn(config_.request_timeout));
    if (!body) return tl::unexpected(body.error());
    Result<ObjectList<T>> list = decodeList(*body, static_cast<const T*>(nullptr));
    if (!list) {
      last_decode_error_ = list.error().message();
      return tl::unexpected(ApiError{ApiFailure::kDecode, 0,
                                     "LIST " + options_.path + ": " + list.error().message()});
    }
    for (T& item : list->items) listed.items.push_back(std::move(item));
    // Every page carries the version of the snapshot the first one started.
    listed.resource_version = std::move(list->resource_version);
    if (list->continue_token.empty()) return listed;
    continue_token = std::move(list->continue_token);
  }
  return tl::unexpected(
      ApiError{ApiFailure::kDecode, 0, "LIST " + options_.path + ": endless pagination"});
}

template <typename T>
LineVerdict Reflector<T>::onLine(std::string_view line, std::string& resource_version,
                                 std::uint64_t& events, std::optional<ApiError>& ended) {
  if (stopping()) return LineVerdict::kStop;
  Result<WatchEvent<T>> event = decodeEvent(line, static_cast<const T*>(nullptr));
  if (!event) {
    last_decode_error_ = event.error().message();
    return LineVerdict::kUnparsable;
  }
  const WatchEventType type = event->type;
  if (type == WatchEventType::kAdded || type == WatchEventType::kModified ||
      type == WatchEventType::kDeleted) {
    store_.apply(type, std::move(event->object));
  }
  // Counted once the store published it: a reader who sees the count finds
  // the event's effect in the snapshot.
  countEvent(type);
  if (type == WatchEventType::kError) {
    // The server ends the stream after an ERROR event.
    ended = ApiError{event->error_code == 410 ? ApiFailure::kGone : ApiFailure::kHttpStatus,
                     event->error_code,
                     options_.kind + " watch: ERROR event " + std::to_string(event->error_code) +
                         ": " + event->error_message};
    return LineVerdict::kStop;
  }
  if (!event->resource_version.empty()) resource_version = std::move(event->resource_version);
  ++events;
  return LineVerdict::kApplied;
}

template <typename T>
ApiResult<void> Reflector<T>::watchOnce(std::string& resource_version, std::uint64_t& events) {
  std::optional<ApiError> ended;
  const std::string query = watchQuery(resource_version);
  // The server ends the watch at timeoutSeconds; the client's own deadline
  // only catches a server that does not.
  const Deadline deadline = deadlineIn(watch_timeout_ + config_.request_timeout);
  ApiResult<void> watched = client_.watch(query, deadline, [&](std::string_view line) {
    return onLine(line, resource_version, events, ended);
  });
  if (ended) return tl::unexpected(*ended);
  return watched;
}

template <typename T>
void Reflector<T>::run() {
  bool need_list = true;
  bool ever_listed = false;
  const char* list_reason = "start";
  std::string resource_version;
  while (!stopping()) {
    if (need_list) {
      if (list_reason != nullptr) {
        increment(metrics_.relists, {{"kind", options_.kind}, {"reason", list_reason}});
        list_reason = nullptr;  // counted once per decision, not per attempt
      }
      ApiResult<Listed> listed = listAll();
      if (!listed) {
        if (stopping()) break;
        if (listed.error().failure == ApiFailure::kGone) {
          // An expired continue token: start the list again.
          logInfo(kLog) << options_.kind << " list: continue token expired (410), listing again";
          list_reason = "gone";
          continue;
        }
        countError(listed.error());
        if (!backOff()) break;
        continue;
      }
      const std::size_t count = listed->items.size();
      store_.replace(std::move(listed->items));
      resource_version = std::move(listed->resource_version);
      need_list = false;
      logInfo(kLog) << options_.kind << " list: " << count << " objects at resourceVersion "
                    << resource_version << (ever_listed ? " (re-list)" : "")
                    << "; watching from there";
      if (failures_since_success_ > 0) {
        logInfo(kLog) << options_.kind << " watch: connected again after "
                      << failures_since_success_ << " failed requests";
      }
      ever_listed = true;
      failures_since_success_ = 0;
      backoff_cap_ = std::chrono::milliseconds(0);
    }
    const auto started = SteadyClock::now();
    std::uint64_t events = 0;
    ApiResult<void> watched = watchOnce(resource_version, events);
    if (stopping()) break;
    if (events > 0 || watched) {
      if (failures_since_success_ > 0) {
        logInfo(kLog) << options_.kind << " watch: connected again after "
                      << failures_since_success_ << " failed requests";
      }
      failures_since_success_ = 0;
      backoff_cap_ = std::chrono::milliseconds(0);
    }
    if (watched) {
      // The server's timeoutSeconds: watch again from the last version.
      if (events == 0 && SteadyClock::now() - started < kMinWatchDuration && !backOff()) break;
      continue;
    }
    if (watched.error().failure == ApiFailure::kGone) {
      logInfo(kLog) << options_.kind << " watch: resourceVersion " << resource_version
                    << " is gone (410, compacted); re-listing";
      need_list = true;
      list_reason = "gone";
      continue;
    }
    countError(watched.error());
    if (!backOff()) break;
  }
}

template class Reflector<KubePod>;
template class Reflector<KubeNode>;
template class Reflector<KubeService>;
template class Reflector<KubeEndpointSlice>;

}  // namespace kubemetrics::kube
