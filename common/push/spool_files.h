#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kubemetrics::push {

/// The file primitives the spool (spool.h) and the batch journal
/// (batch_journal.h) share: little-endian fields, whole writes and reads
/// across EINTR and short counts, numbered file names. Pure functions over
/// their arguments; thread-safe.

inline void putU32(std::string& out, std::uint32_t v) {
  const char bytes[4] = {static_cast<char>(v), static_cast<char>(v >> 8),
                         static_cast<char>(v >> 16), static_cast<char>(v >> 24)};
  out.append(bytes, sizeof(bytes));
}
inline void putU64(std::string& out, std::uint64_t v) {
  putU32(out, static_cast<std::uint32_t>(v));
  putU32(out, static_cast<std::uint32_t>(v >> 32));
}
/// The `n`-byte little-endian number at `p`.
std::uint64_t getLe(const char* p, int n);

/// strerror(errno), for error messages.
std::string errnoText();
/// Writes all of `data` (false with errno set on an error).
bool writeAll(int fd, const char* data, std::size_t size);
/// Reads exactly `size` bytes at `offset` (false on an error or end of file).
bool preadAll(int fd, char* data, std::size_t size, std::uint64_t offset);
/// fsync()s the directory, making its entries (a new file, a rename) durable.
bool syncDirectory(const std::string& dir);

/// "<20-digit seq><suffix>" (a file name; numbers sort as names do).
std::string numberedName(std::uint64_t seq, std::string_view suffix);
/// The number of a "<20 digits><suffix>" name; nullopt for any other name.
std::optional<std::uint64_t> sequenceOf(const std::string& file, std::string_view suffix);
/// The wall clock's microseconds: file numbers start past it, so a name is
/// never used twice even when every earlier file is gone.
std::uint64_t firstSequence();

}  // namespace kubemetrics::push
