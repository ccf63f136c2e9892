#include "common/push/batch_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/core/symbol_prefetch.h"
#include "common/push/crc32c.h"
#include "common/push/spool_files.h"

namespace kubemetrics::push {
namespace {

constexpr std::string_view kSuffix = ".journal";
constexpr std::size_t kHeaderBytes = 8;  // u32 length + u32 crc
constexpr std::uint64_t kMaxRecordBytes = 512u << 20;

constexpr std::size_t kSampleEntryBytes = 1 + 4 + 4 + 8 + 8;

constexpr std::size_t kRecordSamples = 1024;

char* putLe32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) *p++ = static_cast<char>(v >> (8 * i));
  return p;
}

char* putLe64(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) *p++ = static_cast<char>(v >> (8 * i));
  return p;
}

void putText(std::string& out, std::string_view text) {
  putU32(out, static_cast<std::uint32_t>(text.size()));
  out.append(text);
}

// Reads the entries of one record body, checked for bounds and for
// indices defined before use. The dictionary runs on across records.
class BodyReader {
 public:
  explicit BodyReader(BatchJournal::Leftover& out) : out_(out) {}

  // False when the body is malformed (nothing of it is kept then).
  bool read(std::string_view body) {
    body_ = body;
    const std::size_t names_before = names_.size(), sets_before = label_sets_.size();
    const std::size_t samples_before = out_.samples.size();
    const std::size_t encoded_before = out_.encoded.size();
    const std::size_t encoded_samples_before = out_.encoded_samples;
    if (readAll()) return true;
    names_.resize(names_before);
    label_sets_.resize(sets_before);
    out_.samples.resize(samples_before);
    out_.encoded.resize(encoded_before);
    out_.encoded_samples = encoded_samples_before;
    return false;
  }

 private:
  bool readAll() {
    while (!body_.empty()) {
      const char tag = body_.front();
      body_.remove_prefix(1);
      if (tag == 'n') {
        auto text = readText();
        if (!text) return false;
        names_.push_back(Symbol::intern(*text));
      } else if (tag == 'l') {
        auto count = readU32();
        if (!count) return false;
        builder_.clear();
        for (std::uint32_t i = 0; i < *count; ++i) {
          auto name = readText();
          if (!name) return false;
          auto value = readText();
          if (!value) return false;
          builder_.set(*name, *value);
        }
        label_sets_.push_back(builder_.build());
      } else if (tag == 's') {
        if (body_.size() < 24) return false;
        const auto name = static_cast<std::uint32_t>(getLe(body_.data(), 4));
        const auto set = static_cast<std::uint32_t>(getLe(body_.data() + 4, 4));
        if (name >= names_.size() || set > label_sets_.size()) return false;
        Sample sample;
        sample.name = names_[name];
        if (set > 0) sample.labels = label_sets_[set - 1];
        sample.value = std::bit_cast<double>(getLe(body_.data() + 8, 8));
        sample.timestamp_ms = static_cast<std::int64_t>(getLe(body_.data() + 16, 8));
        out_.samples.push_back(std::move(sample));
        body_.remove_prefix(24);
      } else if (tag == 'e') {
        auto count = readU32();
        if (!count) return false;
        auto bytes = readText();
        if (!bytes) return false;
        out_.encoded.append(*bytes);
        out_.encoded_samples += *count;
      } else {
        return false;
      }
    }
    return true;
  }

  std::optional<std::uint32_t> readU32() {
    if (body_.size() < 4) return std::nullopt;
    const auto v = static_cast<std::uint32_t>(getLe(body_.data(), 4));
    body_.remove_prefix(4);
    return v;
  }

  std::optional<std::string_view> readText() {
    auto size = readU32();
    if (!size || body_.size() < *size) return std::nullopt;
    const std::string_view text = body_.substr(0, *size);
    body_.remove_prefix(*size);
    return text;
  }

  BatchJournal::Leftover& out_;
  // The file's dictionary runs on across its records.
  std::vector<Symbol> names_;
  std::vector<Labels> label_sets_;
  std::string_view body_;
  LabelsBuilder builder_;
};

}  // namespace

