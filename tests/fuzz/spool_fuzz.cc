// libFuzzer target for the spool reader (issue 13): segment files as a
// crash, a torn write, a flipped bit or a stale ack leave them. Each input
// is turned into records written by the real writer, then damaged as the
// input says, then reopened and drained. Invariants: opening never fails
// on damaged content, every record read back is one that was written,
// in the order written, and a drain ends with no record and no byte
// counted (a count without a readable record made the senders spin).
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/push/spool.h"
#include "fuzz_work_dir.h"

namespace {

using kubemetrics::push::EncodedPayload;
using kubemetrics::push::Spool;

const std::string& workDir() { return kubemetrics::testing::fuzzWorkDir(); }

Spool::Options options() {
  Spool::Options o;
  o.dir = workDir();
  o.max_bytes = 1 << 20;
  o.segment_bytes = 256;  // several segments from one input
  o.owner = "spool_fuzz";
  return o;
}

std::vector<std::string> segments() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(workDir())) {
    if (entry.path().extension() == ".seg") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The damage: byte 0 says which kinds, bytes 1..3 where.
void damage(std::string_view control, std::string_view tail) {
  const auto files = segments();
  if (files.empty() || control.size() < 4) return;
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(control[i]); };
  const std::string& victim = files[byte(1) % files.size()];
  const auto size = std::filesystem::file_size(victim);
  if ((byte(0) & 1) != 0 && size > 0) {  // torn tail
    std::filesystem::resize_file(victim, size - std::min<std::uintmax_t>(size, byte(2) + 1));
  }
  if ((byte(0) & 2) != 0 && size > 0) {  // flipped byte
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>((byte(3) * 7u) % size));
    f.put(static_cast<char>(byte(2) ^ 0x5a));
  }
  if ((byte(0) & 4) != 0) {  // garbage appended
    std::ofstream(files.back(), std::ios::app | std::ios::binary) << tail;
  }
  if ((byte(0) & 8) != 0) {  // an ack at any offset, even past the end
    std::ofstream(victim.substr(0, victim.size() - 4) + ".ack") << byte(3) * 13u << "\n";
  }
  if ((byte(0) & 16) != 0) {  // a stale ack of a segment that is gone
    std::ofstream(workDir() + "/00000000000000000001.ack") << "5\n";
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::filesystem::remove_all(workDir());
  std::filesystem::create_directories(workDir());
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // Records: the pieces between 0xff bytes; the last piece is the control
  // bytes and the garbage tail.
  std::vector<std::string> written;
  std::size_t at = 0;
  for (std::size_t next; (next = input.find('\xff', at)) != std::string_view::npos; at = next + 1) {
    written.emplace_back(input.substr(at, next - at));
  }
  const std::string_view last = input.substr(at);
  {
    auto spool = Spool::open(options());
    if (!spool) std::abort();
    for (const std::string& body : written) {
      EncodedPayload payload;
      payload.body = body;
      payload.samples = body.size();
      payload.content_encoding = "snappy";
      if (!(*spool)->append(payload)) std::abort();
    }
  }
  damage(last.substr(0, 4), last.size() > 4 ? last.substr(4) : std::string_view());
  // An ack the spool did not write may point inside a body that embeds a
  // well-formed record: acks are trusted, so only the counts are checked.
  const bool ack_forged = last.size() >= 4 && (static_cast<unsigned char>(last[0]) & 8) != 0;

  auto spool = Spool::open(options());
  if (!spool) std::abort();  // damaged content never stops the agent
  std::size_t next_written = 0;
  for (std::size_t reads = 0; reads <= written.size() + 16; ++reads) {
    auto record = (*spool)->peekOldest();
    if (!record) break;
    // A record read back was written, and none comes before an older one.
    while (next_written < written.size() && written[next_written] != record->payload.body) {
      ++next_written;
    }
    if (next_written == written.size() && !ack_forged) std::abort();
    if (next_written < written.size()) ++next_written;
    (*spool)->pop(record->id);
  }
  if ((*spool)->records() != 0 || (*spool)->bytes() != 0) std::abort();
  return 0;
}
