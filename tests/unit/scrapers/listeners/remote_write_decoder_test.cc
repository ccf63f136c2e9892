#include "scrapers/listeners/remote_write_decoder.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <vector>

// Largest single allocation since the last reset, to check that an
// oversized snappy preamble is refused before anything is allocated. The
// replacements pair malloc with free; GCC sees only the new/free halves
// where it inlines them into other code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<std::size_t> largest_allocation{0};
}  // namespace

void* operator new(std::size_t n) {
  std::size_t seen = largest_allocation.load(std::memory_order_relaxed);
  while (n > seen && !largest_allocation.compare_exchange_weak(seen, n)) {
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace kubemetrics::scrapers::listeners {
namespace {

// A protobuf writer for hand-made requests, after the encoding guide
// (https://protobuf.dev/programming-guides/encoding/), so the tests can
// build what no well-behaved encoder writes: fields out of order, unknown
// fields, groups, bad wire types, overlong varints.
struct Pb {
  std::string bytes;

  Pb& varint(std::uint64_t v) {
    while (v >= 0x80) {
      bytes.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    bytes.push_back(static_cast<char>(v));
    return *this;
  }
  Pb& tag(std::uint32_t field, int type) { return varint((std::uint64_t{field} << 3) | type); }
  Pb& len(std::uint32_t field, std::string_view payload) {
    tag(field, 2).varint(payload.size());
    bytes.append(payload);
    return *this;
  }
  Pb& fixed64(std::uint32_t field, std::uint64_t v) {
    tag(field, 1);
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>(v >> (8 * i)));
    return *this;
  }
  Pb& raw(std::string_view b) {
    bytes.append(b);
    return *this;
  }
};

std::string label(std::string_view name, std::string_view value) {
  return Pb().len(1, name).len(2, value).bytes;
}

std::string sample(double value, std::int64_t ts) {
  return Pb().fixed64(1, std::bit_cast<std::uint64_t>(value)).tag(2, 0).varint(ts).bytes;
}

using LabelList = std::vector<std::pair<std::string, std::string>>;

std::string series(const LabelList& labels, const std::vector<std::pair<double, std::int64_t>>& s) {
  Pb pb;
  for (const auto& [n, v] : labels) pb.len(1, label(n, v));
  for (const auto& [v, t] : s) pb.len(2, sample(v, t));
  return pb.bytes;
}

std::string request(const std::vector<std::string>& all_series) {
  Pb pb;
  for (const std::string& s : all_series) pb.len(1, s);
  return pb.bytes;
}

std::string snappy(std::string_view raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

LabelList labelsOf(const Sample& s) {
  LabelList out;
  for (const Label& l : s.labels) out.emplace_back(l.name.str(), l.value.str());
  return out;
}

TEST(RemoteWriteDecoderTest, DecodesSeriesIntoSamples) {
  const std::string body = snappy(request({
      series({{"__name__", "http_requests_total"}, {"code", "200"}, {"job", "api"}},
             {{1, 1000}, {2.5, 2000}}),
      series({{"__name__", "up"}, {"instance", "10.0.0.1:9100"}}, {{1, 1764000000000}}),
  }));
  RemoteWriteDecoder decoder;
  std::vector<Sample> out;
  auto stats = decoder.decode(body, out);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->series, 2u);
  EXPECT_EQ(stats->samples, 3u);
  EXPECT_EQ(stats->rejected_series, 0u);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].name.view(), "http_requests_total");
  EXPECT_EQ(labelsOf(out[0]), (LabelList{{"code", "200"}, {"job", "api"}}));
  EXPECT_EQ(out[0].value, 1);
  EXPECT_EQ(out[0].timestamp_ms, 1000);
  EXPECT_EQ(out[1].value, 2.5);
  EXPECT_EQ(out[1].timestamp_ms, 2000);
  EXPECT_EQ(out[1].labels, out[0].labels);
  EXPECT_EQ(out[2].name.view(), "up");
  EXPECT_EQ(labelsOf(out[2]), (LabelList{{"instance", "10.0.0.1:9100"}}));
  EXPECT_EQ(out[2].timestamp_ms, 1764000000000);
}

TEST(RemoteWriteDecoderTest, KeepsSpecialValuesBitForBitAndNegativeTimestamps) {
  const double values[] = {kStaleNaN,
                           std::numeric_limits<double>::quiet_NaN(),
                           std::bit_cast<double>(0x7ff8000000000001ULL),  // Prometheus' NormalNaN
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           -0.0,
                           std::numeric_limits<double>::denorm_min()};
  std::vector<std::pair<double, std::int64_t>> points;
  std::int64_t ts = -5;
  for (double v : values) points.emplace_back(v, ts++);
  points.emplace_back(1, std::numeric_limits<std::int64_t>::min());
  points.emplace_back(1, std::numeric_limits<std::int64_t>::max());
  RemoteWriteDecoder decoder;
  std::vector<Sample> out;
  ASSERT_TRUE(decoder.decode(snappy(request({series({{"__name__", "m"}}, points)})), out));
  ASSERT_EQ(out.size(), points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    EXPECT_EQ(std::bit_cast<std::uint64_t>(out[i].value),
              std::bit_cast<std::uint64_t>(points[i].first))
        << i;
    EXPECT_EQ(out[i].timestamp_ms, points[i].second) << i;
  }
  EXPECT_TRUE(isStaleMarker(out[0].value));
  EXPECT_FALSE(isStaleMarker(out[1].value));
}

TEST(RemoteWriteDecoderTest, AbsentFieldsAreTheirDefaults) {
  // proto3 leaves out zero values: an empty Sample is value 0 at time 0.
  const std::string raw = request({Pb().len(1, label("__name__", "m")).len(2, "").bytes});
  RemoteWriteDecoder decoder;
  std::vector<Sample> out;
  ASSERT_TRUE(decoder.decodeUncompressed(raw, out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(out[0].value), 0u);
  EXPECT_EQ(out[0].timestamp_ms, 0);
}

TEST(RemoteWriteDecoderTest, AcceptsFieldsInAnyOrderAndRepeatedScalarsLastWins) {
  // Samples before labels, a Label with value before name, a Sample with
  // timestamp first and its value given twice: all legal protobuf.
  const std::string ts = Pb().len(2, Pb().tag(2, 0)
                                         .varint(7)
                                         .fixed64(1, std::bit_cast<std::uint64_t>(1.0))
                                         .fixed64(1, std::bit_cast<std::uint64_t>(3.0))
                                         .bytes)
                             .len(1, Pb().len(2, "b").len(1, "zone").bytes)
                             .len(1, label("__name__", "m"))
                             .len(1, Pb().len(1, "x").len(2, "old").len(2, "new").bytes)
                             .bytes;
  RemoteWriteDecoder decoder;
  std::vector<Sample> out;
  auto stats = decoder.decodeUncompressed(request({ts}), out);
  ASSERT_TRUE(stats) << stats.error().message();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name.view(), "m");
  EXPECT_EQ(labelsOf(out[0]), (LabelList{{"x", "new"}, {"zone", "b"}}));
  EXPECT_EQ(out[0].value, 3.0);
  EXPECT_EQ(out[0].timestamp_ms, 7);
}

TEST(RemoteWriteDecoderTest, DropsLabelsWithEmptyValues) {
  RemoteWriteDecoder decoder;
  std::vector<Sample> out;
  ASSERT_TRUE(decoder.decodeUncompressed(
      request({series({{"__name__", "m"}, {"empty", ""}, {"job", "a"}}, {{1, 1}})}), out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(labelsOf(out[0]), (LabelList{{"job", "a"}}));
}

TEST(RemoteWriteDecoderTest, SkipsUnknownFieldsOfEveryWireType) {
  // Each level gets an unknown field of every wire type, a nested group
  // included, before and after the known ones.
  const auto unknowns = [](std::uint32_t field) {
    return Pb()
        .tag(field, 0)
        .varint(std::numeric_limits<std::uint64_t>::max())
        .fixed64(field + 1, 42)
        .len(field + 2, "ignored bytes")
        .tag(field + 3, 5)
        .raw(std::string(4, '\x7f'))
        .tag(field + 4, 3)  // group { varint, group { len } }
        .tag(1, 0)
        .varint(1)
        .tag(2, 3)
        .len(3, "in")
        .tag(2, 4)
        .tag(field + 4, 4)
        .bytes;
  };
  const std::string labels = unknowns(10) + label("__name__", "m") + unknowns(20);
  const std::string name_label = Pb().raw(unknowns(5)).len(1, "job").len(2, "a").bytes;
  const std::string one_sample = unknowns(7) + sample(4, 40) + unknowns(30);
  const std::string ts = Pb().raw(unknowns(100))
                             .len(1, labels)
                             .len(1, name_label)
                             .len(2, one_sample)
                             .raw(unknowns(200))
                             .bytes;
  const std::string raw = unknowns(1000) + Pb().len(1, ts).bytes + unknowns(4);
  RemoteWriteDecoder decoder;
  std::vector<Sample> out;
  auto stats = decoder.decodeUncompressed(raw, out);
  ASSERT_TRUE(stats) << stats.error().message();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name.view(), "m");
  EXPECT_EQ(labelsOf(out[0]), (LabelList{{"job", "a"}}));
  EXPECT_EQ(out[0].value, 4);
  EXPECT_EQ(out[0].timestamp_ms, 40);
}

TEST(RemoteWriteDecoderTest, CountsAndSkipsHistogramsExemplarsAndMetadata) {
  const std::string ts = Pb().len(1, label("__name__", "latency"))
                             .len(2, sample(1, 1))
                             .len(3, Pb().len(1, label("trace_id", "abc")).bytes)  // exemplar
                             .len(3, "")
                             .len(4, Pb().tag(1, 0).varint(5).bytes)  // native histogram
                             .bytes;
  const std::string only_histogram =
      Pb().len(1, label("__name__", "h")).len(4, Pb().tag(1, 0).varint(5).bytes).bytes;
  const std::string raw = Pb().len(1, ts)
                              .len(3, Pb().tag(1, 0).varint(1).len(2, "latency").bytes)
                              .len(1, only_histogram)
                              .bytes;
  RemoteWriteDecoder decoder;
  std::vector<Sample> out;
  auto stats = decoder.decodeUncompressed(raw, out);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(stats->series, 2u);
  EXPECT_EQ(stats->samples, 1u);
  EXPECT_EQ(stats->ignored_exemplars, 2u);
  EXPECT_EQ(stats->ignored_histograms, 2u);
  EXPECT_EQ(stats->ignored_metadata, 1u);
}

TEST(RemoteWriteDecoderTest, RejectsBadSeriesAloneAndCountsThem) {
  WriteDecodeLimits limits;
  limits.max_labels_per_series = 4;
  RemoteWriteDecoder decoder(limits);
  const std::string good = series({{"__name__", "ok"}, {"i", "1"}}, {{1, 1}});
  const std::string raw = request({
      good,
      series({{"job", "no-name"}}, {{1, 1}}),
      series({{"__name__", ""}, {"job", "empty-name"}}, {{1, 1}, {2, 2}}),
      series({{"__name__", "m"}, {"", "empty label name"}}, {{1, 1}}),
      series({{"__name__", "m"}, {"job", "a"}, {"job", "b"}}, {{1, 1}}),
      series({{"job", "a"}, {"__name__", "m"}, {"job", "a"}}, {{1, 1}}),  // unsorted duplicate
      series({{"__name__", "m"}, {"bad\xff", "x"}}, {{1, 1}}),
      series({{"__name__", "m"}, {"v", "\xc0\xaf"}}, {{1, 1}}),  // overlong '/'
      series({{"__name__", "m\xed\xa0\x80"}}, {{1, 1}}),         // a surrogate
      series({{"__name__", "m"}, {"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}}, {{1, 1}}),
      series({{"__name__", "ok"}, {"i", "2"}, {"unicode", "gr\xc3\xbc\xc3\x9f"}}, {{2, 2}}),
  });
  std::vector<Sample> out;
  auto stats = decoder.decodeUncompressed(raw, out);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->series, 2u);
  EXPECT_EQ(stats->samples, 2u);
  EXPECT_EQ(stats->rejected_series, 9u);
  EXPECT_EQ(stats->rejected_samples, 10u);
  EXPECT_EQ(stats->rejected_no_name, 2u);
  EXPECT_EQ(stats->rejected_bad_label_name, 3u);
  EXPECT_EQ(stats->rejected_invalid_utf8, 3u);
  EXPECT_EQ(stats->rejected_too_many_labels, 1u);
  // The first rejected series starts after the good one (tag + length).
  const std::size_t second_at = 1 + 1 + good.size();
  EXPECT_EQ(stats->first_rejection,
            "TimeSeries at byte " + std::to_string(second_at + 2) + " rejected: no __name__ label");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(labelsOf(out[0]), (LabelList{{"i", "1"}}));
  EXPECT_EQ(labelsOf(out[1]), (LabelList{{"i", "2"}, {"unicode", "gr\xc3\xbc\xc3\x9f"}}));
}

TEST(RemoteWriteDecoderTest, CachedSeriesDecodeAsTheFirstTime) {
  // The second request hits the series cache; a decoder without one, and
  // series whose label bytes differ by one byte or are not contiguous (not
  // cached), must give the same samples.
  const std::string raw = request({
      series({{"__name__", "m"}, {"job", "a"}}, {{1, 1}}),
      series({{"__name__", "m"}, {"job", "b"}}, {{2, 2}}),
      Pb().len(1, label("__name__", "m")).len(2, sample(3, 3)).len(1, label("job", "c")).bytes,
      series({{"job", "no-name"}}, {{4, 4}}),
  });
  WriteDecodeLimits no_cache;
  no_cache.cached_series = 0;
  RemoteWriteDecoder cached, uncached(no_cache);
  std::vector<Sample> expected;
  ASSERT_TRUE(uncached.decodeUncompressed(raw, expected));
  ASSERT_EQ(expected.size(), 3u);
  for (int round = 0; round < 3; ++round) {
    std::vector<Sample> out;
    auto stats = cached.decodeUncompressed(raw, out);
    ASSERT_TRUE(stats) << stats.error().message();
    EXPECT_EQ(stats->series, 3u);
    EXPECT_EQ(stats->rejected_series, 1u) << "rejections are never cached";
    ASSERT_EQ(out.size(), expected.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      EXPECT_EQ(out[i].name, expected[i].name) << round << " " << i;
      EXPECT_EQ(out[i].labels, expected[i].labels) << round << " " << i;
      EXPECT_EQ(out[i].value, expected[i].value);
      EXPECT_EQ(out[i].timestamp_ms, expected[i].timestamp_ms);
    }
  }
  EXPECT_EQ(labelsOf(expected[2]), (LabelList{{"job", "c"}}));
}

TEST(RemoteWriteDecoderTest, DecodersSharingACacheLearnASeriesOnce) {
  // The listener's decoders share one cache: what one decoded, the other
  // resolves from it (nothing added), with the same samples.
  const std::string raw = request({
      series({{"__name__", "m"}, {"job", "a"}}, {{1, 1}}),
      series({{"__name__", "m"}, {"job", "b"}}, {{2, 2}}),
  });
  auto cache = std::make_shared<SharedSeriesLabelCache>(4096, 4096 * 256);
  RemoteWriteDecoder first({}, cache), second({}, cache);
  std::vector<Sample> from_first, from_second;
  ASSERT_TRUE(first.decodeUncompressed(raw, from_first));
  EXPECT_EQ(cache->size(), 2u);
  ASSERT_TRUE(second.decodeUncompressed(raw, from_second));
  EXPECT_EQ(cache->size(), 2u);
  ASSERT_EQ(from_second.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(from_second[i].name, from_first[i].name);
    EXPECT_EQ(from_second[i].labels, from_first[i].labels);
    EXPECT_EQ(from_second[i].value, from_first[i].value);
  }
  EXPECT_EQ(labelsOf(from_second[1]), (LabelList{{"job", "b"}}));
}

AgentTags::Snapshot tagsSnapshot(std::uint64_t version, const LabelList& tags) {
  AgentTags::Snapshot snapshot;
  snapshot.version = version;
  for (const auto& [name, value] : tags) {
    snapshot.tags.push_back(Label{Symbol::intern(name), Symbol::intern(value)});
  }
  return snapshot;
}

TEST(RemoteWriteDecoderTest, AddsTheAgentsTagsAndCachesTheTaggedSeries) {
  const std::string raw = request({
      series({{"__name__", "m"}, {"job", "a"}}, {{1, 1}}),
      series({{"__name__", "m"}, {"cluster", "own"}, {"job", "b"}}, {{2, 2}}),
  });
  auto cache = std::make_shared<SharedSeriesLabelCache>(4096, 4096 * 256);
  RemoteWriteDecoder decoder({}, cache);
  const AgentTags::Snapshot v1 = tagsSnapshot(1, {{"cluster", "prod"}, {"node", "n1"}});
  // The second round resolves both series from the cache, tagged as the first.
  for (int round = 0; round < 2; ++round) {
    std::vector<Sample> out;
    ASSERT_TRUE(decoder.decodeUncompressed(raw, out, &v1));
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(labelsOf(out[0]), (LabelList{{"cluster", "prod"}, {"job", "a"}, {"node", "n1"}}))
        << round;
    // A label the series has wins, as in the pipeline's Tagger.
    EXPECT_EQ(labelsOf(out[1]), (LabelList{{"cluster", "own"}, {"job", "b"}, {"node", "n1"}}))
        << round;
    EXPECT_EQ(cache->size(), 2u);
  }
  // New tags: the cached series carry the old ones, so they are parsed again.
  const AgentTags::Snapshot v2 = tagsSnapshot(2, {{"cluster", "prod"}, {"node", "n2"}});
  std::vector<Sample> out;
  ASSERT_TRUE(decoder.decodeUncompressed(raw, out, &v2));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(labelsOf(out[0]), (LabelList{{"cluster", "prod"}, {"job", "a"}, {"node", "n2"}}));
  // Untagged decoding never takes a tagged entry.
  out.clear();
  ASSERT_TRUE(decoder.decodeUncompressed(raw, out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(labelsOf(out[0]), (LabelList{{"job", "a"}}));
}

TEST(RemoteWriteDecoderTest, ResolvesLargeRequestsInOrderChunkByChunk) {
  // The decoder reads series in chunks (of 1,024) before resolving them:
  // order, rejections and a failure after a resolved chunk must be as if
  // it went series by series.
  std::vector<std::string> all;
  for (int i = 0; i < 2500; ++i) {
    if (i % 700 == 699) {
      all.push_back(series({{"job", "no-name-" + std::to_string(i)}}, {{1, i}}));
    } else {
      all.push_back(series({{"__name__", "m" + std::to_string(i % 7)}, {"i", std::to_string(i)}},
                           {{static_cast<double>(i), i}, {static_cast<double>(i), i + 1}}));
    }
  }
  const std::string raw = request(all);
  WriteDecodeLimits no_cache;
  no_cache.cached_series = 0;
  RemoteWriteDecoder cached, uncached(no_cache);
  for (int round = 0; round < 2; ++round) {  // round 1 hits the cache
    for (RemoteWriteDecoder* decoder : {&uncached, &cached}) {
      std::vector<Sample> out;
      auto stats = decoder->decodeUncompressed(raw, out);
      ASSERT_TRUE(stats) << stats.error().message();
      EXPECT_EQ(stats->series, 2497u);
      EXPECT_EQ(stats->rejected_series, 3u);
      EXPECT_EQ(stats->rejected_samples, 3u);
      ASSERT_EQ(out.size(), 2 * 2497u);
      std::size_t at = 0;
      for (int i = 0; i < 2500; ++i) {
        if (i % 700 == 699) continue;
        for (int k = 0; k < 2; ++k, ++at) {
          EXPECT_EQ(out[at].name.view(), "m" + std::to_string(i % 7)) << round << " " << i;
          EXPECT_EQ(labelsOf(out[at]), (LabelList{{"i", std::to_string(i)}})) << round << " " << i;
          EXPECT_EQ(out[at].timestamp_ms, i + k);
        }
      }
    }
  }
  // A request that breaks after two resolved chunks leaves `out` as it was.
  std::vector<Sample> out = {Sample{Symbol::intern("before"), {}, 1, 1}};
  auto result = cached.decodeUncompressed(raw + "\x0a\x05", out);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name.view(), "before");
}

// ---- request errors --------------------------------------------------------

struct Failure {
  ErrorCode code;
  std::string message;
};

Failure decodeFailure(RemoteWriteDecoder& decoder, std::string_view raw, bool compressed) {
  // `out` holds a sample already: a failed decode must leave it as it was.
  std::vector<Sample> out = {Sample{Symbol::intern("before"), {}, 1, 1}};
  auto result = compressed ? decoder.decode(raw, out) : decoder.decodeUncompressed(raw, out);
  EXPECT_FALSE(result);
  EXPECT_EQ(out.size(), 1u);
  if (!out.empty()) {
    EXPECT_EQ(out[0].name.view(), "before");
  }
  if (result) return {ErrorCode::kInternal, "decoded"};
  return {result.error().code(), result.error().message()};
}

TEST(RemoteWriteDecoderTest, RefusesWhatIsNotSnappy) {
  RemoteWriteDecoder decoder;
  // No valid preamble: a varint that never ends.
  Failure f = decodeFailure(decoder, std::string(8, '\xff'), true);
  EXPECT_EQ(f.code, ErrorCode::kInvalidArgument);
  EXPECT_NE(f.message.find("not a snappy block"), std::string::npos) << f.message;
  // A valid preamble, then garbage: corrupt block.
  std::string corrupt = snappy(request({series({{"__name__", "m"}}, {{1, 1}})}));
  corrupt.resize(corrupt.size() - 3);
  f = decodeFailure(decoder, corrupt, true);
  EXPECT_EQ(f.code, ErrorCode::kInvalidArgument);
  EXPECT_NE(f.message.find("corrupt snappy block"), std::string::npos) << f.message;
  // Plain protobuf, uncompressed, as a sender that forgot snappy sends.
  f = decodeFailure(decoder, request({series({{"__name__", "m"}}, {{1, 1}})}), true);
  EXPECT_EQ(f.code, ErrorCode::kInvalidArgument);
}

TEST(RemoteWriteDecoderTest, RefusesAnOversizedBlockBeforeAllocating) {
  WriteDecodeLimits limits;
  limits.max_uncompressed_bytes = 1 << 20;
  RemoteWriteDecoder decoder(limits);
  // Only a preamble declaring 3 GiB: a decoder that trusted it would
  // allocate 3 GiB before finding the body empty.
  const std::string claim = Pb().varint(3ULL << 30).bytes;
  std::vector<Sample> out;
  largest_allocation = 0;
  auto result = decoder.decode(claim, out);
  const std::size_t largest = largest_allocation.load();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(result.error().message().find("3221225472"), std::string::npos)
      << result.error().message();
  EXPECT_LT(largest, std::size_t{4096});
  // Just over the limit with a real body; just at it goes through.
  const std::string big_value((1 << 20) - 40, 'v');
  const std::string over = request({series({{"__name__", "m"}, {"v", big_value}}, {{1, 1}})});
  ASSERT_GT(over.size(), limits.max_uncompressed_bytes);
  EXPECT_EQ(decodeFailure(decoder, snappy(over), true).code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(decodeFailure(decoder, over, false).code, ErrorCode::kResourceExhausted);
  const std::string fits = request(
      {series({{"__name__", "m"}, {"v", big_value.substr(0, big_value.size() - 100)}}, {{1, 1}})});
  ASSERT_LE(fits.size(), limits.max_uncompressed_bytes);
  EXPECT_TRUE(decoder.decode(snappy(fits), out));
}

TEST(RemoteWriteDecoderTest, RefusesMoreThanMaxSamples) {
  WriteDecodeLimits limits;
  limits.max_samples = 3;
  RemoteWriteDecoder decoder(limits);
  const std::string two = series({{"__name__", "m"}}, {{1, 1}, {2, 2}});
  std::vector<Sample> out;
  ASSERT_TRUE(
      decoder.decodeUncompressed(request({two, series({{"__name__", "n"}}, {{1, 1}})}), out));
  EXPECT_EQ(out.size(), 3u);
  // Rejected series count too: their samples cost the decoding.
  const Failure f =
      decodeFailure(decoder, request({series({{"job", "no-name"}}, {{1, 1}, {2, 2}}), two}), false);
  EXPECT_EQ(f.code, ErrorCode::kResourceExhausted);
  EXPECT_NE(f.message.find("more than 3 samples"), std::string::npos) << f.message;
}

TEST(RemoteWriteDecoderTest, RefusesTruncatedRequestsAtEveryCut) {
  // Every proper prefix either ends on a series boundary (a shorter valid
  // request) or fails as invalid; none crashes or reads past its end.
  const std::string raw = request({series({{"__name__", "m"}, {"job", "a"}}, {{1.5, -3}}),
                                   series({{"__name__", "n"}}, {{2, 99999999999}})});
  const std::size_t first_end = 2 + series({{"__name__", "m"}, {"job", "a"}}, {{1.5, -3}}).size();
  RemoteWriteDecoder decoder;
  for (std::size_t cut = 0; cut < raw.size(); ++cut) {
    std::vector<Sample> out;
    auto result = decoder.decodeUncompressed(std::string(raw.substr(0, cut)), out);
    if (cut == 0 || cut == first_end) {
      EXPECT_TRUE(result) << cut;
      continue;
    }
    ASSERT_FALSE(result) << "cut at " << cut;
    EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_TRUE(out.empty());
  }
}

TEST(RemoteWriteDecoderTest, NamesWhatIsWrongAndWhere) {
  RemoteWriteDecoder decoder;
  const std::string good = Pb().len(1, series({{"__name__", "m"}}, {{1, 1}})).bytes;
  const std::size_t at = good.size();
  struct Case {
    const char* what;
    std::string raw;
    std::string expected;  // part of the message
  };
  const Case cases[] = {
      {"length past the end", good + Pb().tag(1, 2).varint(100).raw("short").bytes,
       "declared length past the end of the message in WriteRequest.timeseries at byte " +
           std::to_string(at)},
      {"timeseries as a varint", good + Pb().tag(1, 0).varint(1).bytes,
       "wrong wire type for the field in WriteRequest at byte " + std::to_string(at)},
      {"sample value as a varint",
       good +
           Pb().len(
                   1,
                   Pb().len(1, label("__name__", "m")).len(2, Pb().tag(1, 0).varint(1).bytes).bytes)
               .bytes,
       "wrong wire type for the field in Sample at byte " + std::to_string(at + 2 + 15 + 2)},
      {"timestamp as fixed64",
       good + Pb().len(1, Pb().len(2, Pb().fixed64(2, 1).bytes).bytes).bytes,
       "wrong wire type for the field in Sample at byte " + std::to_string(at + 4)},
      {"label name as a fixed32",
       good + Pb().len(1, Pb().len(1, Pb().tag(1, 5).raw("abcd").bytes).bytes).bytes,
       "wrong wire type for the field in Label at byte " + std::to_string(at + 4)},
      {"samples as a group", good + Pb().len(1, Pb().tag(2, 3).tag(2, 4).bytes).bytes,
       "wrong wire type for the field in TimeSeries at byte " + std::to_string(at + 2)},
      {"11-byte varint", good + Pb().tag(9, 0).raw(std::string(10, '\x80')).raw("\x01").bytes,
       "varint overflow (over 10 bytes or 64 bits) in WriteRequest (unknown field) at byte " +
           std::to_string(at)},
      {"varint beyond 64 bits", good + Pb().tag(9, 0).raw(std::string(9, '\xff')).raw("\x02").bytes,
       "varint overflow"},
      {"length varint overflows",
       good + Pb().tag(1, 2).raw(std::string(10, '\xff')).raw("\x01").bytes, "varint overflow"},
      {"timestamp truncated", good + Pb().len(1, Pb().len(2, "\x10\x80").bytes).bytes,
       "truncated field in Sample.timestamp at byte " + std::to_string(at + 4)},
      {"value truncated", good + Pb().len(1, Pb().len(2, "\x09\x01\x02").bytes).bytes,
       "truncated field in Sample.value at byte " + std::to_string(at + 4)},
      {"wire type 7", good + Pb().tag(5, 7).bytes,
       "invalid wire type (6 or 7) in WriteRequest at byte " + std::to_string(at)},
      {"wire type 6 in a label", good + Pb().len(1, Pb().len(1, Pb().tag(3, 6).bytes).bytes).bytes,
       "invalid wire type (6 or 7) in Label"},
      {"field 0", good + Pb().tag(0, 0).varint(1).bytes, "field number 0 in WriteRequest"},
      {"lone end-group", good + Pb().tag(7, 4).bytes, "unmatched end-group"},
      {"mismatched end-group", good + Pb().tag(7, 3).tag(8, 4).bytes, "unmatched end-group"},
      {"unterminated group", good + Pb().tag(7, 3).tag(1, 0).varint(1).bytes, "truncated field"},
      {"groups too deep",
       good +
           [] {
             Pb pb;
             for (int i = 0; i < 200; ++i) pb.tag(7, 3);
             return pb.bytes;
           }(),
       "groups nested too deep"},
  };
  for (const Case& c : cases) {
    const Failure f = decodeFailure(decoder, c.raw, false);
    EXPECT_EQ(f.code, ErrorCode::kInvalidArgument) << c.what;
    EXPECT_NE(f.message.find(c.expected), std::string::npos) << c.what << ": " << f.message;
    // Through snappy too: the same error, the same offsets.
    const Failure g = decodeFailure(decoder, snappy(c.raw), true);
    EXPECT_EQ(g.message, f.message) << c.what;
  }
}

TEST(RemoteWriteDecoderTest, ReusesItselfAcrossRequests) {
  // A failed request leaves nothing behind for the next one.
  RemoteWriteDecoder decoder;
  std::vector<Sample> out;
  ASSERT_FALSE(decoder.decodeUncompressed(request({"\x0a\x05"}), out));
  auto stats = decoder.decodeUncompressed(
      request({series({{"__name__", "m"}, {"job", "a"}}, {{1, 1}})}), out);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->series, 1u);
  EXPECT_EQ(stats->rejected_series, 0u);
  EXPECT_TRUE(stats->first_rejection.empty());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(labelsOf(out[0]), (LabelList{{"job", "a"}}));
  // An empty request is valid and empty.
  stats = decoder.decode(snappy(""), out);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->series, 0u);
  EXPECT_EQ(out.size(), 1u);
}

}  // namespace
}  // namespace kubemetrics::scrapers::listeners
