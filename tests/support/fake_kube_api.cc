#include "support/fake_kube_api.h"

#include <httplib.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include "kubemetrics/mutex.h"
#include "support/tls_certs.h"

namespace kubemetrics::testing {
namespace {

namespace dom = simdjson::dom;
using Clock = std::chrono::steady_clock;

// How long a watch handler sleeps at most before it looks at its socket and
// the stop flag again.
constexpr auto kWatchPollInterval = std::chrono::milliseconds(50);

std::string jsonString(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string stringMap(const std::map<std::string, std::string>& map) {
  std::string out = "{";
  for (const auto& [key, value] : map) {
    if (out.size() > 1) out += ',';
    out += jsonString(key) + ':' + jsonString(value);
  }
  return out + "}";
}

// A metav1.Status, the body of every error response and of ERROR events.
std::string statusJson(int code, std::string_view reason, std::string_view message) {
  return R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":)" +
         jsonString(message) + R"(,"reason":)" + jsonString(reason) + R"(,"code":)" +
         std::to_string(code) + "}";
}

std::string_view reasonFor(int status) {
  switch (status) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 410:
      return "Expired";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "Unknown";
  }
}

void sendStatus(httplib::Response& res, int code, std::string_view message) {
  res.status = code;
  if (code == 429) res.set_header("Retry-After", "1");
  res.set_content(statusJson(code, reasonFor(code), message), "application/json");
}

// One stored object: the JSON as the client gave it (for re-serializing
// with another resourceVersion) and the fields selectors look at.
struct StoredObject {
  std::string source;
  std::string json;  // one line, metadata.resourceVersion = rv
  std::string namespace_name;
  std::string name;
  std::string node_name;
  std::map<std::string, std::string> labels;  // metadata.labels, for labelSelector
  std::uint64_t rv = 0;
};
using StoredPtr = std::shared_ptr<const StoredObject>;

std::string memberString(dom::object object, std::string_view key) {
  std::string_view value;
  if (object.at_key(key).get_string().get(value) != simdjson::SUCCESS) return "";
  return std::string(value);
}

// Parses `source` and writes it back on one line with
// metadata.resourceVersion = rv (and a default namespace for pods).
StoredPtr storeObject(std::string source, std::uint64_t rv, bool namespaced) {
  dom::parser parser;
  dom::element root;
  dom::object object;
  if (parser.parse(source).get(root) != simdjson::SUCCESS ||
      root.get_object().get(object) != simdjson::SUCCESS) {
    throw std::invalid_argument("FakeKubeApi: not a JSON object: " + source.substr(0, 200));
  }
  dom::object metadata;
  if (object.at_key("metadata").get_object().get(metadata) != simdjson::SUCCESS) {
    throw std::invalid_argument("FakeKubeApi: object without metadata");
  }
  auto stored = std::make_shared<StoredObject>();
  stored->name = memberString(metadata, "name");
  if (stored->name.empty()) throw std::invalid_argument("FakeKubeApi: object without a name");
  stored->namespace_name = namespaced ? memberString(metadata, "namespace") : "";
  const bool add_namespace = namespaced && stored->namespace_name.empty();
  if (add_namespace) stored->namespace_name = "default";
  dom::object labels;
  if (metadata.at_key("labels").get_object().get(labels) == simdjson::SUCCESS) {
    for (auto field : labels) {
      std::string_view value;
      if (field.value.get_string().get(value) == simdjson::SUCCESS) {
        stored->labels.emplace(std::string(field.key), std::string(value));
      }
    }
  }
  dom::object spec;
  if (object.at_key("spec").get_object().get(spec) == simdjson::SUCCESS) {
    stored->node_name = memberString(spec, "nodeName");
  }
  stored->rv = rv;

  std::string json = "{";
  for (auto field : object) {
    if (json.size() > 1) json += ',';
    json += jsonString(field.key) + ':';
    if (field.key != "metadata") {
      json += simdjson::minify(field.value);
      continue;
    }
    std::string meta = "{";
    for (auto entry : metadata) {
      if (entry.key == "resourceVersion") continue;
      meta += jsonString(entry.key) + ':' + simdjson::minify(entry.value) + ',';
    }
    if (add_namespace) meta += R"("namespace":"default",)";
    meta += R"("resourceVersion":)" + jsonString(std::to_string(rv)) + "}";
    json += meta;
  }
  json += '}';
  stored->json = std::move(json);
  stored->source = std::move(source);
  return stored;
}

std::string keyOf(std::string_view namespace_name, std::string_view name) {
  return std::string(namespace_name) + "/" + std::string(name);
}

// A fieldSelector: terms joined by AND.
struct Selector {
  struct Term {
    std::string field;
    std::string value;
    bool equal = true;
  };
  std::vector<Term> terms;
  // labelSelector terms: "key" (exists) or "key=value".
  std::vector<std::pair<std::string, std::optional<std::string>>> label_terms;

