// Staleness markers of the Prometheus parser (TargetParser, kept by its
// SeriesCache): which series get
// one, when, with what bits, labels and timestamp; across failed, abandoned
// and left-open scrapes, explicit timestamps and cache resets.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "common/scrape/target_parser.h"

namespace kubemetrics::scrape {
namespace {

// "name{k=v,...}" of a sample, for readable comparisons.
std::string seriesOf(const Sample& s) {
  std::string out = s.name.str() + "{";
  for (const Label& l : s.labels) out += l.name.str() + "=" + l.value.str() + ",";
  return out + "}";
}

std::set<std::string> markersOf(const SampleBatch& b) {
  std::set<std::string> out;
  for (const Sample& s : b.samples) {
    if (isStaleMarker(s.value)) out.insert(seriesOf(s));
  }
  return out;
}

// The markers in the order they were written.
std::vector<std::string> markerOrder(const SampleBatch& b) {
  std::vector<std::string> out;
  for (const Sample& s : b.samples) {
    if (isStaleMarker(s.value)) out.push_back(seriesOf(s));
  }
  return out;
}

// `n` series, in an order no hash table keeps: names and pods interleaved.
struct Series {
  std::string line;    // "m1{pod=\"37\"} 1\n"
  std::string marker;  // "m1{job=j,pod=37,tag=v1,}"
};
std::vector<Series> manySeries(int n, int first = 0, const std::string& prefix = "m") {
  std::vector<Series> out;
  for (int i = first; i < first + n; ++i) {
    const std::string name = prefix + std::to_string(i % 3);
    const std::string pod = std::to_string(i * 37 % 1009);
    out.push_back({name + "{pod=\"" + pod + "\"} 1\n", name + "{job=j,pod=" + pod + ",tag=v1,}"});
  }
  return out;
}

std::string bodyOf(const std::vector<Series>& series) {
  std::string body;
  for (const Series& s : series) body += s.line;
  return body;
}

std::vector<std::string> markersFor(const std::vector<Series>& series) {
  std::vector<std::string> out;
  for (const Series& s : series) out.push_back(s.marker);
  return out;
}

std::size_t valuesOf(const SampleBatch& b) {
  std::size_t n = 0;
  for (const Sample& s : b.samples) n += !isStaleMarker(s.value);
  return n;
}

// A parser whose labeler adds job="j" and the current `tag` (unless the
// series has its own `tag`, as an agent tag behaves).
class Scraper {
 public:
  explicit Scraper(SeriesCacheOptions options = {})
      : parser_(
            {},
            [this](const Symbol&, LabelsBuilder& scraped) {
              scraped.set("job", "j");
              if (scraped.get("tag").empty()) scraped.set("tag", tag);
              return scraped.build();
            },
            options) {}

  // A successful scrape of `body` (text format) at `ts`.
  SampleBatch ok(const std::string& body, std::int64_t ts) {
    SampleBatch out;
    parser_.begin(ExpositionFormat::kText, &out, ts);
    EXPECT_TRUE(parser_.feed(body));
    EXPECT_TRUE(parser_.finish());
    return out;
  }
  // A scrape that fails on `body`; its samples are dropped, then abandoned.
  SampleBatch failed(const std::string& body, std::int64_t ts) {
    SampleBatch out;
    parser_.begin(ExpositionFormat::kText, &out, ts);
    bool good = static_cast<bool>(parser_.feed(body));
    good = good && static_cast<bool>(parser_.finish());
    EXPECT_FALSE(good) << body;
    out.samples.clear();
    out.metadata.clear();
    parser_.abandon();
    return out;
  }

  // A scrape refused before its body (an HTTP error): begun, then abandoned.
  SampleBatch refused(ExpositionFormat format, std::int64_t ts) {
    SampleBatch out;
    parser_.begin(format, &out, ts);
    parser_.abandon();
    return out;
  }

  TargetParser& parser() { return parser_; }
  std::string tag = "v1";

