#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "kubemetrics/config.h"

namespace kubemetrics::scrapers::host {

/// node_exporter's default --collector.filesystem.fs-types-exclude: virtual
/// and read-only image file systems whose sizes mean nothing to capacity
/// dashboards.
std::vector<std::string> defaultExcludedFsTypes();

/// `sources.host:`: node CPU, memory, network and file systems from /proc
/// and statvfs. Immutable after parsing.
struct HostConfig {
  bool enabled = true;
  std::chrono::milliseconds interval{15000};  // scrape period; default 15s
  // Where the host's procfs is mounted (/proc, or e.g. /host/proc in a
  // container); default "/proc".
  std::string proc_path = "/proc";
  // Prefix for statvfs of each mount point, so a container that mounts the
  // host root at /host measures the host's file systems; default "/".
  std::string rootfs_path = "/";
  // File system types (exact names) left out of node_filesystem_*; default
  // defaultExcludedFsTypes().
  std::vector<std::string> exclude_fs_types = defaultExcludedFsTypes();
};

/// Reads `sources.host`, recording bad values in the node's document (and
/// keeping the default for them), then reports unknown keys (node.finish()).
HostConfig parseHostConfig(ConfigNode& node);

}  // namespace kubemetrics::scrapers::host