  bool matches(const StoredObject& object) const {
    for (const auto& [key, value] : label_terms) {
      auto it = object.labels.find(key);
      if (it == object.labels.end() || (value && it->second != *value)) return false;
    }
    for (const Term& term : terms) {
      const std::string* actual = term.field == "metadata.name"        ? &object.name
                                  : term.field == "metadata.namespace" ? &object.namespace_name
                                                                       : &object.node_name;
      if ((*actual == term.value) != term.equal) return false;
    }
    return true;
  }
};

// Parses "a=b,c!=d"; an error message for an unsupported field.
std::string parseSelector(const std::string& text, bool pods, Selector& out) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string term = text.substr(start, end - start);
    start = end + 1;
    if (term.empty()) continue;
    Selector::Term parsed;
    std::size_t op = term.find("!=");
    std::size_t value_at = 0;
    if (op != std::string::npos) {
      parsed.equal = false;
      value_at = op + 2;
    } else if ((op = term.find("==")) != std::string::npos) {
      value_at = op + 2;
    } else if ((op = term.find('=')) != std::string::npos) {
      value_at = op + 1;
    } else {
      return "invalid selector: '" + term + "'; can't understand '" + term + "'";
    }
    parsed.field = term.substr(0, op);
    parsed.value = term.substr(value_at);
    const bool supported =
        parsed.field == "metadata.name" ||
        (pods && (parsed.field == "metadata.namespace" || parsed.field == "spec.nodeName"));
    if (!supported) {
      return std::string("field label not supported: ") + parsed.field;
    }
    out.terms.push_back(std::move(parsed));
  }
  return "";
}

// Parses a labelSelector of "key" and "key=value" terms (comma = AND), the
// forms the agent sends; others are a 400 as an unsupported selector.
std::string parseLabelSelector(const std::string& text, Selector& out) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string term = text.substr(start, end - start);
    start = end + 1;
    if (term.empty()) continue;
    if (term.find_first_of("!()") != std::string::npos || term.find(" in ") != std::string::npos) {
      return "unsupported label selector in this fake: " + term;
    }
    const std::size_t eq = term.find('=');
    if (eq == std::string::npos) {
      out.label_terms.emplace_back(term, std::nullopt);
    } else {
      const std::size_t value_at = term.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1;
      out.label_terms.emplace_back(term.substr(0, eq), term.substr(value_at));
    }
  }
  return "";
}

bool parseUnsigned(std::string_view text, std::uint64_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

bool isTrue(const std::string& value) { return value == "1" || value == "true"; }

// One open watch stream: what it selects and the lines waiting to be sent.
struct Watch {
  std::string resource;
  Selector selector;
  bool bookmarks = false;
  std::deque<std::string> lines;
  bool ending = false;  // end the stream once `lines` is sent
  Clock::time_point deadline = Clock::time_point::max();
};

// The items of one LIST, kept for the continue tokens of its pages.
struct Snapshot {
  std::uint64_t rv = 0;
  std::vector<StoredPtr> items;
};

std::string kindOf(const std::string& resource) {
  if (resource == "pods") return "Pod";
  if (resource == "nodes") return "Node";
  if (resource == "services") return "Service";
  return "EndpointSlice";
}

std::string apiVersionOf(const std::string& resource) {
  return resource == "endpointslices" ? "discovery.k8s.io/v1" : "v1";
}

std::string eventLine(std::string_view type, const std::string& object_json) {
  return R"({"type":")" + std::string(type) + R"(","object":)" + object_json + "}\n";
}

}  // namespace

