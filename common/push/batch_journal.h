#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/push/pointer_index.h"
#include "common/push/push_metrics.h"
#include "kubemetrics/result.h"
#include "kubemetrics/sample.h"

namespace kubemetrics::push {

/// The batch being filled, on disk as its samples arrive (spool.mode: wal),
/// so a process that dies before the batch is cut (SIGKILL, an OOM kill)
/// leaves its samples behind: the next run reads them back and sends them
/// before anything new. The write-ahead spool then takes over once the
/// batch is encoded: the Batcher cut()s the journal with the batch,
/// appends the payload to the spool, and release()s the batch's file.
///
/// One file per batch, `<dir>/<20-digit sequence>.journal`, numbers only
/// growing (past the last file found and the wall clock's microseconds),
/// each a run of records
///   u32 length (LE) | u32 CRC-32C of the body | body
/// whose body is a run of entries, each opened by a tag byte:
///   'n' u32 length, text            defines the file's next name (0, 1, ...)
///   'l' u32 count, count x (u32 length, text, u32 length, text)
///                                   defines its next label set (1, 2, ...)
///   's' u32 name, u32 label set (0: none), u64 value bits, i64 timestamp
///   'e' u32 samples, u32 length, bytes
///                                   samples already encoded by an appending
///                                   PayloadEncoder (its uncompressed format)
/// so a series' texts are written once per batch, not once per sample. A
/// name or set is defined before the first sample using it, in the same
/// record, and the file's dictionary keeps a handle of each, so an address
/// is never reused for another text while the file is open. An exporter
/// whose encoder appends writes only 'e' records, each a whole append(), so
/// a torn tail leaves whole pieces of the body behind; the encoded bytes
/// are the exporter's own format, as the spool's payloads are.
///
/// Durability: written, never synced. The page cache survives the process,
/// which is what this is for; a power loss can lose the batch being filled
/// (with spool.sync the spool's records are synced, the journal is not).
/// A crash between the payload's append and release() leaves a file whose
/// samples are also in the spool: they are sent twice (at least once).
///
/// Reading stops at the first record whose length runs past the end of the
/// file or whose CRC fails (a write torn by the kill); the samples before
/// it are kept, and the reader says the file was torn (the Batcher warns).
///
/// Not thread-safe: record() and cut() are called by the Batcher under its
/// lock; release() only unlinks a file and may be called from any thread.
/// Read leftovers before the first record().
class BatchJournal {
 public:
  /// What a previous run left in one file.
  struct Leftover {
    std::uint64_t seq = 0;
    std::vector<Sample> samples;
    std::string encoded;  // the 'e' records' bytes, in order
    std::size_t encoded_samples = 0;
    bool torn = false;  // a record was cut short or failed its CRC
  };

  /// Scans `dir` (the exporter's spool directory, which exists) for the
  /// files a previous run left. Without `journal_new` (spool.mode overflow)
  /// it only hands those over: record() and cut() do nothing, so a switch
  /// from wal to overflow after a crash still sends the last batch.
  /// kUnavailable when the directory cannot be read.
  static Result<std::unique_ptr<BatchJournal>> open(std::string dir, PushMetrics& metrics,
                                                    bool journal_new = true);
  ~BatchJournal();
  BatchJournal(const BatchJournal&) = delete;
  BatchJournal& operator=(const BatchJournal&) = delete;

  /// The numbers of the files a previous run left, oldest first.
  const std::vector<std::uint64_t>& leftovers() const { return leftovers_; }
  /// Reads one file (see the class comment on damage).
  Leftover read(std::uint64_t seq) const;

  /// Appends `samples` to the current batch's file, opening one when the
  /// batch starts. A failed create or write is counted (journal write
  /// errors) and warned; that file takes no more records (the samples are still in the
  /// batch in memory, only not on disk).
  void record(std::span<const Sample> samples);
  /// The same for `samples` samples already encoded as `encoded` (one
  /// append() of the exporter's encoder): one 'e' record.
  void recordEncoded(std::string_view encoded, std::size_t samples);
  /// Ends the current batch's file: the next record() opens a new one.
  /// Returns its number for release(), 0 when nothing was recorded.
  std::uint64_t cut();
  /// Deletes file `seq` (0: nothing): its samples are in the spool, or
  /// were dropped and counted. Any thread.
  void release(std::uint64_t seq) const;

 private:
  BatchJournal(std::string dir, PushMetrics& metrics, bool journal_new);
  std::string path(std::uint64_t seq) const;
  void close();
  // Opens the batch's file on its first record; false when it cannot take
  // one (broken, overflow mode, or the create failed).
  bool ready();
  // One record of `samples`, appended to the current file.
  void writeRecord(std::span<const Sample> samples);
  // Frames record_[kHeaderBytes, end) and appends it to the file.
  void writeFramed();
  // Counts and warns a failed write; the file takes nothing more.
  void writeFailed();
  // The file's index of `name` / `labels`, appending its definition to
  // record_ the first time.
  std::uint32_t nameIndex(const Symbol& name);
  std::uint32_t labelsIndex(const Labels& labels);

  const std::string dir_;
  PushMetrics& metrics_;
  const bool journal_new_;
  std::vector<std::uint64_t> leftovers_;
  std::uint64_t next_seq_ = 0;

  // The current file: -1 before its first record; broken_ after a failed
  // write (it takes nothing more until cut()).
  int fd_ = -1;
  std::uint64_t seq_ = 0;
  bool broken_ = false;
  PointerIndex names_;
  PointerIndex label_sets_;
  std::vector<Symbol> kept_names_;  // handles, so an address keeps its meaning
  std::vector<Labels> kept_label_sets_;
  std::string record_;  // the record being built, reused
  // Appends `n` bytes to record_ and returns where to write them.
  char* extendRecord(std::size_t n);
};

}  // namespace kubemetrics::push
