#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace kubemetrics {

/// What identifies one version of a file without reading it: device, inode,
/// size and modification time (ns), of the file a path resolves to now
/// (symlinks followed). A Kubernetes Secret or ConfigMap volume swaps its
/// `..data` symlink on update, and cert-manager rewrites files in place:
/// either changes the signature. Plain value; compare with ==.
struct FileSignature {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;

  /// The signature of `path` now; nullopt when it cannot be stat()ed.
  static std::optional<FileSignature> of(const std::string& path);

  friend bool operator==(const FileSignature&, const FileSignature&) = default;
};

}  // namespace kubemetrics
