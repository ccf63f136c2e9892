#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kubemetrics/config.h"

namespace kubemetrics {

/// Shared state of one configuration load: every error found (the loader
/// reports them all at once, not the first only) and the effective
/// configuration (every key with the value in force, defaults included),
/// which --check-config prints. Not thread-safe: used at start-up only.
class ConfigDocument : public std::enable_shared_from_this<ConfigDocument> {
 public:
  /// Parses YAML text after ${VAR} expansion (see expandEnv). A syntax error
  /// or an unset variable becomes a ConfigError; the document is then empty.
  static std::shared_ptr<ConfigDocument> parse(std::string_view text, std::string origin);
  /// Reads and parses a file; an unreadable file is a ConfigError.
  static std::shared_ptr<ConfigDocument> load(const std::string& file);

  ConfigNode root();
  void addError(std::string path, std::string reason);
  const std::vector<ConfigError>& errors() const { return errors_; }
  /// The effective configuration as YAML, for --check-config.
  std::string effectiveYaml() const;
  /// Where the text came from ("/etc/kubemetrics/config.yaml", "built-in default").
  const std::string& origin() const { return origin_; }

 private:
  ConfigDocument() = default;
  std::string origin_;
  YAML::Node root_;
  YAML::Node effective_;
  std::vector<ConfigError> errors_;
};

/// Replaces ${VAR} with the environment variable's value; ${VAR:-default}
/// uses `default` when VAR is unset or empty; $$ is a literal '$'. An unset
/// variable without default is an error naming it (and its line).
std::string expandEnv(std::string_view text, std::vector<ConfigError>& errors);

}  // namespace kubemetrics
