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
/// The pod volumes (every Secret, ConfigMap and emptyDir of every pod is a
/// tmpfs or bind mount under the kubelet's directory) and the container
/// runtimes' trees: per-pod, not the node's capacity, and hundreds of them.
std::vector<std::string> defaultExcludedMountPoints();

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
  // Mount point prefixes left out of node_filesystem_* (a mount point that
  // starts with one); default defaultExcludedMountPoints().
  std::vector<std::string> exclude_mount_points = defaultExcludedMountPoints();
};

/// Reads `sources.host`, recording bad values in the node's document (and
/// keeping the default for them), then reports unknown keys (node.finish()).
HostConfig parseHostConfig(ConfigNode& node);

}  // namespace kubemetrics::scrapers::host
