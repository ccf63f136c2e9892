#pragma once

#include "kubemetrics/component.h"
#include "kubemetrics/config.h"

namespace kubemetrics {

/// Reads `sharding:` into identity.shard / identity.total_shards (after
/// identity.role is known): `total_shards` (1-1024, default 1) replicas of
/// the cluster role, and `shard`, this replica's ordinal, as a number or a
/// StatefulSet pod name whose ordinal suffix is taken (`${POD_NAME}`),
/// default 0, below total_shards. More than one shard with role: node is
/// an error (a DaemonSet agent owns its node, not a shard). Errors go to
/// the node's document with their key path; node.finish() reports unknown
/// keys.
void parseSharding(ConfigNode& node, AgentIdentity& identity);

}  // namespace kubemetrics
