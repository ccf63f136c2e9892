// libFuzzer target for the batch journal reader (issue 13): the file a
// SIGKILL leaves while a batch is being filled, torn, with a flipped byte,
// or replaced by garbage. Each input is turned into records written by the
// real writer (samples made from its bytes, or, as an appending encoder's
// exporter writes them, the bytes themselves as 'e' records), then damaged
// as the input says, then read back. Invariants: reading never crashes,
// what it returns is a prefix of what was written (sample for sample, bit
// for bit; encoded bytes whole records at a time, with their sample
// counts), and an undamaged file comes back whole and not torn.
#include <unistd.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "common/push/batch_journal.h"
#include "fuzz_work_dir.h"

namespace {

using kubemetrics::LabelsBuilder;
using kubemetrics::Sample;
using kubemetrics::Symbol;
using kubemetrics::push::BatchJournal;
using kubemetrics::push::PushMetrics;

const std::string& workDir() { return kubemetrics::testing::fuzzWorkDir(); }

PushMetrics& metrics() {
  static prometheus::Registry registry;
  static PushMetrics m(registry, "journal_fuzz");
  return m;
}

// Four bytes make a sample: a name, a label set (0 = none), value bits and
// timestamp drawn from them, so series repeat within and across records.
std::vector<Sample> samplesOf(std::string_view piece) {
  std::vector<Sample> out;
  for (std::size_t i = 0; i + 4 <= piece.size(); i += 4) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(piece[i + k]); };
    Sample s;
    s.name = Symbol::intern("metric_" + std::to_string(b(0) % 7));
    if (b(1) % 5 != 0) {
      s.labels =
          LabelsBuilder()
              .set("pod", "p" + std::to_string(b(1) % 5))
              .set(std::string(1, static_cast<char>('a' + b(1) % 3)), std::string(1, piece[i + 2]))
              .build();
    }
    s.value = std::bit_cast<double>(0x0101010101010101ULL * b(2) ^ (std::uint64_t{b(3)} << 52));
    s.timestamp_ms = static_cast<std::int64_t>(b(3)) * 1000 - 5000;
    out.push_back(std::move(s));
  }
  return out;
}

bool same(const Sample& a, const Sample& b) {
  return a.name == b.name && a.labels == b.labels &&
         std::bit_cast<std::uint64_t>(a.value) == std::bit_cast<std::uint64_t>(b.value) &&
         a.timestamp_ms == b.timestamp_ms;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::filesystem::remove_all(workDir());
  std::filesystem::create_directories(workDir());
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // Records: the pieces between 0xff bytes; the last piece is the control
  // bytes (kind of damage, where, and with bit 8 of its first byte: pieces
  // recorded as encoded bytes) and, for garbage, the file's new content.
  const std::size_t last = input.rfind('\xff');
  const std::string_view control = last == std::string_view::npos ? input : input.substr(last + 1);
  const bool encoded = !control.empty() && (static_cast<unsigned char>(control[0]) & 8) != 0;
  std::vector<Sample> written;
  // Encoded mode: after each record, the bytes and samples written so far.
  std::vector<std::pair<std::size_t, std::size_t>> encoded_prefixes{{0, 0}};
  std::string written_bytes;
  std::uint64_t seq = 0;
  {
    auto journal = BatchJournal::open(workDir(), metrics());
    if (!journal) std::abort();
    for (std::size_t at = 0, next; (next = input.find('\xff', at)) != std::string_view::npos;
         at = next + 1) {
      const std::string_view piece = input.substr(at, next - at);
      if (encoded) {
        if (piece.empty()) continue;                   // nothing to record (recordEncoded skips it)
        const std::size_t samples = piece.size() / 4;  // any count: it is carried, not checked
        (*journal)->recordEncoded(piece, samples);
        written_bytes.append(piece);
        encoded_prefixes.emplace_back(written_bytes.size(),
                                      encoded_prefixes.back().second + samples);
        continue;
      }
      const std::vector<Sample> batch = samplesOf(piece);
      (*journal)->record(batch);
      written.insert(written.end(), batch.begin(), batch.end());
    }
    seq = (*journal)->cut();
  }
  if (seq == 0) return 0;  // nothing was recorded
  std::string path;
  for (const auto& entry : std::filesystem::directory_iterator(workDir())) {
    path = entry.path().string();
  }
  bool damaged = false;
  bool garbage = false;
  if (control.size() >= 3) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(control[i]); };
    const auto file_size = std::filesystem::file_size(path);
    if ((byte(0) & 1) != 0) {  // torn tail
      std::filesystem::resize_file(path,
                                   file_size - std::min<std::uintmax_t>(file_size, byte(1) + 1));
      damaged = true;
    }
    if ((byte(0) & 2) != 0 && file_size > 0) {  // flipped byte
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>((byte(2) * 131u) % file_size));
      f.put(static_cast<char>(byte(1) ^ 0x5a));
      damaged = true;
    }
    if ((byte(0) & 4) != 0) {  // garbage instead
      std::ofstream(path, std::ios::binary | std::ios::trunc) << control.substr(3);
      damaged = garbage = true;
    }
  }
  auto reader = BatchJournal::open(workDir(), metrics());
  if (!reader || (*reader)->leftovers().size() != 1) std::abort();
  const BatchJournal::Leftover left = (*reader)->read((*reader)->leftovers()[0]);
  if (encoded && !garbage) {
    // Whole records only: the bytes read end where a record ended, with
    // the samples recorded up to there.
    if (!left.samples.empty()) std::abort();
    if (!damaged && (left.torn || left.encoded.size() != written_bytes.size())) std::abort();
    bool whole_records = false;
    for (const auto& [prefix_bytes, prefix_samples] : encoded_prefixes) {
      whole_records |=
          left.encoded.size() == prefix_bytes && left.encoded_samples == prefix_samples;
    }
    if (!whole_records ||
        std::string_view(written_bytes).substr(0, left.encoded.size()) != left.encoded) {
      std::abort();
    }
    return 0;
  }
  if (!garbage && !left.encoded.empty()) std::abort();  // only samples were written
  if (left.samples.size() > written.size()) {
    // Garbage may spell well-formed records of its own; nothing to compare.
    if (!damaged) std::abort();
    return 0;
  }
  for (std::size_t i = 0; i < left.samples.size() && !garbage; ++i) {
    if (!same(left.samples[i], written[i])) std::abort();
  }
  if (!damaged && (left.torn || left.samples.size() != written.size())) std::abort();
  return 0;
}