class FakeKubeApi::Impl {
 public:
  Impl() {
    const TlsCerts& certs = TlsCerts::shared();
    ca_file_ = certs.ca_cert;
    server_ =
        std::make_unique<httplib::SSLServer>(certs.server_cert.c_str(), certs.server_key.c_str());
    // Every open watch holds a thread; lists and new watches need more.
    server_->new_task_queue = [] { return new httplib::ThreadPool(32); };
    // Bounds how long stop() waits for an idle keep-alive connection.
    server_->set_keep_alive_timeout(1);
    server_->Get("/api/v1/pods", [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res, "pods", "");
    });
    server_->Get(R"(/api/v1/namespaces/([^/]+)/pods)",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   handle(req, res, "pods", req.matches[1].str());
                 });
    server_->Get("/api/v1/nodes", [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res, "nodes", "");
    });
    server_->Get("/api/v1/services", [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res, "services", "");
    });
    server_->Get(R"(/api/v1/namespaces/([^/]+)/services)",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   handle(req, res, "services", req.matches[1].str());
                 });
    server_->Get("/apis/discovery.k8s.io/v1/endpointslices",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   handle(req, res, "endpointslices", "");
                 });
    server_->Get(R"(/apis/discovery.k8s.io/v1/namespaces/([^/]+)/endpointslices)",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   handle(req, res, "endpointslices", req.matches[1].str());
                 });
    // The API server's own metrics (a nonResourceURL), behind the token.
    server_->Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
      {
        MutexLock lock(mu_);
        log_.push_back(req.method + " " + req.target);
        ++requests_["metrics/get"];
        if (req.get_header_value("Authorization") != "Bearer " + token_) {
          ++unauthorized_;
          sendStatus(res, 401, "Unauthorized");
          return;
        }
      }
      res.set_content(
          "# HELP apiserver_request_total Counter of apiserver requests.\n"
          "# TYPE apiserver_request_total counter\n"
          "apiserver_request_total{code=\"200\",verb=\"LIST\",resource=\"pods\"} 42\n",
          "text/plain; version=0.0.4");
    });
    // The resource metrics API (metrics.k8s.io/v1beta1, served by
    // metrics-server through the aggregation layer): LIST only, no
    // resourceVersion, no watch. 404 until setPodMetrics(), as an API
    // server without metrics-server answers.
    server_->Get(R"(/apis/metrics.k8s.io/v1beta1/pods)", [this](const httplib::Request& req,
                                                                httplib::Response& res) {
      MutexLock lock(mu_);
      if (!admit(req, res, "podmetrics/list")) return;
      if (!pod_metrics_) {
        return sendStatus(res, 404, "the server could not find the requested resource");
      }
      std::string body = R"({"kind":"PodMetricsList","apiVersion":"metrics.k8s.io/v1beta1",)"
                         R"("metadata":{},"items":[)";
      for (std::size_t i = 0; i < pod_metrics_->size(); ++i) {
        if (i > 0) body += ',';
        body += (*pod_metrics_)[i];
      }
      res.set_content(body + "]}", "application/json");
    });
    server_->set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (res.status == 404 && res.body.empty()) {
        logRequest(req);
        sendStatus(res, 404, "the server could not find the requested resource");
      }
    });
    if (!server_->is_valid()) throw std::runtime_error("FakeKubeApi: invalid TLS setup");
    port_ = server_->bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("FakeKubeApi: cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    for (int i = 0; i < 5000 && !server_->is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  ~Impl() {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    server_->stop();
    thread_.join();
  }

  int port() const { return port_; }
  const std::string& caFile() const { return ca_file_; }

  void setToken(std::string token) {
    MutexLock lock(mu_);
    token_ = std::move(token);
  }

  void upsert(const std::string& resource, std::string json) {
    {
      MutexLock lock(mu_);
      auto stored = storeObject(std::move(json), rv_ + 1, resource != "nodes");
      ++rv_;
      auto& objects = store(resource);
      const std::string key = keyOf(stored->namespace_name, stored->name);
      const bool existed = objects.count(key) > 0;
      objects[key] = stored;
      publish(resource, existed ? "MODIFIED" : "ADDED", stored);
    }
    cv_.notify_all();
  }

  void remove(const std::string& resource, std::string_view namespace_name, std::string_view name) {
    {
      MutexLock lock(mu_);
      auto& objects = store(resource);
      auto it = objects.find(keyOf(namespace_name, name));
      if (it == objects.end()) return;
      auto last = storeObject(it->second->source, rv_ + 1, resource != "nodes");
      ++rv_;
      objects.erase(it);
      publish(resource, "DELETED", last);
    }
    cv_.notify_all();
  }

  void sendBookmarks() {
    {
      MutexLock lock(mu_);
      for (auto& watch : watches_) {
        if (!watch->bookmarks || watch->ending) continue;
        const std::string kind = kindOf(watch->resource);
        watch->lines.push_back(eventLine("BOOKMARK", R"({"kind":")" + kind + R"(","apiVersion":")" +
                                                         apiVersionOf(watch->resource) +
                                                         R"(","metadata":{"resourceVersion":")" +
                                                         std::to_string(rv_) + R"("}})"));
      }
    }
    cv_.notify_all();
  }

  void compactHistory() {
    {
      MutexLock lock(mu_);
      history_.clear();
      snapshots_.clear();
      compacted_rv_ = rv_;
      for (auto& watch : watches_) {
        if (watch->ending) continue;
        watch->lines.push_back(eventLine("ERROR", expiredStatus("history compacted")));
        watch->ending = true;
      }
    }
    cv_.notify_all();
  }

  void closeWatches() {
    {
      MutexLock lock(mu_);
      for (auto& watch : watches_) watch->ending = true;
    }
    cv_.notify_all();
  }

  void setPodMetrics(std::vector<std::string> items) {
    MutexLock lock(mu_);
    pod_metrics_ = std::move(items);
  }

  void failNextRequests(int count, int status) {
    MutexLock lock(mu_);
    fail_count_ = count;
    fail_status_ = status;
  }

  int requests(std::string_view resource, std::string_view verb) const {
    MutexLock lock(mu_);
    auto it = requests_.find(std::string(resource) + "/" + std::string(verb));
    return it == requests_.end() ? 0 : it->second;
  }

  int unauthorized() const {
    MutexLock lock(mu_);
    return unauthorized_;
  }

  std::vector<std::string> requestLog() const {
    MutexLock lock(mu_);
    return log_;
  }

  int openWatches() const {
    MutexLock lock(mu_);
    return static_cast<int>(watches_.size());
  }

  bool waitForWatches(int count, std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    MutexLock lock(mu_);
    while (static_cast<int>(watches_.size()) < count) {
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
        return static_cast<int>(watches_.size()) >= count;
      }
    }
    return true;
  }

  std::string resourceVersion() const {
    MutexLock lock(mu_);
    return std::to_string(rv_);
  }

 private:
  struct HistoryEvent {
    std::string resource;
    std::string type;
    StoredPtr object;
  };

  std::map<std::string, StoredPtr>& store(const std::string& resource) KM_REQUIRES(mu_) {
    return stores_[resource];
  }

  std::string expiredStatus(std::string_view why) const KM_REQUIRES(mu_) {
    return statusJson(410, "Expired",
                      "too old resource version: " + std::string(why) + " (" +
                          std::to_string(compacted_rv_) + ")");
  }

  // Records the event and queues it on the matching open watches.
  void publish(const std::string& resource, std::string_view type, const StoredPtr& object)
      KM_REQUIRES(mu_) {
    history_.push_back(HistoryEvent{resource, std::string(type), object});
    for (auto& watch : watches_) {
      if (watch->ending || watch->resource != resource || !watch->selector.matches(*object)) {
        continue;
      }
      watch->lines.push_back(eventLine(type, object->json));
    }
  }

  void logRequest(const httplib::Request& req) {
    MutexLock lock(mu_);
    log_.push_back(req.method + " " + req.target);
  }

  // Logs and counts a request as `counted` ("pods/list"), then answers it
  // when failNextRequests() is pending or its token is wrong; true when the
  // route goes on to serve it.
  bool admit(const httplib::Request& req, httplib::Response& res, const std::string& counted)
      KM_REQUIRES(mu_) {
    log_.push_back(req.method + " " + req.target);
    ++requests_[counted];
    if (fail_count_ > 0) {
      --fail_count_;
      sendStatus(res, fail_status_, "injected failure");
      return false;
    }
    if (req.get_header_value("Authorization") != "Bearer " + token_) {
      ++unauthorized_;
      sendStatus(res, 401, "Unauthorized");
      return false;
    }
    return true;
  }

  void handle(const httplib::Request& req, httplib::Response& res, const std::string& resource,
              const std::string& namespace_name) {
    const bool watch = isTrue(req.get_param_value("watch"));
    {
      MutexLock lock(mu_);
      if (!admit(req, res, resource + (watch ? "/watch" : "/list"))) return;
    }
    Selector selector;
    std::string selector_error =
        parseSelector(req.get_param_value("fieldSelector"), resource == "pods", selector);
    if (selector_error.empty()) {
      selector_error = parseLabelSelector(req.get_param_value("labelSelector"), selector);
    }
    if (!selector_error.empty()) return sendStatus(res, 400, selector_error);
    if (!namespace_name.empty()) {
      selector.terms.push_back(Selector::Term{"metadata.namespace", namespace_name, true});
    }
    const std::string rv_text = req.get_param_value("resourceVersion");
    std::uint64_t rv = 0;
    const bool has_rv = !rv_text.empty() && rv_text != "0";
    if (has_rv && !parseUnsigned(rv_text, rv)) {
      return sendStatus(res, 400, "invalid resource version: " + rv_text);
    }
    if (watch) return startWatch(req, res, resource, std::move(selector), has_rv, rv);
    list(req, res, resource, selector, has_rv, rv);
  }

  void list(const httplib::Request& req, httplib::Response& res, const std::string& resource,
            const Selector& selector, bool has_rv, std::uint64_t rv) {
    std::uint64_t limit = 0;
    const std::string limit_text = req.get_param_value("limit");
    if (!limit_text.empty() && !parseUnsigned(limit_text, limit)) {
      return sendStatus(res, 400, "invalid limit: " + limit_text);
    }
    const std::string token = req.get_param_value("continue");
    std::shared_ptr<const Snapshot> snapshot;
    std::size_t offset = 0;
    {
      MutexLock lock(mu_);
      if (!token.empty()) {
        // Tokens are "<snapshot id>:<offset>".
        const std::size_t colon = token.find(':');
        std::uint64_t id = 0;
        std::uint64_t at = 0;
        if (colon == std::string::npos || !parseUnsigned(token.substr(0, colon), id) ||
            !parseUnsigned(token.substr(colon + 1), at)) {
          return sendStatus(res, 400, "invalid continue token");
        }
        auto it = snapshots_.find(id);
        if (it == snapshots_.end()) {
          return sendStatus(res, 410,
                            "The provided continue parameter is too old to display a consistent "
                            "list result. You can start a new list without the continue "
                            "parameter.");
        }
        snapshot = it->second;
        offset = std::min<std::size_t>(at, snapshot->items.size());
      } else {
        if (has_rv && rv < compacted_rv_) {
          res.status = 410;
          res.set_content(expiredStatus(std::to_string(rv)), "application/json");
          return;
        }
        auto fresh = std::make_shared<Snapshot>();
        fresh->rv = rv_;
        for (const auto& [key, object] : store(resource)) {
          if (selector.matches(*object)) fresh->items.push_back(object);
        }
        snapshot = fresh;
      }
    }
    const std::size_t end = limit == 0
                                ? snapshot->items.size()
                                : std::min<std::size_t>(snapshot->items.size(), offset + limit);
    std::string next_token;
    if (end < snapshot->items.size()) {
      MutexLock lock(mu_);
      std::uint64_t id = 0;
      for (const auto& [known_id, known] : snapshots_) {
        if (known == snapshot) id = known_id;
      }
      if (id == 0) {
        id = ++next_snapshot_id_;
        snapshots_[id] = snapshot;
      }
      next_token = std::to_string(id) + ":" + std::to_string(end);
    }
    std::string body = R"({"kind":")" + kindOf(resource) + R"(List","apiVersion":")" +
                       apiVersionOf(resource) + R"(","metadata":{"resourceVersion":")" +
                       std::to_string(snapshot->rv) + "\"";
    if (!next_token.empty()) {
      body += R"(,"continue":)" + jsonString(next_token) + R"(,"remainingItemCount":)" +
              std::to_string(snapshot->items.size() - end);
    }
    body += R"(},"items":[)";
    for (std::size_t i = offset; i < end; ++i) {
      if (i > offset) body += ',';
      body += snapshot->items[i]->json;
    }
    body += "]}";
    res.status = 200;
    res.set_content(body, "application/json");
  }

  void startWatch(const httplib::Request& req, httplib::Response& res, const std::string& resource,
                  Selector selector, bool has_rv, std::uint64_t rv) {
    auto watch = std::make_shared<Watch>();
    watch->resource = resource;
    watch->selector = std::move(selector);
    watch->bookmarks = isTrue(req.get_param_value("allowWatchBookmarks"));
    std::uint64_t timeout_seconds = 0;
    if (parseUnsigned(req.get_param_value("timeoutSeconds"), timeout_seconds) &&
        timeout_seconds > 0) {
      watch->deadline = Clock::now() + std::chrono::seconds(timeout_seconds);
    }
    {
      MutexLock lock(mu_);
      if (has_rv && rv < compacted_rv_) {
        // As the watch cache does: 200, then one ERROR event, then the end.
        watch->lines.push_back(eventLine("ERROR", expiredStatus(std::to_string(rv))));
        watch->ending = true;
      } else if (has_rv) {
        for (const HistoryEvent& event : history_) {
          if (event.resource == resource && event.object->rv > rv &&
              watch->selector.matches(*event.object)) {
            watch->lines.push_back(eventLine(event.type, event.object->json));
          }
        }
      }
      watches_.push_back(watch);
    }
    cv_.notify_all();
    // A gzip stream would hold events in the compressor until it has a
    // block; the API server does not compress watches either. The request
    // object is httplib's own non-const local, so dropping the header here
    // is well-defined, and the encoding is chosen after the handler returns.
    auto& headers = const_cast<httplib::Request&>(req).headers;
    headers.erase("Accept-Encoding");
    res.status = 200;
    res.set_chunked_content_provider(
        "application/json",
        [this, watch](std::size_t /*offset*/, httplib::DataSink& sink) {
          return pump(*watch, sink);
        },
        [this, watch](bool /*success*/) {
          {
            MutexLock lock(mu_);
            watches_.erase(std::remove(watches_.begin(), watches_.end(), watch), watches_.end());
          }
          cv_.notify_all();
        });
  }

  // Called by httplib again and again while the stream is open: sends what
  // is queued, waiting at most kWatchPollInterval for something to send.
  // false aborts the connection (client gone, fake destroyed).
  bool pump(Watch& watch, httplib::DataSink& sink) {
    std::deque<std::string> lines;
    bool end = false;
    {
      MutexLock lock(mu_);
      const auto until = std::min(Clock::now() + kWatchPollInterval, watch.deadline);
      while (!stopping_ && watch.lines.empty() && !watch.ending && Clock::now() < until) {
        cv_.wait_until(lock, until);
      }
      if (stopping_) return false;
      lines.swap(watch.lines);
      if (Clock::now() >= watch.deadline) watch.ending = true;
      end = watch.ending;
    }
    for (const std::string& line : lines) {
      if (!sink.write(line.data(), line.size())) return false;
    }
    if (end) {
      sink.done();
      return true;
    }
    return lines.empty() ? sink.is_writable() : true;
  }

  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = -1;
  std::string ca_file_;

  mutable Mutex mu_;
  mutable std::condition_variable_any cv_;
  bool stopping_ KM_GUARDED_BY(mu_) = false;
  std::string token_ KM_GUARDED_BY(mu_) = "fake-token";
  std::uint64_t rv_ KM_GUARDED_BY(mu_) = 1;
  std::uint64_t compacted_rv_ KM_GUARDED_BY(mu_) = 0;
  // By resource ("pods"), then "ns/name" ("/name" for nodes).
  std::map<std::string, std::map<std::string, StoredPtr>> stores_ KM_GUARDED_BY(mu_);
  std::vector<HistoryEvent> history_ KM_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Watch>> watches_ KM_GUARDED_BY(mu_);
  std::map<std::uint64_t, std::shared_ptr<const Snapshot>> snapshots_ KM_GUARDED_BY(mu_);
  std::uint64_t next_snapshot_id_ KM_GUARDED_BY(mu_) = 0;
  int fail_count_ KM_GUARDED_BY(mu_) = 0;
  int fail_status_ KM_GUARDED_BY(mu_) = 500;
  std::optional<std::vector<std::string>> pod_metrics_ KM_GUARDED_BY(mu_);  // unset: 404
  std::map<std::string, int> requests_ KM_GUARDED_BY(mu_);
  int unauthorized_ KM_GUARDED_BY(mu_) = 0;
  std::vector<std::string> log_ KM_GUARDED_BY(mu_);
};

