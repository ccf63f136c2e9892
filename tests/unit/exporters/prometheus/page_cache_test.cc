#include "exporters/prometheus/page_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/gzip.h"

namespace kubemetrics::exporters::prometheus {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A render that counts its calls and, while closed, blocks until opened, so
// a test can queue requests behind a render in progress.
class FakeRender {
 public:
  std::string operator()() {
    std::unique_lock<std::mutex> lock(mu_);
    ++started_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
    return "page " + std::to_string(started_) + "\n" + std::string(4096, 'x') + "\n";
  }
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Waits (at most 5 s) until `n` renders have started.
  bool waitStarted(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, seconds(5), [&] { return started_ >= n; });
  }
  int started() {
    std::lock_guard<std::mutex> lock(mu_);
    return started_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int started_ = 0;
};

// Collects delivered pages; waits for them with a bound.
class Deliveries {
 public:
  PageCache::Deliver sink() {
    return [this](PageBody body, PageEncoding encoding) {
      std::lock_guard<std::mutex> lock(mu_);
      bodies_.push_back(body ? *body : std::string("<null>"));
      encodings_.push_back(encoding);
      on_thread_.push_back(std::this_thread::get_id());
      cv_.notify_all();
    };
  }
  bool waitFor(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, seconds(5), [&] { return bodies_.size() >= n; });
  }
  std::size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_.size();
  }
  std::string body(std::size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_.at(i);
  }
  PageEncoding encoding(std::size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return encodings_.at(i);
  }
  std::thread::id thread(std::size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return on_thread_.at(i);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> bodies_;
  std::vector<PageEncoding> encodings_;
  std::vector<std::thread::id> on_thread_;
};

struct Counts {
  std::atomic<int> identity{0};
  std::atomic<int> gzip{0};
  std::atomic<int> hits{0};
  std::atomic<int> waited{0};
  std::atomic<int> refused{0};
  PageCacheEvents events() {
    PageCacheEvents e;
    e.encoded = [this](PageEncoding encoding, double, std::size_t) {
      ++(encoding == PageEncoding::kGzip ? gzip : identity);
    };
    e.hit = [this] { ++hits; };
    e.waited = [this] { ++waited; };
    e.refused = [this] { ++refused; };
    return e;
  }
};

class PageCacheTest : public ::testing::Test {
 protected:
  std::unique_ptr<PageCache> make(SteadyClock::duration cache_for, std::size_t max_waiting = 100) {
    return std::make_unique<PageCache>(
        cache_for, max_waiting, [this] { return render_(); },
        [this] { return SteadyClock::time_point(milliseconds(now_ms_.load())); }, counts_.events());
  }

  FakeRender render_;
  std::atomic<std::int64_t> now_ms_{1'000'000};
  Counts counts_;
  Deliveries delivered_;
};

TEST_F(PageCacheTest, ServesTheCachedPageWithinCacheForAndRendersAfter) {
  auto cache = make(seconds(1));
  ASSERT_TRUE(cache->request(PageEncoding::kIdentity, delivered_.sink()));
  ASSERT_TRUE(delivered_.waitFor(1));
  EXPECT_EQ(delivered_.body(0).substr(0, 7), "page 1\n");

  now_ms_ += 999;
  ASSERT_TRUE(cache->request(PageEncoding::kIdentity, delivered_.sink()));
  // A hit is answered on the caller's thread, before request() returns.
  ASSERT_EQ(delivered_.count(), 2u);
  EXPECT_EQ(delivered_.thread(1), std::this_thread::get_id());
  EXPECT_EQ(delivered_.body(1).substr(0, 7), "page 1\n");

  now_ms_ += 1;  // exactly cache_for old: stale
  ASSERT_TRUE(cache->request(PageEncoding::kIdentity, delivered_.sink()));
  ASSERT_TRUE(delivered_.waitFor(3));
  EXPECT_EQ(delivered_.body(2).substr(0, 7), "page 2\n");
  EXPECT_EQ(render_.started(), 2);
  EXPECT_EQ(counts_.identity.load(), 2);
  EXPECT_EQ(counts_.hits.load(), 1);
  EXPECT_EQ(counts_.waited.load(), 2);
}

TEST_F(PageCacheTest, ConcurrentRequestsShareOneRender) {
  auto cache = make(seconds(1));
  render_.close();
  ASSERT_TRUE(cache->request(PageEncoding::kIdentity, delivered_.sink()));
  ASSERT_TRUE(render_.waitStarted(1));
  std::vector<std::thread> scrapers;
  for (int i = 0; i < 20; ++i) {
    scrapers.emplace_back([&] { cache->request(PageEncoding::kIdentity, delivered_.sink()); });
  }
  for (auto& t : scrapers) t.join();
  render_.open();
  ASSERT_TRUE(delivered_.waitFor(21));
  EXPECT_EQ(render_.started(), 1);
  for (std::size_t i = 0; i < 21; ++i) EXPECT_EQ(delivered_.body(i).substr(0, 7), "page 1\n");
}

