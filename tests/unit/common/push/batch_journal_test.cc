#include "common/push/batch_journal.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <bit>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/registry_value.h"

namespace kubemetrics::push {
namespace {

using kubemetrics::testing::registryValue;
using kubemetrics::testing::TempDir;

Sample sample(std::string_view name, Labels labels, double value, std::int64_t ts) {
  return Sample{Symbol::intern(name), std::move(labels), value, ts};
}

Labels podLabels(std::string_view pod) {
  return LabelsBuilder().set("namespace", "kube-system").set("pod", pod).build();
}

std::vector<std::string> journalFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".journal") files.push_back(entry.path().string());
  }
  return files;
}

// Compares by value bits: a staleness marker must come back bit for bit.
void expectSameSamples(const std::vector<Sample>& got, const std::vector<Sample>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name) << i;
    EXPECT_EQ(got[i].labels, want[i].labels) << i;
    EXPECT_EQ(std::bit_cast<std::uint64_t>(got[i].value),
              std::bit_cast<std::uint64_t>(want[i].value))
        << i;
    EXPECT_EQ(got[i].timestamp_ms, want[i].timestamp_ms) << i;
  }
}

struct JournalTest : ::testing::Test {
  TempDir dir;
  prometheus::Registry registry;
  PushMetrics metrics{registry, "t"};

  std::unique_ptr<BatchJournal> open() {
    auto journal = BatchJournal::open(dir.path(), metrics);
    EXPECT_TRUE(journal) << journal.error().message();
    return journal ? std::move(*journal) : nullptr;
  }
};

TEST_F(JournalTest, WhatARunLeftIsReadBackByTheNextInOrder) {
  const std::vector<Sample> first = {
      sample("node_cpu_seconds_total", podLabels("a"), 1.5, 1700000000000),
      sample("up", {}, 1, 1700000000000),
      sample("node_cpu_seconds_total", podLabels("b"), kStaleNaN, -5),
  };
  const std::vector<Sample> second = {
      sample("node_cpu_seconds_total", podLabels("a"), 2.5, 1700000015000),
      sample("kubernetes.pod.cpu.usage", podLabels("b"), -0.0, 1700000015000),
  };
  std::uint64_t cut_seq = 0;
  {
    auto journal = open();
    ASSERT_TRUE(journal->leftovers().empty());
    journal->record(first);
    journal->record(second);
    cut_seq = journal->cut();
    ASSERT_NE(cut_seq, 0u);
    journal->record(second);  // the next batch, in a file of its own
  }                           // the process dies here: nothing released
  auto next = open();
  ASSERT_EQ(next->leftovers().size(), 2u);
  EXPECT_EQ(next->leftovers()[0], cut_seq);
  std::vector<Sample> both = first;
  both.insert(both.end(), second.begin(), second.end());
  const BatchJournal::Leftover cut = next->read(next->leftovers()[0]);
  EXPECT_FALSE(cut.torn);
  expectSameSamples(cut.samples, both);
  const BatchJournal::Leftover filling = next->read(next->leftovers()[1]);
  EXPECT_FALSE(filling.torn);
  expectSameSamples(filling.samples, second);
  // New files number past what was found.
  next->record(first);
  const std::uint64_t seq = next->cut();
  EXPECT_GT(seq, next->leftovers()[1]);
  for (std::uint64_t left : next->leftovers()) next->release(left);
  next->release(seq);
  EXPECT_TRUE(journalFiles(dir.path()).empty());
}

TEST_F(JournalTest, ATornOrDamagedRecordEndsTheFileAndKeepsWhatCameBefore) {
  const std::vector<Sample> kept = {sample("m", podLabels("a"), 1, 1000)};
  const std::vector<Sample> lost = {sample("m", podLabels("a"), 2, 2000),
                                    sample("m", podLabels("c"), 3, 2000)};
  std::uintmax_t first_record = 0;
  {
    auto journal = open();
    journal->record(kept);
    first_record = std::filesystem::file_size(journalFiles(dir.path()).at(0));
    journal->record(lost);
  }
  const std::string file = journalFiles(dir.path()).at(0);
  const auto full = std::filesystem::file_size(file);
  {
    // A bit flipped in the second record: its CRC fails.
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(full - 3));
    f.put('\x5a');
  }
  BatchJournal::Leftover left = open()->read(open()->leftovers().at(0));
  EXPECT_TRUE(left.torn);
  expectSameSamples(left.samples, kept);
  // The kill came in the middle of the second write.
  std::filesystem::resize_file(file, full - 10);
  left = open()->read(open()->leftovers().at(0));
  EXPECT_TRUE(left.torn);
  expectSameSamples(left.samples, kept);
  // ... or in its header.
  std::filesystem::resize_file(file, first_record + 4);
  left = open()->read(open()->leftovers().at(0));
  EXPECT_TRUE(left.torn);
  expectSameSamples(left.samples, kept);
}

