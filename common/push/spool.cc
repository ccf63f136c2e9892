#include "common/push/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "common/push/crc32c.h"
#include "common/push/spool_files.h"
#include "kubemetrics/log.h"

namespace kubemetrics::push {
namespace {

constexpr std::size_t kHeaderBytes = 8;  // u32 length + u32 crc
// Body prefix: u32 samples + u64 raw_bytes + u8 encoding length.
constexpr std::size_t kBodyPrefixBytes = 13;
// No payload is larger; a bigger length field is garbage.
constexpr std::uint32_t kMaxRecordBytes = 512u << 20;
constexpr std::uint64_t kIdSegmentShift = 40;

// Decodes a record body (after the CRC check) into a payload.
bool decodeBody(std::string_view body, EncodedPayload& out) {
  if (body.size() < kBodyPrefixBytes) return false;
  const std::size_t enc_len = static_cast<unsigned char>(body[12]);
  if (body.size() < kBodyPrefixBytes + enc_len) return false;
  out.samples = static_cast<std::size_t>(getLe(body.data(), 4));
  out.raw_bytes = static_cast<std::size_t>(getLe(body.data() + 4, 8));
  out.content_encoding.assign(body.data() + kBodyPrefixBytes, enc_len);
  out.body.assign(body.data() + kBodyPrefixBytes + enc_len,
                  body.size() - kBodyPrefixBytes - enc_len);
  return true;
}

Result<void> probeWritable(const std::string& dir) {
  const std::string probe = dir + "/.write-probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const bool ok = fd >= 0 && writeAll(fd, "x", 1);
  const std::string reason = ok ? "" : errnoText();
  if (fd >= 0) ::close(fd);
  ::unlink(probe.c_str());
  if (!ok) {
    return makeError(ErrorCode::kUnavailable,
                     "spool: directory " + dir + " is not writable: " + reason);
  }
  return {};
}

}  // namespace

Spool::Spool(Options options) : options_(std::move(options)) {}

Spool::~Spool() {
  MutexLock lock(mu_);
  closeActive();
}

Result<std::unique_ptr<Spool>> Spool::open(Options options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    return makeError(ErrorCode::kUnavailable,
                     "spool: cannot create directory " + options.dir + ": " + ec.message());
  }
  // Found at start, not at the first spill minutes into an outage.
  if (auto writable = probeWritable(options.dir); !writable)
    return tl::unexpected(writable.error());
  std::unique_ptr<Spool> spool(new Spool(std::move(options)));
  {
    MutexLock lock(spool->mu_);
    auto scanned = spool->scan();
    if (!scanned) return tl::unexpected(scanned.error());
  }
  return spool;
}

std::string Spool::segmentPath(std::uint64_t seq) const {
  return options_.dir + "/" + numberedName(seq, ".seg");
}

std::string Spool::ackPath(std::uint64_t seq) const {
  return options_.dir + "/" + numberedName(seq, ".ack");
}

Result<void> Spool::scan() {
  std::vector<std::uint64_t> seqs;
  std::vector<std::uint64_t> acks;
  std::vector<std::string> leftovers;  // ack temp files of an interrupted write
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (auto seq = sequenceOf(file, ".seg")) seqs.push_back(*seq);
    if (auto seq = sequenceOf(file, ".ack")) acks.push_back(*seq);
    if (sequenceOf(file, ".ack.tmp")) leftovers.push_back(entry.path().string());
  }
  if (ec) {
    return makeError(ErrorCode::kUnavailable,
                     "spool: cannot read directory " + options_.dir + ": " + ec.message());
  }
  std::sort(seqs.begin(), seqs.end());
  // An ack without its segment (a crash between the two unlinks) is stale.
  for (std::uint64_t seq : acks) {
    if (!std::binary_search(seqs.begin(), seqs.end(), seq)) ::unlink(ackPath(seq).c_str());
  }
  for (const std::string& path : leftovers) ::unlink(path.c_str());
  next_seq_ = std::max(firstSequence(), seqs.empty() ? 0 : seqs.back() + 1);
  for (std::uint64_t seq : seqs) {
    Segment segment;
    segment.seq = seq;
    scanSegment(segment);
    if (segment.records.empty()) {
      removeSegmentFiles(seq);
      continue;
    }
    bytes_ += segment.size;
    records_ += segment.records.size();
    for (const RecordRef& r : segment.records) samples_ += r.samples;
    segments_.push_back(std::move(segment));
  }
  if (records_ > 0) {
    logInfo(options_.owner) << "spool " << options_.dir << ": " << records_ << " records ("
                            << samples_ << " samples, " << bytes_
                            << " bytes) left from a previous run will be replayed";
  }
  return {};
}