BatchJournal::BatchJournal(std::string dir, PushMetrics& metrics, bool journal_new)
    : dir_(std::move(dir)), metrics_(metrics), journal_new_(journal_new) {}

BatchJournal::~BatchJournal() { close(); }

Result<std::unique_ptr<BatchJournal>> BatchJournal::open(std::string dir, PushMetrics& metrics,
                                                         bool journal_new) {
  std::unique_ptr<BatchJournal> journal(new BatchJournal(std::move(dir), metrics, journal_new));
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(journal->dir_, ec)) {
    if (auto seq = sequenceOf(entry.path().filename().string(), kSuffix)) {
      journal->leftovers_.push_back(*seq);
    }
  }
  if (ec) {
    return makeError(ErrorCode::kUnavailable,
                     "spool: cannot read directory " + journal->dir_ + ": " + ec.message());
  }
  std::sort(journal->leftovers_.begin(), journal->leftovers_.end());
  journal->next_seq_ =
      std::max(firstSequence(), journal->leftovers_.empty() ? 0 : journal->leftovers_.back() + 1);
  return journal;
}

std::string BatchJournal::path(std::uint64_t seq) const {
  return dir_ + "/" + numberedName(seq, kSuffix);
}

BatchJournal::Leftover BatchJournal::read(std::uint64_t seq) const {
  Leftover out;
  out.seq = seq;
  std::ifstream in(path(seq), std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BodyReader reader(out);
  std::string_view rest = data;
  while (!rest.empty()) {
    if (rest.size() < kHeaderBytes) return out.torn = true, out;
    const std::uint64_t length = getLe(rest.data(), 4);
    const auto crc = static_cast<std::uint32_t>(getLe(rest.data() + 4, 4));
    if (length > kMaxRecordBytes || rest.size() - kHeaderBytes < length) {
      return out.torn = true, out;
    }
    const std::string_view body = rest.substr(kHeaderBytes, length);
    if (crc32c(body) != crc || !reader.read(body)) return out.torn = true, out;
    rest.remove_prefix(kHeaderBytes + length);
  }
  return out;
}

char* BatchJournal::extendRecord(std::size_t n) {
  const std::size_t at = record_.size();
  // Doubling: resize() alone may grow to exactly the size asked, every time.
  if (record_.capacity() < at + n) record_.reserve(std::max(2 * record_.capacity(), at + n));
  record_.resize(at + n);
  return record_.data() + at;
}

std::uint32_t BatchJournal::nameIndex(const Symbol& name) {
  const auto [index, added] =
      names_.findOrAdd(name.id(), static_cast<std::uint32_t>(names_.size()));
  if (added) {
    kept_names_.push_back(name);
    record_.push_back('n');
    putText(record_, name.view());
  }
  return index;
}

std::uint32_t BatchJournal::labelsIndex(const Labels& labels) {
  if (labels.empty()) return 0;
  const auto [index, added] =
      label_sets_.findOrAdd(labels.id(), static_cast<std::uint32_t>(label_sets_.size() + 1));
  if (added) {
    kept_label_sets_.push_back(labels);
    // Sized first, then written through a pointer: one resize per set
    // rather than four appends per label.
    const std::span<const Label> items = labels.items();
    std::size_t size = 1 + 4;
    for (const Label& label : items) {
      size += 8 + label.name.view().size() + label.value.view().size();
    }
    char* p = extendRecord(size);
    *p++ = 'l';
    p = putLe32(p, static_cast<std::uint32_t>(items.size()));
    for (const Label& label : items) {
      for (const std::string_view text : {label.name.view(), label.value.view()}) {
        p = putLe32(p, static_cast<std::uint32_t>(text.size()));
        std::memcpy(p, text.data(), text.size());
        p += text.size();
      }
    }
  }
  return index;
}

bool BatchJournal::ready() {
  if (broken_ || !journal_new_) return false;
  if (fd_ >= 0) return true;
  seq_ = next_seq_++;
  fd_ = ::open(path(seq_).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ >= 0) return true;
  broken_ = true;
  metrics_.addJournalWriteError();
  metrics_.warn("journal", "spool: cannot create batch journal " + path(seq_) + ": " + errnoText() +
                               "; the batch being filled is in memory only");
  return false;
}

void BatchJournal::record(std::span<const Sample> samples) {
  if (samples.empty() || !ready()) return;
  // A scrape's whole batch (75,000 samples of a kube-state-metrics shard)
  // in one record would hold megabytes of buffer for the agent's lifetime:
  // records of at most kRecordSamples keep it small. The file's index of
  // names and label sets spans its records, so each record defines only
  // what is new to the file.
  for (std::size_t first = 0; first < samples.size() && !broken_; first += kRecordSamples) {
    writeRecord(samples.subspan(first, std::min(kRecordSamples, samples.size() - first)));
  }
}

void BatchJournal::writeRecord(std::span<const Sample> samples) {
  record_.assign(kHeaderBytes, '\0');
  record_.reserve(kHeaderBytes + samples.size() * 32);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    // A proxy's batch holds a new label set per sample, whose texts are
    // read from their interned nodes: misses, started here in stages (the
    // set's node, its symbols' slots, their texts), each a few samples
    // before the next needs what it loaded.
    prefetchLabelsAhead(i, samples.size(),
                        [&samples](std::size_t j) -> const Labels& { return samples[j].labels; });
    const Sample& sample = samples[i];
    const std::uint32_t name = nameIndex(sample.name);
    const std::uint32_t set = labelsIndex(sample.labels);
    char* p = extendRecord(kSampleEntryBytes);
    *p++ = 's';
    p = putLe32(p, name);
    p = putLe32(p, set);
    p = putLe64(p, std::bit_cast<std::uint64_t>(sample.value));
    putLe64(p, static_cast<std::uint64_t>(sample.timestamp_ms));
  }
  writeFramed();
}