FakeKubeApi::FakeKubeApi() : impl_(std::make_unique<Impl>()) {}
FakeKubeApi::~FakeKubeApi() = default;

std::string FakeKubeApi::url() const {
  return "https://127.0.0.1:" + std::to_string(impl_->port());
}
std::string FakeKubeApi::caFile() const { return impl_->caFile(); }
void FakeKubeApi::setToken(std::string token) { impl_->setToken(std::move(token)); }
void FakeKubeApi::upsertPod(std::string pod_json) { impl_->upsert("pods", std::move(pod_json)); }
void FakeKubeApi::deletePod(std::string_view namespace_name, std::string_view name) {
  impl_->remove("pods", namespace_name, name);
}
void FakeKubeApi::upsertNode(std::string node_json) {
  impl_->upsert("nodes", std::move(node_json));
}
void FakeKubeApi::deleteNode(std::string_view name) { impl_->remove("nodes", "", name); }
void FakeKubeApi::upsertService(std::string service_json) {
  impl_->upsert("services", std::move(service_json));
}
void FakeKubeApi::deleteService(std::string_view namespace_name, std::string_view name) {
  impl_->remove("services", namespace_name, name);
}
void FakeKubeApi::upsertEndpointSlice(std::string slice_json) {
  impl_->upsert("endpointslices", std::move(slice_json));
}
void FakeKubeApi::deleteEndpointSlice(std::string_view namespace_name, std::string_view name) {
  impl_->remove("endpointslices", namespace_name, name);
}
void FakeKubeApi::sendBookmarks() { impl_->sendBookmarks(); }
void FakeKubeApi::compactHistory() { impl_->compactHistory(); }
void FakeKubeApi::closeWatches() { impl_->closeWatches(); }
void FakeKubeApi::setPodMetrics(std::vector<std::string> items) {
  impl_->setPodMetrics(std::move(items));
}
void FakeKubeApi::failNextRequests(int count, int status) {
  impl_->failNextRequests(count, status);
}
int FakeKubeApi::requests(std::string_view resource, std::string_view verb) const {
  return impl_->requests(resource, verb);
}
int FakeKubeApi::unauthorized() const { return impl_->unauthorized(); }
std::vector<std::string> FakeKubeApi::requestLog() const { return impl_->requestLog(); }
int FakeKubeApi::openWatches() const { return impl_->openWatches(); }
bool FakeKubeApi::waitForWatches(int count, std::chrono::milliseconds timeout) const {
  return impl_->waitForWatches(count, timeout);
}
std::string FakeKubeApi::resourceVersion() const { return impl_->resourceVersion(); }