 private:
  TargetParser parser_;
};

TEST(PrometheusStalenessTest, MarkerIsPrometheusStaleNaN) {
  EXPECT_EQ(std::bit_cast<std::uint64_t>(kStaleNaN), 0x7ff0000000000002ULL);
  EXPECT_TRUE(isStaleMarker(kStaleNaN));
  EXPECT_TRUE(std::isnan(kStaleNaN));
  EXPECT_FALSE(isStaleMarker(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_FALSE(isStaleMarker(std::bit_cast<double>(std::uint64_t{0x7ff8000000000001ULL})));
  EXPECT_FALSE(isStaleMarker(std::numeric_limits<double>::infinity()));
  EXPECT_FALSE(isStaleMarker(0.0));
  // A scraped NaN is a value, never a marker.
  SampleBatch b;
  ASSERT_TRUE(parseText("a NaN\nb nan\n", ExpositionFormat::kText, b));
  ASSERT_EQ(b.samples.size(), 2u);
  EXPECT_TRUE(std::isnan(b.samples[0].value));
  EXPECT_TRUE(markersOf(b).empty());
}

TEST(PrometheusStalenessTest, VanishedSeriesGetOneMarkerEach) {
  Scraper s;
  const SampleBatch first = s.ok("a 1\nb{x=\"1\"} 2\nb{x=\"2\"} 3\nc 4\n", 1000);
  EXPECT_TRUE(markersOf(first).empty());
  EXPECT_EQ(s.parser().stats().stale_markers, 0u);

  const SampleBatch second = s.ok("a 1\nb{x=\"2\"} 3\n", 2000);
  EXPECT_EQ(markersOf(second), (std::set<std::string>{"b{job=j,tag=v1,x=1,}", "c{job=j,tag=v1,}"}));
  EXPECT_EQ(s.parser().stats().stale_markers, 2u);
  EXPECT_EQ(s.parser().stats().samples, 2u);  // markers are not scraped samples
  ASSERT_EQ(second.samples.size(), 4u);
  for (std::size_t i = 2; i < 4; ++i) {
    const Sample& m = second.samples[i];
    EXPECT_EQ(std::bit_cast<std::uint64_t>(m.value), kStaleNaNBits);
    EXPECT_EQ(m.timestamp_ms, 2000);  // this scrape's time
    // The very label set the series had: the same interned handle.
    for (const Sample& before : first.samples) {
      if (before.name == m.name && before.labels.get("x") == m.labels.get("x")) {
        EXPECT_EQ(before.labels, m.labels);
      }
    }
  }

  // Once only.
  const SampleBatch third = s.ok("a 1\nb{x=\"2\"} 3\n", 3000);
  EXPECT_TRUE(markersOf(third).empty());
  EXPECT_EQ(s.parser().stats().stale_markers, 0u);
  const SampleBatch fourth = s.ok("a 1\nb{x=\"2\"} 3\n", 4000);
  EXPECT_TRUE(markersOf(fourth).empty());

  // A series that comes back is an ordinary series, and can vanish again.
  const SampleBatch back = s.ok("a 1\nb{x=\"2\"} 3\nc 5\n", 5000);
  EXPECT_TRUE(markersOf(back).empty());
  EXPECT_EQ(valuesOf(back), 3u);
  const SampleBatch again = s.ok("a 1\nb{x=\"2\"} 3\n", 6000);
  EXPECT_EQ(markersOf(again), (std::set<std::string>{"c{job=j,tag=v1,}"}));

  // Everything gone: an empty (successful) body marks every series.
  const SampleBatch empty = s.ok("# nothing\n", 7000);
  EXPECT_EQ(markersOf(empty), (std::set<std::string>{"a{job=j,tag=v1,}", "b{job=j,tag=v1,x=2,}"}));
}

TEST(PrometheusStalenessTest, SteadyScrapesWriteNoMarkers) {
  Scraper s;
  const std::string body = "a 1\nb 2\nb 2\nc{le=\"1\"} 3\n";  // b twice: one series
  for (int i = 0; i < 5; ++i) {
    const SampleBatch out = s.ok(body, 1000 * (i + 1));
    EXPECT_EQ(out.samples.size(), 4u);
    EXPECT_TRUE(markersOf(out).empty());
  }
  EXPECT_EQ(s.parser().cachedSeries(), 3u);
}

TEST(PrometheusStalenessTest, FailedScrapeMarksEveryKeptSeriesOnce) {
  Scraper s;
  s.ok("a 1\nb 2\n", 1000);
  // Fails after a sample of `a`: its samples are dropped, so `a` too is
  // marked, like `b`.
  const SampleBatch failed = s.failed("a 1\nb{ 2\n", 2000);
  EXPECT_EQ(markersOf(failed), (std::set<std::string>{"a{job=j,tag=v1,}", "b{job=j,tag=v1,}"}));
  EXPECT_EQ(s.parser().stats().stale_markers, 2u);
  for (const Sample& m : failed.samples) EXPECT_EQ(m.timestamp_ms, 2000);

  // A second failure has nothing left to mark.
  const SampleBatch failed_again = s.failed("a 1\nzzz\n", 3000);
  EXPECT_TRUE(failed_again.samples.empty());
  EXPECT_EQ(s.parser().stats().stale_markers, 0u);

  // Back: ordinary samples, and nothing to mark (the previous scrape kept nothing).
  const SampleBatch back = s.ok("a 1\n", 4000);
  EXPECT_TRUE(markersOf(back).empty());
  EXPECT_EQ(valuesOf(back), 1u);
  const SampleBatch gone = s.ok("", 5000);
  EXPECT_EQ(markersOf(gone), (std::set<std::string>{"a{job=j,tag=v1,}"}));
}

TEST(PrometheusStalenessTest, FailureBeforeAnyByteMarksThePreviousScrape) {
  // As when the target refuses the connection: begin() then abandon().
  Scraper s;
  s.ok("a 1\n", 1000);
  SampleBatch out;
  s.parser().begin(ExpositionFormat::kText, &out, 2000);
  s.parser().abandon();
  EXPECT_EQ(markersOf(out), (std::set<std::string>{"a{job=j,tag=v1,}"}));
  // abandon() of an ended scrape does nothing.
  s.parser().abandon();
  EXPECT_EQ(out.samples.size(), 1u);
}

TEST(PrometheusStalenessTest, ScrapeLeftOpenChangesNothing) {
  Scraper s;
  s.ok("a 1\nb 2\n", 1000);
  {
    SampleBatch out;
    s.parser().begin(ExpositionFormat::kText, &out, 2000);
    EXPECT_FALSE(s.parser().feed("a 1\nb{ 2\n"));
    // Neither finished nor abandoned.
  }
  const SampleBatch next = s.ok("a 1\n", 3000);
  EXPECT_EQ(markersOf(next), (std::set<std::string>{"b{job=j,tag=v1,}"}));
}

TEST(PrometheusStalenessTest, SeriesWithTheirOwnTimestampsAreNotMarked) {
  // Prometheus tracks staleness only for series stamped at scrape time.
  Scraper s;
  s.ok("a 1 500\nb 2\n", 1000);
  const SampleBatch out = s.ok("", 2000);
  EXPECT_EQ(markersOf(out), (std::set<std::string>{"b{job=j,tag=v1,}"}));
  // A series that gains a timestamp is not marked either.
  s.ok("c 1\n", 3000);
  s.ok("c 1 2500\n", 4000);
  EXPECT_TRUE(markersOf(s.ok("", 5000)).empty());
}

TEST(PrometheusStalenessTest, ClearedCacheStillMarksTheOldLabelSets) {
  Scraper s;
  const SampleBatch first = s.ok("a 1\nb 2\nown{tag=\"mine\"} 3\n", 1000);
  EXPECT_EQ(first.samples[0].labels.get("tag"), "v1");
  // The labeler's input changes (the agent's tags): every series but `own`
  // gets a new label set, so the old ones ended.
  s.tag = "v2";
  s.parser().clearCache();
  EXPECT_EQ(s.parser().cachedSeries(), 0u);
  const SampleBatch second = s.ok("a 1\nown{tag=\"mine\"} 3\n", 2000);
  EXPECT_EQ(markersOf(second), (std::set<std::string>{"a{job=j,tag=v1,}", "b{job=j,tag=v1,}"}));
  EXPECT_EQ(s.parser().stats().stale_markers, 2u);
  EXPECT_EQ(second.samples[0].labels.get("tag"), "v2");
  for (const Sample& m : second.samples) {
    if (isStaleMarker(m.value)) {
      EXPECT_EQ(m.timestamp_ms, 2000);
    }
  }
  // The markers are owed once; the new series are tracked as usual.
  EXPECT_TRUE(markersOf(s.ok("a 1\nown{tag=\"mine\"} 3\n", 3000)).empty());
  EXPECT_EQ(markersOf(s.ok("own{tag=\"mine\"} 3\n", 4000)),
            (std::set<std::string>{"a{job=j,tag=v2,}"}));
}

TEST(PrometheusStalenessTest, ClearedCacheThenFailureMarksEveryOldSeries) {
  Scraper s;
  s.ok("a 1\nown{tag=\"mine\"} 3\n", 1000);
  s.tag = "v2";
  s.parser().clearCache();
  const SampleBatch failed = s.failed("own{tag=\"mine\"} 3\na{\n", 2000);
  EXPECT_EQ(markersOf(failed), (std::set<std::string>{"a{job=j,tag=v1,}", "own{job=j,tag=mine,}"}));
  EXPECT_TRUE(markersOf(s.ok("a 1\n", 3000)).empty());
}

TEST(PrometheusStalenessTest, FormatChangeKeepsStaleness) {
  // A new grammar drops the cache, but the series keep their labels: only
  // the one that vanished is marked.
  Scraper s;
  s.ok("a 1\nb 2\n", 1000);
  SampleBatch out;
  s.parser().begin(ExpositionFormat::kOpenMetrics, &out, 2000);
  ASSERT_TRUE(s.parser().feed("a 1\n# EOF\n"));
  ASSERT_TRUE(s.parser().finish());
  EXPECT_EQ(markersOf(out), (std::set<std::string>{"b{job=j,tag=v1,}"}));
}

TEST(PrometheusStalenessTest, MarkersCanBeTurnedOff) {
  SeriesCacheOptions options;
  options.stale_markers = false;
  Scraper s(options);
  s.ok("a 1\nb 2\n", 1000);
  const SampleBatch out = s.ok("a 1\n", 2000);
  EXPECT_EQ(out.samples.size(), 1u);
  EXPECT_EQ(s.parser().stats().stale_markers, 0u);
}

TEST(PrometheusStalenessTest, EvictionStillBoundsTheCache) {
  // Churn: every scrape has new series; the old ones are marked once and
  // then leave the cache.
  Scraper s;
  std::size_t markers = 0;
  for (int i = 0; i < 20; ++i) {
    std::string body;
    for (int k = 0; k < 10; ++k) body += "m{i=\"" + std::to_string(i * 10 + k) + "\"} 1\n";
    markers += markersOf(s.ok(body, 1000 * (i + 1))).size();
    EXPECT_LE(s.parser().cachedSeries(), 30u);
  }
  EXPECT_EQ(markers, 190u);  // every series but the last scrape's
}

// Markers come in the order of the last kept scrape, not the cache's hash
// order: similar series next to each other compress better on the wire.
TEST(PrometheusStalenessTest, FailureMarksInTheOrderOfTheLastScrape) {
  Scraper s;
  std::vector<Series> series = manySeries(300);
  s.ok(bodyOf(series), 1000);
  EXPECT_EQ(markerOrder(s.failed("zzz\n", 2000)), markersFor(series));

  // The order is the last kept scrape's, by each series' first sample; a
  // steady scrape (the same series) changes only the order.
  s.ok(bodyOf(series), 3000);
  std::reverse(series.begin(), series.end());
  std::string body = bodyOf(series) + series.front().line;  // a second sample changes nothing
  EXPECT_TRUE(markerOrder(s.ok(body, 4000)).empty());
  EXPECT_EQ(markerOrder(s.refused(ExpositionFormat::kText, 5000)), markersFor(series));
}

TEST(PrometheusStalenessTest, VanishedSeriesAreMarkedInTheOrderOfTheLastScrape) {
  Scraper s;
  const std::vector<Series> first = manySeries(300);
  s.ok(bodyOf(first), 1000);
  // Every third series stays; new ones come in between; one series gets
  // its own timestamp (no marker for it later).
  std::vector<Series> kept, gone, second;
  for (std::size_t i = 0; i < first.size(); ++i) {
    (i % 3 == 0 ? kept : gone).push_back(first[i]);
    if (i % 3 == 0) second.push_back(first[i]);
    if (i % 5 == 0) second.push_back(manySeries(1, static_cast<int>(i), "new").front());
  }
  std::string body = "own_ts 1 1500\n" + bodyOf(second);
  EXPECT_EQ(markerOrder(s.ok(body, 2000)), markersFor(gone));
  // All gone: the second scrape's order.
  EXPECT_EQ(markerOrder(s.ok("", 3000)), markersFor(second));
}

TEST(PrometheusStalenessTest, ClearedCacheMarksInTheOrderOfTheLastScrape) {
  Scraper s;
  const std::vector<Series> series = manySeries(300);
  s.ok(bodyOf(series), 1000);
  s.tag = "v2";
  s.parser().clearCache();
  EXPECT_EQ(markerOrder(s.ok("", 2000)), markersFor(series));

  // The same after a failure, and with a second drop (a format change)
  // before the scrape ends.
  s.tag = "v1";
  s.ok(bodyOf(series), 3000);
  s.tag = "v2";
  s.parser().clearCache();
  EXPECT_EQ(markerOrder(s.refused(ExpositionFormat::kOpenMetrics, 4000)), markersFor(series));
}

TEST(PrometheusStalenessTest, ScrapesLeftOpenKeepTheMarkersOwed) {
  // Open scrapes evict the series they cannot mark; the live ones stay, and
  // so does their order.
  Scraper s;
  const std::vector<Series> series = manySeries(100);
  s.ok(bodyOf(series), 1000);
  for (int i = 0; i < 4; ++i) {
    SampleBatch out;
    s.parser().begin(ExpositionFormat::kText, &out, 2000 + i);
    ASSERT_TRUE(s.parser().feed(bodyOf(manySeries(50, 50 * i, "open"))));
  }
  EXPECT_LT(s.parser().cachedSeries(), 300u);
  EXPECT_EQ(markerOrder(s.failed("zzz\n", 9000)), markersFor(series));
}

}  // namespace
}  // namespace kubemetrics::scrape
