#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "common/push/push_exporter.h"
#include "kubemetrics/mutex.h"
#include "kubemetrics/result.h"

namespace kubemetrics::push {

/// The disk spool of one push exporter: a FIFO of EncodedPayloads in
/// append-only segment files `<dir>/<20-digit sequence>.seg`. Each record is
///   u32 length (LE) | u32 CRC-32C of the record body | record body
/// and the record body is
///   u32 samples | u64 raw_bytes | u8 n | n bytes content encoding | payload body.
/// Consumption is recorded per segment in `<seq>.ack` (offset of the first
/// record not yet acknowledged), so a restart replays only what was not
/// acknowledged; a crash between delivery and the ack write re-sends one
/// record (at least once, never lost). A segment whose records are all
/// acknowledged is deleted. Segment numbers only grow, starting past the
/// last one found and the wall clock's microseconds at open, so a name is
/// not reused (short of the clock stepping back by more than the time
/// between two runs); and the scan deletes every ack whose segment is gone,
/// so a stale ack can never apply to a new segment.
///
/// Durability: with `sync`, every append is fdatasync()ed before it
/// returns, the directory is fsync()ed after a segment is created, and an
/// ack is fdatasync()ed before it is renamed into place; a failed sync is a
/// failed append. Without it, the page cache holds the data: a process
/// crash (SIGKILL, OOM kill) loses nothing, a power loss may lose the last
/// seconds.
///
/// Opening scans every segment and checks every record's length and CRC: a
/// record failing its CRC is skipped (counted, warned); a length that runs
/// past the end of the file (a torn write at the tail) ends that segment.
/// New records always go to a fresh segment, never after a damaged tail.
///
/// When an append would take the segment files past `max_bytes`, the oldest
/// segments are dropped whole (their unacknowledged samples counted) — the
/// documented drop-oldest policy; a record larger than `max_bytes` alone is
/// dropped itself.
///
/// Thread-safe (one mutex); file I/O happens under it, which is fine at
/// spool rates (one record per batch).
class Spool {
 public:
  struct Options {
    std::string dir;  // this exporter's directory; created if missing
    std::uint64_t max_bytes = 1024ULL * 1024 * 1024;
    std::uint64_t segment_bytes = 16ULL * 1024 * 1024;
    bool sync = false;  // fdatasync after each append
    std::string owner;  // exporter name, for log lines
  };

  /// What an append (or the scan at open) lost.
  struct Loss {
    std::uint64_t dropped_samples = 0;  // dropped for the byte cap
    std::uint64_t dropped_records = 0;
    bool stored = true;  // false: the new record alone exceeds max_bytes (counted above)
  };

  /// A record read back for replay; `id` names it for pop().
  struct Record {
    std::uint64_t id = 0;
    EncodedPayload payload;
  };

  /// Creates the directory, checks that a file can be written in it, and
  /// scans existing segments. kUnavailable when the directory cannot be
  /// created, written or read.
  static Result<std::unique_ptr<Spool>> open(Options options);
  ~Spool();

  /// Appends one payload (durable on return if `sync`). kUnavailable on an
  /// I/O error (disk full, a failed sync): the caller counts the payload
  /// as dropped; the spool stays usable (the next append starts a fresh
  /// segment).
  Result<Loss> append(const EncodedPayload& payload);
  /// The oldest record not yet popped, read from disk; nullopt when empty.
  /// A record unreadable now (deleted under us, CRC changed on disk) is
  /// skipped and counted as corrupt.
  std::optional<Record> peekOldest();
  /// Acknowledges the record `id` if it is still the oldest (it may have
  /// been dropped for the cap meanwhile); deletes consumed segments.
  void pop(std::uint64_t id);

  std::uint64_t bytes() const;
  std::uint64_t records() const;
  std::uint64_t samples() const;
  /// Records skipped because their CRC or length was wrong, since open.
  std::uint64_t corruptRecords() const;

 private:
  struct RecordRef {
    std::uint64_t offset = 0;
    std::uint32_t length = 0;  // of the record body
    std::uint32_t samples = 0;
  };
  struct Segment {
    std::uint64_t seq = 0;
    std::uint64_t size = 0;  // bytes on disk
    std::deque<RecordRef> records;
  };

  explicit Spool(Options options);
  Result<void> scan() KM_REQUIRES(mu_);
  void scanSegment(Segment& segment) KM_REQUIRES(mu_);
  std::string segmentPath(std::uint64_t seq) const;
  std::string ackPath(std::uint64_t seq) const;
  void dropOldestSegment(Loss& loss) KM_REQUIRES(mu_);
  void removeSegmentFiles(std::uint64_t seq) KM_REQUIRES(mu_);
  void closeActive() KM_REQUIRES(mu_);
  void writeAck(const Segment& segment) KM_REQUIRES(mu_);
  Result<Loss> failAppend(const std::string& reason) KM_REQUIRES(mu_);

  const Options options_;
  mutable Mutex mu_;
  std::deque<Segment> segments_ KM_GUARDED_BY(mu_);
  int active_fd_ KM_GUARDED_BY(mu_) = -1;          // fd of segments_.back() while writing
  std::uint64_t next_seq_ KM_GUARDED_BY(mu_) = 0;  // set by scan()
  std::uint64_t bytes_ KM_GUARDED_BY(mu_) = 0;
  std::uint64_t records_ KM_GUARDED_BY(mu_) = 0;
  std::uint64_t samples_ KM_GUARDED_BY(mu_) = 0;
  std::uint64_t corrupt_ KM_GUARDED_BY(mu_) = 0;
};

}  // namespace kubemetrics::push