TEST_F(PageCacheTest, WithoutCachingRequestsQueuedDuringARenderShareTheNextOne) {
  auto cache = make(SteadyClock::duration::zero());
  render_.close();
  ASSERT_TRUE(cache->request(PageEncoding::kIdentity, delivered_.sink()));
  ASSERT_TRUE(render_.waitStarted(1));
  now_ms_ += 1;  // they arrive after the first render copied its series
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(cache->request(PageEncoding::kIdentity, delivered_.sink()));
  }
  render_.open();
  ASSERT_TRUE(delivered_.waitFor(11));
  EXPECT_EQ(render_.started(), 2);
  EXPECT_EQ(delivered_.body(0).substr(0, 7), "page 1\n");
  for (std::size_t i = 1; i < 11; ++i) EXPECT_EQ(delivered_.body(i).substr(0, 7), "page 2\n");
  EXPECT_EQ(counts_.hits.load(), 0);
}

TEST_F(PageCacheTest, GzipIsMadeOncePerPageWhenFirstAsked) {
  auto cache = make(seconds(1));
  ASSERT_TRUE(cache->request(PageEncoding::kIdentity, delivered_.sink()));
  ASSERT_TRUE(delivered_.waitFor(1));
  EXPECT_EQ(counts_.gzip.load(), 0);
  ASSERT_TRUE(cache->request(PageEncoding::kGzip, delivered_.sink()));
  ASSERT_TRUE(delivered_.waitFor(2));
  ASSERT_TRUE(cache->request(PageEncoding::kGzip, delivered_.sink()));
  ASSERT_TRUE(delivered_.waitFor(3));
  EXPECT_EQ(render_.started(), 1);
  EXPECT_EQ(counts_.gzip.load(), 1);
  EXPECT_EQ(delivered_.encoding(1), PageEncoding::kGzip);
  EXPECT_EQ(delivered_.encoding(2), PageEncoding::kGzip);
  EXPECT_EQ(testing::gunzip(delivered_.body(1)), delivered_.body(0));
  EXPECT_EQ(delivered_.body(2), delivered_.body(1));
  EXPECT_LT(delivered_.body(1).size(), delivered_.body(0).size() / 4);
}

TEST_F(PageCacheTest, RefusesBeyondMaxWaiting) {
  auto cache = make(seconds(1), /*max_waiting=*/3);
  render_.close();
  ASSERT_TRUE(cache->request(PageEncoding::kIdentity, delivered_.sink()));
  ASSERT_TRUE(render_.waitStarted(1));  // the render thread took it off the queue
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(cache->request(PageEncoding::kIdentity, delivered_.sink()));
  }
  bool called = false;
  EXPECT_FALSE(
      cache->request(PageEncoding::kIdentity, [&](PageBody, PageEncoding) { called = true; }));
  EXPECT_EQ(counts_.refused.load(), 1);
  render_.open();
  ASSERT_TRUE(delivered_.waitFor(4));
  EXPECT_FALSE(called);
  // Answered: the queue has room again.
  EXPECT_TRUE(cache->request(PageEncoding::kIdentity, delivered_.sink()));
}

TEST_F(PageCacheTest, DestructionDropsQueuedRequestsWithoutCallingThem) {
  auto cache = make(SteadyClock::duration::zero());
  render_.close();
  ASSERT_TRUE(cache->request(PageEncoding::kIdentity, delivered_.sink()));
  ASSERT_TRUE(render_.waitStarted(1));
  auto alive = std::make_shared<int>(0);
  ASSERT_TRUE(cache->request(PageEncoding::kIdentity, [alive, this](PageBody b, PageEncoding e) {
    delivered_.sink()(b, e);
  }));
  std::weak_ptr<int> watch = alive;
  alive.reset();
  std::thread opener([this, watch] {
    // The destructor drops the queued request before it waits for the render.
    for (int i = 0; i < 500 && !watch.expired(); ++i) std::this_thread::sleep_for(milliseconds(10));
    render_.open();
  });
  cache.reset();
  opener.join();
  EXPECT_EQ(render_.started(), 1);
  EXPECT_EQ(delivered_.count(), 1u);  // the render in progress still answers its batch
  EXPECT_TRUE(watch.expired());       // the queued one was dropped, not leaked
}

TEST_F(PageCacheTest, ARenderThatThrowsDeliversNoPageAndTheNextRequestRetries) {
  std::atomic<int> calls{0};
  PageCache cache(
      seconds(1), 10,
      [&]() -> std::string {
        if (++calls == 1) throw std::bad_alloc();
        return "ok\n";
      },
      [] { return SteadyClock::time_point(seconds(5)); }, {});
  ASSERT_TRUE(cache.request(PageEncoding::kIdentity, delivered_.sink()));
  ASSERT_TRUE(delivered_.waitFor(1));
  EXPECT_EQ(delivered_.body(0), "<null>");
  ASSERT_TRUE(cache.request(PageEncoding::kIdentity, delivered_.sink()));
  ASSERT_TRUE(delivered_.waitFor(2));
  EXPECT_EQ(delivered_.body(1), "ok\n");
}

TEST(PageCacheGzipTest, RoundTripsLargeAndEmptyPages) {
  std::string page;
  for (int i = 0; i < 200000; ++i) page += "m{pod=\"p" + std::to_string(i) + "\"} 1\n";
  EXPECT_EQ(testing::gunzip(PageCache::gzip(page)), page);
  EXPECT_EQ(testing::gunzip(PageCache::gzip("")), "");
}

}  // namespace
}  // namespace kubemetrics::exporters::prometheus