void Spool::scanSegment(Segment& segment) {
  const std::string path = segmentPath(segment.seq);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    logWarn(options_.owner) << "spool: cannot open " << path << ": " << errnoText();
    return;
  }
  struct stat st {};
  ::fstat(fd, &st);
  segment.size = static_cast<std::uint64_t>(st.st_size);
  // The ack file says where unacknowledged records start.
  std::uint64_t start = 0;
  if (const int afd = ::open(ackPath(segment.seq).c_str(), O_RDONLY | O_CLOEXEC); afd >= 0) {
    char text[32] = {};
    const ssize_t n = ::read(afd, text, sizeof(text) - 1);
    ::close(afd);
    if (n > 0) start = std::strtoull(text, nullptr, 10);
    if (start > segment.size) start = segment.size;
  }
  std::string body;
  std::uint64_t offset = start;
  while (offset < segment.size) {
    char header[kHeaderBytes];
    if (segment.size - offset < kHeaderBytes || !preadAll(fd, header, kHeaderBytes, offset)) {
      ++corrupt_;
      logWarn(options_.owner) << "spool: torn record header at the end of " << path << " (offset "
                              << offset << ", " << segment.size - offset << " bytes): skipped";
      break;
    }
    const auto length = static_cast<std::uint32_t>(getLe(header, 4));
    const auto crc = static_cast<std::uint32_t>(getLe(header + 4, 4));
    if (length < kBodyPrefixBytes || length > kMaxRecordBytes ||
        length > segment.size - offset - kHeaderBytes) {
      ++corrupt_;
      logWarn(options_.owner) << "spool: torn or corrupt record at " << path << " offset " << offset
                              << " (length " << length << ", "
                              << segment.size - offset - kHeaderBytes
                              << " bytes left): rest of the segment skipped";
      break;
    }
    body.resize(length);
    if (!preadAll(fd, body.data(), length, offset + kHeaderBytes)) break;
    if (crc32c(body) != crc) {
      ++corrupt_;
      logWarn(options_.owner) << "spool: record at " << path << " offset " << offset
                              << " fails its CRC-32C: skipped";
    } else {
      segment.records.push_back(
          RecordRef{offset, length, static_cast<std::uint32_t>(getLe(body.data(), 4))});
    }
    offset += kHeaderBytes + length;
  }
  ::close(fd);
}

// The segment first: a crash in between leaves an ack without a segment,
// which the next scan removes; the other order could leave a consumed
// segment without its ack, replayed whole.
void Spool::removeSegmentFiles(std::uint64_t seq) {
  ::unlink(segmentPath(seq).c_str());
  ::unlink(ackPath(seq).c_str());
}

void Spool::closeActive() {
  if (active_fd_ >= 0) {
    ::close(active_fd_);
    active_fd_ = -1;
  }
}

void Spool::dropOldestSegment(Loss& loss) {
  Segment& oldest = segments_.front();
  if (active_fd_ >= 0 && segments_.size() == 1) closeActive();
  for (const RecordRef& r : oldest.records) {
    loss.dropped_samples += r.samples;
    samples_ -= r.samples;
  }
  loss.dropped_records += oldest.records.size();
  records_ -= oldest.records.size();
  bytes_ -= oldest.size;
  removeSegmentFiles(oldest.seq);
  segments_.pop_front();
}

Result<Spool::Loss> Spool::append(const EncodedPayload& payload) {
  std::string record;
  const std::size_t enc_len = std::min<std::size_t>(payload.content_encoding.size(), 255);
  const std::size_t body_len = kBodyPrefixBytes + enc_len + payload.body.size();
  record.reserve(kHeaderBytes + body_len);
  record.resize(kHeaderBytes);
  putU32(record, static_cast<std::uint32_t>(payload.samples));
  putU64(record, payload.raw_bytes);
  record.push_back(static_cast<char>(enc_len));
  record.append(payload.content_encoding, 0, enc_len);
  record.append(payload.body);
  const std::uint32_t crc = crc32c(std::string_view(record).substr(kHeaderBytes));
  std::string header;
  putU32(header, static_cast<std::uint32_t>(body_len));
  putU32(header, crc);
  record.replace(0, kHeaderBytes, header);

  Loss loss;
  MutexLock lock(mu_);
  if (record.size() > options_.max_bytes || body_len > kMaxRecordBytes) {
    loss.dropped_samples = payload.samples;
    loss.dropped_records = 1;
    loss.stored = false;
    return loss;
  }
  // Drop oldest until the new record fits under the cap.
  while (!segments_.empty() && bytes_ + record.size() > options_.max_bytes) {
    dropOldestSegment(loss);
  }
  // Roll to a fresh segment when none is open or the open one is full.
  if (active_fd_ < 0 || segments_.empty() ||
      segments_.back().size + record.size() > options_.segment_bytes) {
    closeActive();
    const std::uint64_t seq = next_seq_++;
    const std::string path = segmentPath(seq);
    active_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (active_fd_ < 0) {
      return makeError(ErrorCode::kUnavailable,
                       "spool: cannot create " + path + ": " + errnoText());
    }
    Segment segment;
    segment.seq = seq;
    segments_.push_back(std::move(segment));
    if (options_.sync && !syncDirectory(options_.dir)) {
      return failAppend("cannot sync directory " + options_.dir + ": " + errnoText());
    }
  }
  Segment& active = segments_.back();
  if (!writeAll(active_fd_, record.data(), record.size())) {
    return failAppend("write failed: " + errnoText());
  }
  // A record whose sync failed may not be on disk: it counts as not
  // written, and nothing goes after it (the next append starts a segment).
  if (options_.sync && ::fdatasync(active_fd_) != 0) {
    return failAppend("fdatasync failed: " + errnoText());
  }
  active.records.push_back(RecordRef{active.size, static_cast<std::uint32_t>(body_len),
                                     static_cast<std::uint32_t>(payload.samples)});
  active.size += record.size();
  bytes_ += record.size();
  ++records_;
  samples_ += payload.samples;
  return loss;
}