void BatchJournal::recordEncoded(std::string_view encoded, std::size_t samples) {
  if (encoded.empty() || !ready()) return;
  // Framed without copying the bytes (a send()'s share of a batch): the
  // record's header and the entry's head, then the bytes, in two writes; a
  // kill between them leaves a torn record, which reading detects.
  constexpr std::size_t kEntryHead = 1 + 4 + 4;
  char head[kHeaderBytes + kEntryHead];
  char* p = head + kHeaderBytes;
  *p++ = 'e';
  p = putLe32(p, static_cast<std::uint32_t>(samples));
  putLe32(p, static_cast<std::uint32_t>(encoded.size()));
  const std::string_view entry_head(head + kHeaderBytes, kEntryHead);
  p = putLe32(head, static_cast<std::uint32_t>(kEntryHead + encoded.size()));
  putLe32(p, crc32c(encoded, crc32c(entry_head)));
  if (!writeAll(fd_, head, sizeof(head)) || !writeAll(fd_, encoded.data(), encoded.size())) {
    writeFailed();
  }
}

void BatchJournal::writeFramed() {
  const std::string_view body = std::string_view(record_).substr(kHeaderBytes);
  char* header = record_.data();
  header = putLe32(header, static_cast<std::uint32_t>(body.size()));
  putLe32(header, crc32c(body));
  if (!writeAll(fd_, record_.data(), record_.size())) writeFailed();
}

void BatchJournal::writeFailed() {
  broken_ = true;
  metrics_.addJournalWriteError();
  metrics_.warn("journal", "spool: cannot write batch journal " + path(seq_) + ": " + errnoText() +
                               "; the batch being filled is in memory only");
}

std::uint64_t BatchJournal::cut() {
  const std::uint64_t seq = fd_ >= 0 ? seq_ : 0;
  close();
  return seq;
}

void BatchJournal::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  broken_ = false;
  names_.clear();
  label_sets_.clear();
  kept_names_.clear();
  kept_label_sets_.clear();
}

void BatchJournal::release(std::uint64_t seq) const {
  if (seq != 0) ::unlink(path(seq).c_str());
}

}  // namespace kubemetrics::push