// A scrape's whole batch in one call (a kube-state-metrics shard sends
// 75,000 samples) goes into several records, so the journal's buffer stays
// small: the later records use the label sets the earlier ones defined,
// and a kill in the last record keeps the ones before it.
TEST_F(JournalTest, ABigBatchIsWrittenInSeveralRecordsAndReadBackWhole) {
  std::vector<Sample> batch;
  for (int round = 0; round < 2; ++round) {
    for (int pod = 0; pod < 5000; ++pod) {
      batch.push_back(sample(round == 0 ? "kube_pod_info" : "kube_pod_status_ready",
                             podLabels("pod-" + std::to_string(pod)), pod, 1000 + round));
    }
  }
  {
    auto journal = open();
    journal->record(batch);
  }
  const std::string file = journalFiles(dir.path()).at(0);
  BatchJournal::Leftover left = open()->read(open()->leftovers().at(0));
  EXPECT_FALSE(left.torn);
  expectSameSamples(left.samples, batch);

  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 10);
  left = open()->read(open()->leftovers().at(0));
  EXPECT_TRUE(left.torn);
  ASSERT_GT(left.samples.size(), 0u);  // the records before the torn one
  ASSERT_LT(left.samples.size(), batch.size());
  expectSameSamples(left.samples,
                    std::vector<Sample>(batch.begin(), batch.begin() + left.samples.size()));
}

// An appending encoder's batch is journaled as its bytes, one record per
// append(): read back whole and in order with the count of samples they
// carry, and a torn last record loses only that piece, never part of one.
TEST_F(JournalTest, EncodedPiecesComeBackWholeWithTheirSampleCounts) {
  std::uintmax_t two_records = 0;
  {
    auto journal = open();
    journal->recordEncoded("series-a;series-b;", 2);
    journal->recordEncoded(std::string(3000, 'x'), 7);
    two_records = std::filesystem::file_size(journalFiles(dir.path()).at(0));
    journal->recordEncoded("series-c;", 1);
    journal->recordEncoded("", 0);  // nothing to write: no record
  }
  const std::string file = journalFiles(dir.path()).at(0);
  BatchJournal::Leftover left = open()->read(open()->leftovers().at(0));
  EXPECT_FALSE(left.torn);
  EXPECT_TRUE(left.samples.empty());
  EXPECT_EQ(left.encoded, "series-a;series-b;" + std::string(3000, 'x') + "series-c;");
  EXPECT_EQ(left.encoded_samples, 10u);

  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 2);
  left = open()->read(open()->leftovers().at(0));
  EXPECT_TRUE(left.torn);
  EXPECT_EQ(left.encoded, "series-a;series-b;" + std::string(3000, 'x'));
  EXPECT_EQ(left.encoded_samples, 9u);
  // ... and a kill inside the second record's header keeps the first.
  std::filesystem::resize_file(file, two_records - 3000);
  left = open()->read(open()->leftovers().at(0));
  EXPECT_TRUE(left.torn);
  EXPECT_EQ(left.encoded, "series-a;series-b;");
  EXPECT_EQ(left.encoded_samples, 2u);
}

TEST_F(JournalTest, AnUnwritableDirectoryIsCountedAndTheBatchStaysInMemory) {
  auto journal = open();
  std::filesystem::remove_all(dir.path());
  journal->record(std::vector<Sample>{sample("m", {}, 1, 1000)});
  journal->record(std::vector<Sample>{sample("m", {}, 2, 2000)});  // no second try
  EXPECT_EQ(journal->cut(), 0u);
  EXPECT_EQ(metrics.stats().journal_write_errors, 1u);
  EXPECT_EQ(registryValue(registry, "kubemetrics_exporter_journal_write_errors_total",
                          {{"exporter", "t"}}),
            1);
  // The next batch tries again.
  std::filesystem::create_directory(dir.path());
  journal->record(std::vector<Sample>{sample("m", {}, 3, 3000)});
  EXPECT_NE(journal->cut(), 0u);
  EXPECT_EQ(metrics.stats().journal_write_errors, 1u);
}

}  // namespace
}  // namespace kubemetrics::push