// After a failed write or sync: the open segment is closed (a partial write
// leaves a torn tail; nothing is ever written after it) and its bytes are
// accounted as they are on disk. A segment left without a record is
// removed, so the oldest segment always holds one (peekOldest relies on it).
Result<Spool::Loss> Spool::failAppend(const std::string& reason) {
  closeActive();
  Segment& active = segments_.back();
  if (active.records.empty()) {
    bytes_ -= active.size;
    removeSegmentFiles(active.seq);
    segments_.pop_back();
  } else if (struct stat st{}; ::stat(segmentPath(active.seq).c_str(), &st) == 0) {
    bytes_ += static_cast<std::uint64_t>(st.st_size) - active.size;
    active.size = static_cast<std::uint64_t>(st.st_size);
  }
  return makeError(ErrorCode::kUnavailable, "spool: " + reason);
}

std::optional<Spool::Record> Spool::peekOldest() {
  MutexLock lock(mu_);
  while (!segments_.empty()) {
    Segment& segment = segments_.front();
    if (segment.records.empty()) {
      // Only the open segment can be empty and present (failAppend removes
      // one left empty by a failed write); nothing to read.
      return std::nullopt;
    }
    const RecordRef ref = segment.records.front();
    Record record;
    record.id = (segment.seq << kIdSegmentShift) | ref.offset;
    std::string raw(kHeaderBytes + ref.length, '\0');
    const int fd = ::open(segmentPath(segment.seq).c_str(), O_RDONLY | O_CLOEXEC);
    const bool read = fd >= 0 && preadAll(fd, raw.data(), raw.size(), ref.offset);
    if (fd >= 0) ::close(fd);
    const std::string_view body = std::string_view(raw).substr(kHeaderBytes);
    if (read && crc32c(body) == static_cast<std::uint32_t>(getLe(raw.data() + 4, 4)) &&
        decodeBody(body, record.payload)) {
      return record;
    }
    ++corrupt_;
    logWarn(options_.owner) << "spool: record at " << segmentPath(segment.seq) << " offset "
                            << ref.offset << " is no longer readable: skipped";
    lock.unlock();
    pop(record.id);
    lock.lock();
  }
  return std::nullopt;
}

void Spool::pop(std::uint64_t id) {
  MutexLock lock(mu_);
  if (segments_.empty()) return;
  Segment& segment = segments_.front();
  if (segment.records.empty()) return;
  const RecordRef ref = segment.records.front();
  if (((segment.seq << kIdSegmentShift) | ref.offset) != id) return;
  segment.records.pop_front();
  --records_;
  samples_ -= ref.samples;
  const bool is_active = active_fd_ >= 0 && segments_.size() == 1;
  if (segment.records.empty()) {
    // Fully acknowledged: the open segment is closed too, the next append
    // starts a new one.
    if (is_active) closeActive();
    bytes_ -= segment.size;
    removeSegmentFiles(segment.seq);
    segments_.pop_front();
    return;
  }
  writeAck(segment);
}

void Spool::writeAck(const Segment& segment) {
  // Write-then-rename, so a crash leaves the old or the new offset; the old
  // one only re-sends records (at least once), never skips one.
  const std::string text = std::to_string(segment.records.front().offset) + "\n";
  const std::string tmp = ackPath(segment.seq) + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  bool ok = writeAll(fd, text.data(), text.size());
  // With sync on, the new offset is durable before it replaces the old one
  // (a rename may reach the disk before the data it names).
  if (ok && options_.sync) ok = ::fdatasync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return;
  }
  if (::rename(tmp.c_str(), ackPath(segment.seq).c_str()) == 0 && options_.sync) {
    syncDirectory(options_.dir);
  }
}

std::uint64_t Spool::bytes() const {
  MutexLock lock(mu_);
  return bytes_;
}
std::uint64_t Spool::records() const {
  MutexLock lock(mu_);
  return records_;
}
std::uint64_t Spool::samples() const {
  MutexLock lock(mu_);
  return samples_;
}
std::uint64_t Spool::corruptRecords() const {
  MutexLock lock(mu_);
  return corrupt_;
}

}  // namespace kubemetrics::push
