#include "agent/sharding_config.h"

#include <string>

#include "common/scrape/shard.h"

namespace kubemetrics {

void parseSharding(ConfigNode& node, AgentIdentity& identity) {
  identity.total_shards = static_cast<int>(node.getInt("total_shards", 1, 1, 1024));
  const std::string shard = node.getString("shard", "0");
  const std::optional<int> ordinal = scrape::parseShardOrdinal(shard);
  if (!ordinal) {
    node.error("shard",
               "must be a replica ordinal (a number, or a StatefulSet pod name ending in "
               "-<ordinal>, e.g. ${POD_NAME}) (got \"" +
                   shard + "\")");
  } else if (*ordinal >= identity.total_shards) {
    node.error("shard", "must be below total_shards (" + std::to_string(identity.total_shards) +
                            ") (got " + std::to_string(*ordinal) + " from \"" + shard + "\")");
  } else {
    identity.shard = *ordinal;
  }
  if (identity.role != "cluster" && identity.total_shards > 1) {
    node.error("total_shards",
               "sharding is for role: cluster (the DaemonSet's agents each own their node)");
  }
  node.finish();
}

}  // namespace kubemetrics
