#include "common/core/file_signature.h"

#include <sys/stat.h>

namespace kubemetrics {

std::optional<FileSignature> FileSignature::of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  FileSignature signature;
  signature.device = static_cast<std::uint64_t>(st.st_dev);
  signature.inode = static_cast<std::uint64_t>(st.st_ino);
  signature.size = static_cast<std::int64_t>(st.st_size);
  signature.mtime_ns =
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return signature;
}

}  // namespace kubemetrics
