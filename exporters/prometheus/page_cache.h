#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kubemetrics/deadline.h"

namespace kubemetrics::exporters::prometheus {

/// The encodings a page is served in.
enum class PageEncoding { kIdentity, kGzip };

/// One encoded form of a rendered page, shared by every scraper served it.
using PageBody = std::shared_ptr<const std::string>;

/// What PageCache reports, for self-metrics and tests. Called on the
/// thread that caused it (an io thread or the render thread); thread-safe.
struct PageCacheEvents {
  std::function<void(PageEncoding, double seconds, std::size_t bytes)> encoded;  // render/gzip
  std::function<void()> hit;      // answered from the cache, no waiting
  std::function<void()> waited;   // queued for the render thread
  std::function<void()> refused;  // queue full
};

/// Renders the /metrics page at most once per `cache_for` and per encoding,
/// and shares it between scrapers.
///
/// A request is answered with a page whose series were copied out no
/// earlier than `cache_for` before the request arrived: from the cache at
/// once when there is one (on the caller's thread), else by the render
/// thread once it has rendered (single flight: every request queued while
/// a render runs is answered by the next one, so N concurrent scrapers
/// cost one render). The gzip form is made once per page, when a scraper
/// first asks for it. Renders run one at a time on the cache's own thread,
/// started at the first request, so no server io thread ever renders or
/// waits; the render thread runs at nice 10, so io threads answering
/// /healthz win the CPU over it. Beyond `max_waiting` queued requests a
/// request is refused (the caller answers 503).
///
/// Freshness is by age only: series change with every batch the pipeline
/// sends, so a "nothing changed" test would almost never hold.
///
/// Thread-safe. The destructor stops the render thread (after the render
/// in progress) and drops the requests still queued without calling them.
class PageCache {
 public:
  using Render = std::function<std::string()>;
  using Clock = std::function<SteadyClock::time_point()>;
  using Deliver = std::function<void(PageBody body, PageEncoding encoding)>;

  /// `cache_for` 0 renders for every request (still single flight).
  /// `render` runs on the render thread only; `clock` is read on any.
  PageCache(SteadyClock::duration cache_for, std::size_t max_waiting, Render render, Clock clock,
            PageCacheEvents events);
  ~PageCache();
  PageCache(const PageCache&) = delete;
  PageCache& operator=(const PageCache&) = delete;

  /// Delivers the page in `encoding` (gzip falls back to identity when zlib
  /// fails; a null body when the render threw) now or from the render
  /// thread; false when the queue is full, and then `deliver` is not called.
  bool request(PageEncoding encoding, Deliver deliver);

  /// gzip of `text` at the level pages use (1: a page compresses about 8x
  /// at a quarter of level 6's CPU). Output grows as needed, so its
  /// transient memory is the compressed size, not the worst case. Empty on
  /// a zlib failure.
  static std::string gzip(const std::string& text);

 private:
  struct Page {
    SteadyClock::time_point rendered;  // when render() was called
    PageBody text;
    PageBody gzip;  // null until asked for
  };
  struct Waiter {
    PageEncoding encoding;
    SteadyClock::time_point arrived;
    Deliver deliver;
  };

  void run();
  /// Whether `page` may answer a request that arrived at `arrived`.
  bool freshFor(const Page& page, SteadyClock::time_point arrived) const;

  const SteadyClock::duration cache_for_;
  const std::size_t max_waiting_;
  const Render render_;
  const Clock clock_;
  const PageCacheEvents events_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::shared_ptr<const Page> page_;  // mu_; the latest, null before the first render
  std::vector<Waiter> waiting_;       // mu_
  bool stopping_ = false;             // mu_
  std::thread thread_;                // mu_ to start; joined by the destructor
};

}  // namespace kubemetrics::exporters::prometheus
