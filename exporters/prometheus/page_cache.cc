#include "page_cache.h"

#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <limits>
#include <utility>

namespace kubemetrics::exporters::prometheus {
namespace {

constexpr int kGzipLevel = 1;
constexpr int kRenderNice = 10;
constexpr int kGzipWindowBits = 15 + 16;  // 16: the gzip wrapper, not zlib's

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void notify(const std::function<void()>& event) {
  if (event) event();
}

}  // namespace

PageCache::PageCache(SteadyClock::duration cache_for, std::size_t max_waiting, Render render,
                     Clock clock, PageCacheEvents events)
    : cache_for_(std::max(cache_for, SteadyClock::duration::zero())),
      max_waiting_(std::max<std::size_t>(max_waiting, 1)),
      render_(std::move(render)),
      clock_(clock ? std::move(clock) : Clock([] { return SteadyClock::now(); })),
      events_(std::move(events)) {}

PageCache::~PageCache() {
  std::thread thread;
  std::vector<Waiter> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    thread = std::move(thread_);
    dropped = std::move(waiting_);
  }
  // Outside the lock (a responder's destructor may close its connection),
  // and before the join, which waits for the render in progress.
  dropped.clear();
  wake_.notify_all();
  if (thread.joinable()) thread.join();
}

bool PageCache::freshFor(const Page& page, SteadyClock::time_point arrived) const {
  return arrived - page.rendered < cache_for_;
}

bool PageCache::request(PageEncoding encoding, Deliver deliver) {
  const SteadyClock::time_point now = clock_();
  std::shared_ptr<const Page> page;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (page_ && freshFor(*page_, now) && (encoding == PageEncoding::kIdentity || page_->gzip)) {
      page = page_;
    } else {
      if (stopping_ || waiting_.size() >= max_waiting_) {
        notify(events_.refused);
        return false;
      }
      waiting_.push_back(Waiter{encoding, now, std::move(deliver)});
      if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    }
  }
  if (!page) {
    notify(events_.waited);
    wake_.notify_one();
    return true;
  }
  notify(events_.hit);
  if (encoding == PageEncoding::kGzip) {
    deliver(page->gzip, PageEncoding::kGzip);
  } else {
    deliver(page->text, PageEncoding::kIdentity);
  }
  return true;
}

void PageCache::run() {
  // Renders and gzips are batch work; the server's io threads answering
  // /healthz must win the CPU over them (Linux: nice applies per thread).
  // Best effort: an error leaves the priority as it was.
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kRenderNice);
  for (;;) {
    std::vector<Waiter> batch;
    std::shared_ptr<const Page> page;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
      if (stopping_) return;
      batch.swap(waiting_);
      page = page_;
    }
    // One page for the whole batch: fresh enough for its earliest arrival
    // is fresh enough for every later one.
    SteadyClock::time_point earliest = batch.front().arrived;
    bool want_gzip = false;
    for (const Waiter& waiter : batch) {
      earliest = std::min(earliest, waiter.arrived);
      want_gzip = want_gzip || waiter.encoding == PageEncoding::kGzip;
    }
    if (!page || !freshFor(*page, earliest)) {
      auto fresh = std::make_shared<Page>();
      fresh->rendered = clock_();
      const auto started = std::chrono::steady_clock::now();
      try {
        fresh->text = std::make_shared<const std::string>(render_());
      } catch (const std::exception&) {
        // Out of memory, most likely: this batch gets no page (the handler
        // answers 500) and the next request tries again.
        for (Waiter& waiter : batch) waiter.deliver(nullptr, PageEncoding::kIdentity);
        continue;
      }
      if (events_.encoded) {
        events_.encoded(PageEncoding::kIdentity, secondsSince(started), fresh->text->size());
      }
      page = std::move(fresh);
    }
    if (want_gzip && !page->gzip) {
      const auto started = std::chrono::steady_clock::now();
      std::string compressed = gzip(*page->text);
      if (!compressed.empty()) {
        auto with_gzip = std::make_shared<Page>(*page);
        with_gzip->gzip = std::make_shared<const std::string>(std::move(compressed));
        if (events_.encoded) {
          events_.encoded(PageEncoding::kGzip, secondsSince(started), with_gzip->gzip->size());
        }
        page = std::move(with_gzip);
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      page_ = page;
    }
    for (Waiter& waiter : batch) {
      if (waiter.encoding == PageEncoding::kGzip && page->gzip) {
        waiter.deliver(page->gzip, PageEncoding::kGzip);
      } else {
        waiter.deliver(page->text, PageEncoding::kIdentity);
      }
    }
  }
}

std::string PageCache::gzip(const std::string& text) {
  z_stream zs{};
  if (deflateInit2(&zs, kGzipLevel, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return {};
  }
  // Metrics text compresses 6-10x; start at 1/8 and grow by half, so the
  // buffer ends near the compressed size instead of zlib's worst case.
  std::string out(std::max<std::size_t>(text.size() / 8, 4096), '\0');
  constexpr std::size_t kSlice = std::numeric_limits<uInt>::max();
  std::size_t fed = 0;
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (zs.avail_in == 0 && fed < text.size()) {
      const std::size_t n = std::min(text.size() - fed, kSlice);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data() + fed));
      zs.avail_in = static_cast<uInt>(n);
      fed += n;
    }
    if (zs.total_out == out.size()) out.resize(out.size() + out.size() / 2);
    const std::size_t room = std::min<std::size_t>(out.size() - zs.total_out, kSlice);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + zs.total_out);
    zs.avail_out = static_cast<uInt>(room);
    rc = deflate(&zs, fed == text.size() ? Z_FINISH : Z_NO_FLUSH);
  }
  const std::size_t produced = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return {};
  out.resize(produced);
  out.shrink_to_fit();
  return out;
}

}  // namespace kubemetrics::exporters::prometheus