std::vector<std::string> podItemsFromList(std::string_view pod_list_json) {
  dom::parser parser;
  dom::element root;
  dom::array items;
  if (parser.parse(pod_list_json.data(), pod_list_json.size()).get(root) != simdjson::SUCCESS ||
      root.at_key("items").get_array().get(items) != simdjson::SUCCESS) {
    throw std::invalid_argument("podItemsFromList: not a PodList");
  }
  std::vector<std::string> out;
  for (dom::element item : items) out.push_back(simdjson::minify(item));
  return out;
}

std::string podJson(const std::string& namespace_name, const std::string& name,
                    const std::string& node_name, const std::map<std::string, std::string>& labels,
                    const std::map<std::string, std::string>& annotations,
                    const std::string& pod_ip, int container_port) {
  const std::size_t dash = name.rfind('-');
  const std::string owner = dash == std::string::npos ? name : name.substr(0, dash);
  std::string ports;
  if (container_port > 0) {
    ports = R"(,"ports":[{"name":"http","containerPort":)" + std::to_string(container_port) +
            R"(,"protocol":"TCP"}])";
  }
  std::string json = R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":)" + jsonString(name) +
                     R"(,"namespace":)" + jsonString(namespace_name) + R"(,"uid":)" +
                     jsonString("uid-" + namespace_name + "-" + name) +
                     R"(,"creationTimestamp":"2024-01-01T00:00:00Z","labels":)" +
                     stringMap(labels) + R"(,"annotations":)" + stringMap(annotations) +
                     R"(,"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":)" +
                     jsonString(owner) + R"(,"uid":)" + jsonString("uid-rs-" + owner) +
                     R"(,"controller":true,"blockOwnerDeletion":true}]},)";
  json +=
      R"("spec":{"nodeName":)" + jsonString(node_name) +
      R"(,"restartPolicy":"Always","containers":[{"name":"main","image":"registry.k8s.io/pause:3.9")" +
      ports +
      R"(,"resources":{"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"memory":"128Mi"}}}]},)";
  json += R"("status":{"phase":"Running")";
  if (!pod_ip.empty()) {
    json +=
        R"(,"podIP":)" + jsonString(pod_ip) + R"(,"podIPs":[{"ip":)" + jsonString(pod_ip) + "}]";
  }
  json +=
      R"(,"containerStatuses":[{"name":"main","ready":true,"restartCount":0,)"
      R"("image":"registry.k8s.io/pause:3.9","state":{"running":{"startedAt":"2024-01-01T00:00:01Z"}}}]}})";
  return json;
}

