#include "config.h"

namespace kubemetrics::scrapers::host {

// node_exporter's list, plus the network filesystems: statvfs() on a
// mount whose server is gone (an EFS or NFS volume, a CIFS share) blocks
// in the kernel without a timeout, and would hold up the host source and
// the agent's shutdown with it. Their capacity is the server's, not the
// node's.
std::vector<std::string> defaultExcludedFsTypes() {
  return {"autofs",     "binfmt_misc", "bpf",       "cgroup",   "cgroup2",   "configfs",
          "debugfs",    "devpts",      "devtmpfs",  "fusectl",  "hugetlbfs", "iso9660",
          "mqueue",     "nsfs",        "overlay",   "proc",     "procfs",    "pstore",
          "rpc_pipefs", "securityfs",  "selinuxfs", "squashfs", "sysfs",     "tracefs",
          "nfs",        "nfs4",        "cifs",      "smb3",     "ceph",      "fuse.sshfs"};
}

std::vector<std::string> defaultExcludedMountPoints() {
  return {"/var/lib/kubelet/pods/", "/var/lib/docker/", "/var/lib/containers/storage/",
          "/var/lib/containerd/",   "/run/containerd/", "/run/credentials/"};
}

HostConfig parseHostConfig(ConfigNode& node) {
  HostConfig config;
  config.enabled = node.getBool("enabled", config.enabled);
  config.interval = node.getDuration("interval", config.interval);
  config.proc_path = node.getString("proc_path", config.proc_path);
  if (config.proc_path.empty() || config.proc_path.front() != '/') {
    node.error("proc_path", "must be an absolute path (got \"" + config.proc_path + "\")");
    config.proc_path = HostConfig().proc_path;
  }
  config.rootfs_path = node.getString("rootfs_path", config.rootfs_path);
  if (config.rootfs_path.empty() || config.rootfs_path.front() != '/') {
    node.error("rootfs_path", "must be an absolute path (got \"" + config.rootfs_path + "\")");
    config.rootfs_path = HostConfig().rootfs_path;
  }
  // An explicit list replaces the defaults; `exclude_fs_types: []` excludes nothing.
  config.exclude_fs_types = node.getStringList("exclude_fs_types", config.exclude_fs_types);
  config.exclude_mount_points =
      node.getStringList("exclude_mount_points", config.exclude_mount_points);
  for (const std::string& prefix : config.exclude_mount_points) {
    if (prefix.empty() || prefix.front() != '/') {
      node.error("exclude_mount_points",
                 "each entry must be an absolute path prefix (got \"" + prefix + "\")");
      config.exclude_mount_points = defaultExcludedMountPoints();
      break;
    }
  }
  node.finish();
  return config;
}

}  // namespace kubemetrics::scrapers::host
