#include <utility>

#include "common/push/push_exporter.h"

namespace kubemetrics::push {
namespace {

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

}  // namespace

std::vector<ConfigError> validateSpoolConfig(const SpoolConfig& spool) {
  std::vector<ConfigError> errors;
  if (spool.enabled && spool.dir.empty()) errors.push_back({"dir", "must not be empty"});
  if (spool.enabled && !spool.dir.empty() && spool.dir.front() != '/') {
    errors.push_back({"dir", "must be an absolute path (got \"" + spool.dir + "\")"});
  }
  if (spool.max_bytes < 1024 * 1024) errors.push_back({"max_bytes", "must be at least 1MiB"});
  if (spool.segment_bytes < 64 * 1024)
    errors.push_back({"segment_bytes", "must be at least 64KiB"});
  if (spool.segment_bytes > spool.max_bytes) {
    errors.push_back({"segment_bytes", "must not exceed max_bytes"});
  }
  return errors;
}

std::vector<ConfigError> PushConfig::validate() const {
  std::vector<ConfigError> errors;
  if (timeout.count() <= 0) errors.push_back({"timeout", "must be > 0"});
  if (batch.max_samples == 0) errors.push_back({"batch.max_samples", "must be > 0"});
  if (batch.max_bytes == 0) errors.push_back({"batch.max_bytes", "must be > 0"});
  if (batch.max_wait.count() <= 0) errors.push_back({"batch.max_wait", "must be > 0"});
  if (max_in_flight < 1 || max_in_flight > 64) {
    errors.push_back({"max_in_flight", "must be in [1, 64]"});
  }
  if (queue_capacity == 0) errors.push_back({"queue_capacity", "must be > 0"});
  if (retry.initial_backoff.count() <= 0) {
    errors.push_back({"retry.initial_backoff", "must be > 0"});
  }
  if (retry.max_backoff < retry.initial_backoff) {
    errors.push_back({"retry.max_backoff", "must be >= retry.initial_backoff (got " +
                                               ms(retry.max_backoff) + " < " +
                                               ms(retry.initial_backoff) + ")"});
  }
  if (retry.max_attempts < 1) errors.push_back({"retry.max_attempts", "must be >= 1"});
  if (self_metrics_interval < std::chrono::seconds(1)) {
    errors.push_back(
        {"self_metrics_interval", "must be at least 1s (got " + ms(self_metrics_interval) + ")"});
  }
  return errors;
}

void parsePushConfig(ConfigNode& node, PushConfig& config) {
  config.timeout = node.getDuration("timeout", config.timeout);
  {
    ConfigNode batch = node.child("batch");
    config.batch.max_samples = static_cast<std::size_t>(batch.getInt(
        "max_samples", static_cast<std::int64_t>(config.batch.max_samples), 1, 1000000));
    config.batch.max_bytes = batch.getBytes("max_bytes", config.batch.max_bytes);
    config.batch.max_wait = batch.getDuration("max_wait", config.batch.max_wait);
    batch.finish();
  }
  config.max_in_flight =
      static_cast<int>(node.getInt("max_in_flight", config.max_in_flight, 1, 64));
  config.queue_capacity = static_cast<std::size_t>(
      node.getInt("queue_capacity", static_cast<std::int64_t>(config.queue_capacity), 1, 4096));
  {
    ConfigNode retry = node.child("retry");
    config.retry.initial_backoff =
        retry.getDuration("initial_backoff", config.retry.initial_backoff);
    config.retry.max_backoff = retry.getDuration("max_backoff", config.retry.max_backoff);
    config.retry.max_attempts =
        static_cast<int>(retry.getInt("max_attempts", config.retry.max_attempts, 1, 1000));
    retry.finish();
  }
  config.self_metrics = node.getBool("self_metrics", config.self_metrics);
  config.self_metrics_interval =
      node.getDuration("self_metrics_interval", config.self_metrics_interval);
  for (ConfigError& error : config.validate()) {
    if (error.path.rfind("retry.max_backoff", 0) == 0) {
      config.retry.max_backoff = config.retry.initial_backoff;
    }
    node.error(error.path, std::move(error.reason));
  }
}

SpoolConfig parseSpoolConfig(ConfigNode& node) {
  SpoolConfig config;
  config.enabled = node.getBool("enabled", config.enabled);
  if (node.getEnum("mode", "wal", {"wal", "overflow"}) == "overflow") {
    config.mode = SpoolConfig::Mode::kOverflow;
  }
  config.dir = node.getString("dir", config.dir);
  config.max_bytes = node.getBytes("max_bytes", config.max_bytes);
  config.segment_bytes = node.getBytes("segment_bytes", config.segment_bytes);
  config.sync = node.getBool("sync", config.sync);
  for (ConfigError& error : validateSpoolConfig(config)) {
    node.error(error.path, std::move(error.reason));
  }
  node.finish();
  return config;
}

}  // namespace kubemetrics::push
