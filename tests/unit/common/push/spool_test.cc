#include "common/push/spool.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/compression/compression.h"
#include "common/push/crc32c.h"
#include "support/process.h"

namespace kubemetrics::push {
namespace {

using kubemetrics::testing::TempDir;

EncodedPayload payload(std::size_t samples, std::string body) {
  EncodedPayload p;
  p.samples = samples;
  p.raw_bytes = body.size() * 2;
  p.body = std::move(body);
  p.content_encoding = "snappy";
  return p;
}

Spool::Options options(const std::string& dir, std::uint64_t max_bytes = 1 << 20,
                       std::uint64_t segment_bytes = 1 << 20) {
  Spool::Options o;
  o.dir = dir;
  o.max_bytes = max_bytes;
  o.segment_bytes = segment_bytes;
  o.owner = "spool_test";
  return o;
}

std::vector<std::string> segmentFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Pops everything, returning the bodies in order.
std::vector<std::string> drain(Spool& spool) {
  std::vector<std::string> bodies;
  for (int i = 0; i < 10000; ++i) {
    auto record = spool.peekOldest();
    if (!record) break;
    bodies.push_back(record->payload.body);
    spool.pop(record->id);
  }
  return bodies;
}

TEST(Crc32cTest, KnownVector) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  // Incremental equals one-shot, across the 8-byte fast path.
  const std::string text = "The quick brown fox jumps over the lazy dog, twice over.";
  EXPECT_EQ(crc32c(text.substr(13), crc32c(text.substr(0, 13))), crc32c(text));
}

TEST(Crc32cTest, TheCpuInstructionAndTheTablesAgree) {
  EXPECT_EQ(crc32cPortable("123456789"), 0xE3069283u);
  std::string data;
  for (int i = 0; i < 20011; ++i) data.push_back(static_cast<char>((i * 7919) ^ (i >> 3)));
  // Every length around the 8-byte steps and the 6,144-byte blocks of three
  // strides, at every alignment, continued.
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t length :
         {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4091, 6143, 6144, 6145, 12288, 20003}) {
      const std::string_view piece = std::string_view(data).substr(offset, length);
      ASSERT_EQ(crc32c(piece), crc32cPortable(piece)) << offset << "+" << length;
      ASSERT_EQ(crc32c(piece, 0xDEADBEEF), crc32cPortable(piece, 0xDEADBEEF));
    }
  }
}

TEST(CompressionTest, RoundTrips) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "kube_pod_info{namespace=\"default\"} 1\n";
  auto z = zstdCompress(text);
  ASSERT_TRUE(z);
  EXPECT_LT(z->size(), text.size() / 10);
  EXPECT_EQ(*zstdDecompress(*z), text);
  auto g = gzipCompress(text);
  ASSERT_TRUE(g);
  EXPECT_EQ(*gzipDecompress(*g), text);
  EXPECT_FALSE(gzipDecompress("not gzip"));
  EXPECT_FALSE(zstdDecompress(z->substr(0, z->size() / 2)));
}

TEST(SpoolTest, FifoAndPersistsAcrossReopen) {
  TempDir tmp;
  {
    auto spool = Spool::open(options(tmp.path()));
    ASSERT_TRUE(spool) << spool.error().message();
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE((*spool)->append(payload(10, "body" + std::to_string(i))));
    EXPECT_EQ((*spool)->records(), 5u);
    EXPECT_EQ((*spool)->samples(), 50u);
    auto first = (*spool)->peekOldest();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->payload.body, "body0");
    EXPECT_EQ(first->payload.samples, 10u);
    EXPECT_EQ(first->payload.raw_bytes, 10u);
    EXPECT_EQ(first->payload.content_encoding, "snappy");
    (*spool)->pop(first->id);
  }
  // Reopen: the acknowledged record stays gone, the rest replay in order.
  auto spool = Spool::open(options(tmp.path()));
  ASSERT_TRUE(spool);
  EXPECT_EQ((*spool)->records(), 4u);
  EXPECT_EQ(drain(**spool), (std::vector<std::string>{"body1", "body2", "body3", "body4"}));
  EXPECT_EQ((*spool)->records(), 0u);
  EXPECT_EQ((*spool)->bytes(), 0u);
  EXPECT_TRUE(segmentFiles(tmp.path()).empty());
}

