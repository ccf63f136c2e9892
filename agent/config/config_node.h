#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kubemetrics {

/// One configuration problem: `path` is the YAML key path
/// ("exporters.wavefront.url"), `reason` says what is wrong and what was
/// given ("missing scheme (got \"wavefront-proxy:2878\")").
struct ConfigError {
  std::string path;
  std::string reason;
  std::string toString() const { return path + ": " + reason; }
};

/// Shared state of one configuration load: every error found (the loader
/// reports them all at once, not the first only) and the effective
/// configuration (every key with the value in force, defaults included),
/// which --check-config prints. Not thread-safe: used at start-up only.
class ConfigDocument;

/// A cursor on one YAML mapping (or sequence) of the configuration file, at
/// a known key path. Typed getters read a key, check it, record the value in
/// force in the effective configuration, and on a bad value record a
/// ConfigError with the full path and return the default, so parsing goes on
/// and every error is reported. finish() reports keys nobody read as
/// "unknown key". Not thread-safe: start-up only.
class ConfigNode {
 public:
  ConfigNode(std::shared_ptr<ConfigDocument> doc, YAML::Node node, YAML::Node effective,
             std::string path);

  const std::string& path() const { return path_; }
  /// Full path of `key` under this node ("sources.host.interval").
  std::string pathOf(std::string_view key) const;
  bool has(std::string_view key) const;
  bool isSequence() const;

  std::string getString(std::string_view key, std::string def);
  bool getBool(std::string_view key, bool def);
  std::int64_t getInt(std::string_view key, std::int64_t def, std::int64_t min, std::int64_t max);
  /// "500ms", "15s", "1m30s", "2h"; must be > 0.
  std::chrono::milliseconds getDuration(std::string_view key, std::chrono::milliseconds def);
  /// "1024", "64KiB", "512MiB", "1GiB", "10MB"; must be > 0.
  std::uint64_t getBytes(std::string_view key, std::uint64_t def);
  /// One of `allowed`.
  std::string getEnum(std::string_view key, std::string def,
                      const std::vector<std::string>& allowed);
  /// `def` when the key is absent; an explicit `[]` gives an empty list.
  std::vector<std::string> getStringList(std::string_view key, std::vector<std::string> def = {});
  std::map<std::string, std::string> getStringMap(std::string_view key);

  /// The mapping under `key` (an empty one when absent). A sequence there is
  /// kept for elementsOfSelf(); finish() reports it unless that read it.
  ConfigNode child(std::string_view key);
  /// The elements of this node when it is a sequence (child() of a list, as
  /// `sources.prometheus`), each at path "path[i]"; none when this is an
  /// empty mapping (the key was absent); an error for a non-empty mapping.
  std::vector<ConfigNode> elementsOfSelf();
  /// The elements of the sequence under `key` (none when absent), each at
  /// path "key[i]".
  std::vector<ConfigNode> elements(std::string_view key);
  /// Keys of this mapping, in file order (for maps of named components).
  std::vector<std::string> keys() const;

  /// Records an error at `key` under this node (for cross-field checks).
  void error(std::string_view key, std::string reason);
  /// Reports every key of this mapping no getter or child() read.
  void finish();

 private:
  std::shared_ptr<ConfigDocument> doc_;
  YAML::Node node_;
  YAML::Node effective_;
  std::string path_;
  std::vector<std::string> read_;
  bool elements_read_ = false;  // elementsOfSelf() consumed this sequence
};

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