std::string nodeJson(const std::string& name, const std::map<std::string, std::string>& labels,
                     const std::string& cpu_capacity, const std::string& memory_capacity,
                     const std::string& cpu_allocatable, const std::string& memory_allocatable) {
  return R"({"kind":"Node","apiVersion":"v1","metadata":{"name":)" + jsonString(name) +
         R"(,"uid":)" + jsonString("uid-node-" + name) + R"(,"labels":)" + stringMap(labels) +
         R"(},"spec":{"podCIDR":"10.244.0.0/24"},"status":{"capacity":{"cpu":)" +
         jsonString(cpu_capacity) + R"(,"memory":)" + jsonString(memory_capacity) +
         R"(,"pods":"110"},"allocatable":{"cpu":)" + jsonString(cpu_allocatable) + R"(,"memory":)" +
         jsonString(memory_allocatable) +
         R"(,"pods":"110"},"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady"}]}})";
}

}  // namespace kubemetrics::testing

namespace kubemetrics::testing {

std::string serviceJson(const std::string& namespace_name, const std::string& name,
                        const std::map<std::string, std::string>& annotations) {
  return R"({"kind":"Service","apiVersion":"v1","metadata":{"name":)" + jsonString(name) +
         R"(,"namespace":)" + jsonString(namespace_name) + R"(,"uid":)" +
         jsonString("uid-svc-" + namespace_name + "-" + name) +
         R"(,"creationTimestamp":"2024-01-01T00:00:00Z","labels":{"app":)" + jsonString(name) +
         R"(},"annotations":)" + stringMap(annotations) +
         R"(},"spec":{"type":"ClusterIP","clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],)"
         R"("ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":"http"}],)"
         R"("selector":{"app":)" +
         jsonString(name) + R"(},"sessionAffinity":"None"},"status":{"loadBalancer":{}}})";
}