TEST(SpoolTest, TornTailIsSkippedAndNewRecordsGoToAFreshSegment) {
  TempDir tmp;
  {
    auto spool = Spool::open(options(tmp.path()));
    ASSERT_TRUE(spool);
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE((*spool)->append(payload(7, std::string(100, 'a' + i))));
  }
  auto files = segmentFiles(tmp.path());
  ASSERT_EQ(files.size(), 1u);
  // Power loss in the middle of the last record: cut it short.
  std::filesystem::resize_file(files[0], std::filesystem::file_size(files[0]) - 30);
  auto spool = Spool::open(options(tmp.path()));
  ASSERT_TRUE(spool);
  EXPECT_EQ((*spool)->corruptRecords(), 1u);
  EXPECT_EQ((*spool)->records(), 2u);
  ASSERT_TRUE((*spool)->append(payload(7, "after")));
  EXPECT_EQ(segmentFiles(tmp.path()).size(), 2u);
  EXPECT_EQ(drain(**spool),
            (std::vector<std::string>{std::string(100, 'a'), std::string(100, 'b'), "after"}));
}

TEST(SpoolTest, GarbageAppendedAndBadCrcAreSkipped) {
  TempDir tmp;
  {
    auto spool = Spool::open(options(tmp.path()));
    ASSERT_TRUE(spool);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE((*spool)->append(payload(1, std::string(50, 'x' + i))));
  }
  auto files = segmentFiles(tmp.path());
  ASSERT_EQ(files.size(), 1u);
  {
    // Flip one payload byte of the second record (header 8 + prefix 13 +
    // "snappy" 6 + 50 body = 77 bytes per record).
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(77 + 8 + 13 + 6 + 10);
    f.put('!');
    f.close();
    std::ofstream g(files[0], std::ios::app | std::ios::binary);
    g << "\xff\xff\xff\x7fgarbage at the tail";
  }
  auto spool = Spool::open(options(tmp.path()));
  ASSERT_TRUE(spool);
  EXPECT_EQ((*spool)->corruptRecords(), 2u);
  EXPECT_EQ(drain(**spool), (std::vector<std::string>{std::string(50, 'x'), std::string(50, 'z')}));
}

TEST(SpoolTest, EmptyAndZeroLengthFilesDoNotCrash) {
  TempDir tmp;
  tmp.write("00000000000000000001.seg", "");
  tmp.write("00000000000000000002.seg", std::string(3, '\0'));
  tmp.write("00000000000000000003.seg", std::string(64, '\0'));
  tmp.write("00000000000000000004.ack", "garbage");
  tmp.write("unrelated.txt", "x");
  auto spool = Spool::open(options(tmp.path()));
  ASSERT_TRUE(spool);
  EXPECT_EQ((*spool)->records(), 0u);
  ASSERT_TRUE((*spool)->append(payload(1, "ok")));
  EXPECT_EQ(drain(**spool), (std::vector<std::string>{"ok"}));
}

TEST(SpoolTest, ByteCapDropsOldestSegmentsAndCountsThem) {
  TempDir tmp;
  // ~1 KiB records, 4 KiB segments, 16 KiB cap.
  auto spool = Spool::open(options(tmp.path(), 16 * 1024, 4 * 1024));
  ASSERT_TRUE(spool);
  std::uint64_t dropped = 0;
  for (int i = 0; i < 40; ++i) {
    auto loss = (*spool)->append(payload(3, std::string(1000, 'a' + (i % 26))));
    ASSERT_TRUE(loss);
    EXPECT_TRUE(loss->stored);
    dropped += loss->dropped_samples;
    EXPECT_LE((*spool)->bytes(), 16u * 1024);
  }
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(dropped + (*spool)->samples(), 40u * 3);
  // The newest survive.
  auto bodies = drain(**spool);
  ASSERT_FALSE(bodies.empty());
  EXPECT_EQ(bodies.back(), std::string(1000, 'a' + (39 % 26)));
  // A record larger than the cap is refused, counted.
  auto loss = (*spool)->append(payload(9, std::string(20 * 1024, 'q')));
  ASSERT_TRUE(loss);
  EXPECT_FALSE(loss->stored);
  EXPECT_EQ(loss->dropped_samples, 9u);
}

// Sets RLIMIT_FSIZE for the test's scope: a write past it fails (EFBIG),
// as on a full disk, for root too. SIGXFSZ is ignored meanwhile.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit saved_{};
  void (*old_handler_)(int) = nullptr;
};

