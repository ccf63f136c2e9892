#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace YAML {
class Node;
}  // namespace YAML

namespace kubemetrics {

/// One configuration problem: `path` is the YAML key path
/// ("exporters.wavefront.url"), `reason` says what is wrong and what was
/// given ("missing scheme (got \"wavefront-proxy:2878\")").
struct ConfigError {
  std::string path;
  std::string reason;
  std::string toString() const { return path + ": " + reason; }
};

/// One configuration load (common/config/config_document.h).
class ConfigDocument;

/// A cursor on one YAML mapping (or sequence) of the configuration file, at
/// a known key path. Typed getters read a key, check it, record the value in
/// force in the effective configuration, and on a bad value record a
/// ConfigError with the full path and return the default, so parsing goes on
/// and every error is reported. finish() reports keys nobody read as
/// "unknown key". Not thread-safe: start-up only.
class ConfigNode {
 public:
  ConfigNode(ConfigNode&&) noexcept;
  ConfigNode& operator=(ConfigNode&&) noexcept;
  ~ConfigNode();

  /// Key path of this node ("sources.host"; "" for the root).
  const std::string& path() const;
  /// Full path of `key` under this node ("sources.host.interval").
  std::string pathOf(std::string_view key) const;
  bool has(std::string_view key) const;
  bool isSequence() const;

  std::string getString(std::string_view key, std::string def);
  bool getBool(std::string_view key, bool def);
  std::int64_t getInt(std::string_view key, std::int64_t def, std::int64_t min, std::int64_t max);
  /// "500ms", "15s", "1m30s", "2h"; must be > 0.
  std::chrono::milliseconds getDuration(std::string_view key, std::chrono::milliseconds def);
  /// "1024", "64KiB", "512MiB", "1GiB", "10MB"; must be > 0 unless
  /// `allow_zero` (for a size where 0 means "none").
  std::uint64_t getBytes(std::string_view key, std::uint64_t def, bool allow_zero = false);
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
  friend class ConfigDocument;
  // The YAML behind it, kept out of this header so components do not
  // compile yaml-cpp (common/config/config_node.cc).
  struct State;
  explicit ConfigNode(std::unique_ptr<State> state);
  static ConfigNode make(std::shared_ptr<ConfigDocument> doc, YAML::Node node, YAML::Node effective,
                         std::string path);
  std::unique_ptr<State> state_;
};

}  // namespace kubemetrics