std::string endpointSliceJson(const std::string& namespace_name, const std::string& name,
                              const std::string& service, int port,
                              const std::vector<SliceEndpoint>& endpoints) {
  std::string json =
      R"({"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":)" +
      jsonString(name) + R"(,"namespace":)" + jsonString(namespace_name) + R"(,"uid":)" +
      jsonString("uid-eps-" + namespace_name + "-" + name) + R"(,"generateName":)" +
      jsonString(service + "-") +
      R"(,"labels":{"endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io",)"
      R"("kubernetes.io/service-name":)" +
      jsonString(service) + R"(},"ownerReferences":[{"apiVersion":"v1","kind":"Service","name":)" +
      jsonString(service) + R"(,"uid":)" + jsonString("uid-svc-" + namespace_name + "-" + service) +
      R"(,"controller":true,"blockOwnerDeletion":true}]},"addressType":"IPv4","endpoints":[)";
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    const SliceEndpoint& e = endpoints[i];
    if (i > 0) json += ',';
    json += R"({"addresses":[)" + jsonString(e.address) + R"(],"conditions":{"ready":)" +
            std::string(e.ready ? "true" : "false") + R"(,"serving":)" +
            std::string(e.ready ? "true" : "false") +
            R"(,"terminating":false},"nodeName":"node-a")";
    if (!e.pod.empty()) {
      json += R"(,"targetRef":{"kind":"Pod","namespace":)" + jsonString(namespace_name) +
              R"(,"name":)" + jsonString(e.pod) + R"(,"uid":)" + jsonString("uid-" + e.pod) + "}";
    }
    json += "}";
  }
  json += R"(],"ports":[{"name":"http","protocol":"TCP","port":)" + std::to_string(port) + "}]}";
  return json;
}

std::string podMetricsJson(const std::string& namespace_name, const std::string& name,
                           const std::vector<ContainerUsage>& containers) {
  std::string json =
      R"({"kind":"PodMetrics","apiVersion":"metrics.k8s.io/v1beta1","metadata":{"name":)" +
      jsonString(name) + R"(,"namespace":)" + jsonString(namespace_name) +
      R"(,"creationTimestamp":"2024-01-01T00:01:00Z","labels":{"app":)" + jsonString(name) +
      R"(}},"timestamp":"2024-01-01T00:00:51Z","window":"10.074s","containers":[)";
  for (std::size_t i = 0; i < containers.size(); ++i) {
    if (i > 0) json += ',';
    json += R"({"name":)" + jsonString(containers[i].name) + R"(,"usage":{"cpu":)" +
            jsonString(containers[i].cpu) + R"(,"memory":)" + jsonString(containers[i].memory) +
            "}}";
  }
  return json + "]}";
}

}  // namespace kubemetrics::testing