TEST(SpoolTest, FailedFirstWriteLeavesNothingThatHidesLaterRecords) {
  TempDir tmp;
  auto spool = Spool::open(options(tmp.path()));
  ASSERT_TRUE(spool);
  {
    FileSizeLimit full(64);  // the "disk" takes 64 bytes per file
    auto failed = (*spool)->append(payload(5, std::string(200, 'a')));
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code(), ErrorCode::kUnavailable);
  }
  EXPECT_EQ((*spool)->records(), 0u);
  EXPECT_EQ((*spool)->bytes(), 0u);
  EXPECT_TRUE(segmentFiles(tmp.path()).empty());  // no empty segment left in front
  // Space is back: the next record is stored and read back at once (an
  // empty segment in front used to hide it: nothing to peek while records
  // were counted, and the senders spun).
  ASSERT_TRUE((*spool)->append(payload(5, "later")));
  EXPECT_EQ((*spool)->records(), 1u);
  EXPECT_EQ(drain(**spool), (std::vector<std::string>{"later"}));
}

TEST(SpoolTest, FailedWriteAfterRecordsKeepsThem) {
  TempDir tmp;
  auto spool = Spool::open(options(tmp.path()));
  ASSERT_TRUE(spool);
  ASSERT_TRUE((*spool)->append(payload(1, "one")));  // 8 + 13 + 6 + 3 = 30 bytes
  {
    FileSizeLimit full(40);
    EXPECT_FALSE((*spool)->append(payload(1, std::string(100, 'x'))));  // torn after 10 bytes
  }
  ASSERT_TRUE((*spool)->append(payload(1, "three")));  // a fresh segment
  EXPECT_EQ(segmentFiles(tmp.path()).size(), 2u);
  EXPECT_EQ((*spool)->records(), 2u);
  spool->reset();
  // Reopened: the torn tail is skipped (counted), never replayed.
  auto reopened = Spool::open(options(tmp.path()));
  ASSERT_TRUE(reopened);
  EXPECT_EQ((*reopened)->corruptRecords(), 1u);
  EXPECT_EQ(drain(**reopened), (std::vector<std::string>{"one", "three"}));
}

TEST(SpoolTest, SegmentNamesAreNeverReusedAndStaleAcksAreRemoved) {
  TempDir tmp;
  std::string first;
  {
    auto spool = Spool::open(options(tmp.path()));
    ASSERT_TRUE(spool);
    ASSERT_TRUE((*spool)->append(payload(1, "a")));
    ASSERT_TRUE((*spool)->append(payload(1, "b")));
    first = segmentFiles(tmp.path()).at(0);
    // Consume the first record: an ack at offset 28 now names the segment.
    auto record = (*spool)->peekOldest();
    ASSERT_TRUE(record);
    (*spool)->pop(record->id);
  }
  const std::string ack = first.substr(0, first.size() - 4) + ".ack";
  ASSERT_TRUE(std::filesystem::exists(ack));
  // A crash between the two unlinks of a consumed segment: the segment is
  // gone, its ack stays.
  std::filesystem::remove(first);
  tmp.write(std::filesystem::path(ack).filename().string() + ".tmp", "99\n");
  auto spool = Spool::open(options(tmp.path()));
  ASSERT_TRUE(spool);
  EXPECT_FALSE(std::filesystem::exists(ack));
  EXPECT_FALSE(std::filesystem::exists(ack + ".tmp"));
  ASSERT_TRUE((*spool)->append(payload(1, "c")));
  const auto files = segmentFiles(tmp.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_NE(files[0], first);
  EXPECT_EQ(drain(**spool), (std::vector<std::string>{"c"}));
}

TEST(SpoolTest, SyncedSpoolStoresAndReplays) {
  TempDir tmp;
  auto o = options(tmp.path());
  o.sync = true;
  {
    auto spool = Spool::open(o);
    ASSERT_TRUE(spool);
    for (const char* body : {"a", "b", "c"}) ASSERT_TRUE((*spool)->append(payload(1, body)));
    auto record = (*spool)->peekOldest();
    ASSERT_TRUE(record);
    (*spool)->pop(record->id);
  }
  auto spool = Spool::open(o);
  ASSERT_TRUE(spool);
  EXPECT_EQ(drain(**spool), (std::vector<std::string>{"b", "c"}));
}

TEST(SpoolTest, DirectoryWhereNoFileCanBeWrittenIsAnErrorAtOpen) {
  TempDir tmp;
  FileSizeLimit full(0);
  auto spool = Spool::open(options(tmp.path()));
  ASSERT_FALSE(spool);
  EXPECT_EQ(spool.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(spool.error().message().find("is not writable"), std::string::npos)
      << spool.error().message();
}

TEST(SpoolTest, UnwritableDirectoryIsAnError) {
  TempDir tmp;
  tmp.write("file", "x");
  auto spool = Spool::open(options(tmp.path() + "/file/sub"));
  ASSERT_FALSE(spool);
  EXPECT_EQ(spool.error().code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace kubemetrics::push
