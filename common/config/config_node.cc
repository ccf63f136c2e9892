#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <utility>

#include "common/config/config_document.h"
#include "common/config/units.h"

namespace kubemetrics {
namespace {

// Looks `key` up by walking the mapping. yaml-cpp's operator[] inserts on a
// non-const node and throws on a scalar one, and neither is wanted here.
std::optional<YAML::Node> lookup(const YAML::Node& map, std::string_view key) {
  if (!map.IsMap()) return std::nullopt;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
  }
  return std::nullopt;
}

// A key written with no value (`interval:` or `interval: ~`) means "use the
// default", which is also what `${VAR:-}` expanding to nothing produces.
std::optional<YAML::Node> presentValue(const YAML::Node& map, std::string_view key) {
  auto value = lookup(map, key);
  if (!value || value->IsNull()) return std::nullopt;
  return value;
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  out += '"';
  return out;
}

// What the user wrote, for the "(got ...)" part of a reason.
std::string describe(const YAML::Node& node) {
  if (node.IsScalar()) return quote(node.Scalar());
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "nothing";
}

std::string got(const YAML::Node& node) { return " (got " + describe(node) + ")"; }

// Optimal string alignment distance: a swapped pair of letters counts as one
// edit, the commonest typo in a key name.
std::size_t editDistance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

bool isVarStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isVarChar(char c) { return isVarStart(c) || (c >= '0' && c <= '9'); }

bool isVarName(std::string_view name) {
  if (name.empty() || !isVarStart(name[0])) return false;
  return std::all_of(name.begin(), name.end(), isVarChar);
}

// Block style throughout, except that empty collections stay on their key's
// line ("tags: {}"), where yaml-cpp would put them alone on the next one.
void emitReadable(YAML::Emitter& out, const YAML::Node& node) {
  if (node.IsMap()) {
    if (node.size() == 0) {
      out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
      return;
    }
    out << YAML::BeginMap;
    for (auto it = node.begin(); it != node.end(); ++it) {
      out << YAML::Key << it->first << YAML::Value;
      emitReadable(out, it->second);
    }
    out << YAML::EndMap;
  } else if (node.IsSequence()) {
    if (node.size() == 0) {
      out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
      return;
    }
    out << YAML::BeginSeq;
    for (auto it = node.begin(); it != node.end(); ++it) emitReadable(out, *it);
    out << YAML::EndSeq;
  } else {
    out << node;
  }
}

constexpr const char* kReferenceForms = "(expected ${NAME} or ${NAME:-default})";

// Appends a variable's value. Where it is the host of a URL (right after
// "//" or "@") and an IPv6 address, in brackets as a URL needs them:
// `https://${NODE_IP}:10250/` on an IPv6 node is https://[fd00::1]:10250/.
void appendValue(std::string& out, std::string_view value) {
  const bool url_host = out.ends_with("//") || out.ends_with("@");
  const bool ipv6 = value.find(':') != std::string_view::npos && !value.starts_with("[");
  if (url_host && ipv6) {
    out.push_back('[');
    out.append(value);
    out.push_back(']');
  } else {
    out.append(value);
  }
}

}  // namespace

// ---------------------------------------------------------------- expandEnv

std::string expandEnv(std::string_view text, std::vector<ConfigError>& errors) {
  std::string out;
  out.reserve(text.size());
  int line = 1;
  bool onlyBlanks = true;  // nothing but blanks so far on this line
  std::size_t i = 0;
  auto fail = [&](std::string reason) {
    errors.push_back(ConfigError{"line " + std::to_string(line), std::move(reason)});
  };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      onlyBlanks = true;
      out += c;
      ++i;
      continue;
    }
    if (onlyBlanks && c == '#') {
      // A whole-line comment is copied untouched so that documenting a
      // variable ("# set ${NODE_NAME} in the pod spec") never breaks a load.
      const std::size_t end = std::min(text.find('\n', i), text.size());
      out.append(text.substr(i, end - i));
      i = end;
      continue;
    }
    if (c != ' ' && c != '\t') onlyBlanks = false;
    if (c != '$') {
      out += c;
      ++i;
      continue;
    }
    const char next = i + 1 < text.size() ? text[i + 1] : '\0';
    if (next == '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next != '{') {
      out += '$';
      ++i;
      continue;
    }
    const std::size_t close = text.find_first_of("}\n", i + 2);
    if (close == std::string_view::npos || text[close] != '}') {
      const std::size_t end = close == std::string_view::npos ? text.size() : close;
      fail("unterminated variable reference " + quote(text.substr(i, end - i)) +
           " (missing \"}\")");
      i = end;
      continue;
    }
    const std::string_view reference = text.substr(i, close + 1 - i);
    const std::string_view body = text.substr(i + 2, close - i - 2);
    i = close + 1;
    const std::size_t dash = body.find(":-");
    const std::string_view name = body.substr(0, dash);
    std::optional<std::string_view> fallback;
    if (dash != std::string_view::npos) fallback = body.substr(dash + 2);
    if (!isVarName(name)) {
      fail("malformed variable reference " + quote(reference) + " " + kReferenceForms);
      continue;
    }
    if (fallback && fallback->find("${") != std::string_view::npos) {
      fail("malformed variable reference " + quote(reference) +
           ": a default cannot contain another reference");
      continue;
    }
    const std::string nameString(name);
    const char* value = std::getenv(nameString.c_str());
    if (fallback) {
      appendValue(out, (value != nullptr && *value != '\0') ? std::string_view(value) : *fallback);
    } else if (value != nullptr) {
      appendValue(out, value);
    } else {
      fail("environment variable " + nameString + " is not set (use ${" + nameString +
           ":-default} for a default)");
    }
  }
  return out;
}

// ------------------------------------------------------------ ConfigDocument

std::shared_ptr<ConfigDocument> ConfigDocument::parse(std::string_view text, std::string origin) {
  std::shared_ptr<ConfigDocument> doc(new ConfigDocument());
  doc->origin_ = std::move(origin);
  doc->effective_ = YAML::Node(YAML::NodeType::Map);
  // Until the text parses the document is an empty mapping; root_ is
  // assigned exactly once (see child() on YAML::Node assignment).
  YAML::Node root(YAML::NodeType::Map);
  auto finishWith = [&doc](const YAML::Node& node) {
    doc->root_ = node;
    return doc;
  };

  std::vector<ConfigError> envErrors;
  const std::string expanded = expandEnv(text, envErrors);
  for (ConfigError& e : envErrors) {
    doc->addError(doc->origin_, e.path + ": " + e.reason);
  }
  YAML::Node parsed;
  try {
    parsed = YAML::Load(expanded);
  } catch (const YAML::Exception& e) {
    std::string reason = e.msg;
    if (!e.mark.is_null()) {
      reason = "line " + std::to_string(e.mark.line + 1) + ", column " +
               std::to_string(e.mark.column + 1) + ": " + e.msg;
    }
    doc->addError(doc->origin_, std::move(reason));
    return finishWith(root);
  } catch (const std::exception& e) {
    doc->addError(doc->origin_, e.what());
    return finishWith(root);
  }
  if (!envErrors.empty()) return finishWith(root);
  if (parsed.IsMap()) return finishWith(parsed);
  // An empty file is an empty mapping (and fails on `cluster`), but a list
  // or a bare word is no configuration at all.
  if (!parsed.IsNull()) {
    doc->addError(doc->origin_, "the top level must be a mapping of keys" + got(parsed));
  }
  return finishWith(root);
}

std::shared_ptr<ConfigDocument> ConfigDocument::load(const std::string& file) {
  auto unreadable = [&file](int err) {
    std::shared_ptr<ConfigDocument> doc(new ConfigDocument());
    doc->origin_ = file;
    doc->root_ = YAML::Node(YAML::NodeType::Map);
    doc->effective_ = YAML::Node(YAML::NodeType::Map);
    doc->addError(file, std::string("cannot read: ") + std::strerror(err));
    return doc;
  };
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unreadable(errno);
  std::string text;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return unreadable(err);
    }
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return parse(text, file);
}

ConfigNode ConfigDocument::root() {
  return ConfigNode::make(shared_from_this(), root_, effective_, "");
}

void ConfigDocument::addError(std::string path, std::string reason) {
  // Once the file itself could not be read or parsed every key looks
  // missing; reporting "cluster: required" on top would only mislead.
  const bool documentFailed = std::any_of(
      errors_.begin(), errors_.end(), [this](const ConfigError& e) { return e.path == origin_; });
  if (documentFailed && path != origin_) return;
  // The same problem reached twice (finish() called again) is one problem.
  for (const ConfigError& e : errors_) {
    if (e.path == path && e.reason == reason) return;
  }
  errors_.push_back(ConfigError{std::move(path), std::move(reason)});
}

std::string ConfigDocument::effectiveYaml() const {
  YAML::Emitter out;
  out << YAML::Block;
  emitReadable(out, effective_);
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text += '\n';
  return text;
}

// ---------------------------------------------------------------- ConfigNode

struct ConfigNode::State {
  std::shared_ptr<ConfigDocument> doc;
  YAML::Node node;
  YAML::Node effective;
  std::string path;
  std::vector<std::string> read;
  bool elements_read = false;  // elementsOfSelf() consumed this sequence
};

ConfigNode::ConfigNode(std::unique_ptr<State> state) : state_(std::move(state)) {}
ConfigNode::ConfigNode(ConfigNode&&) noexcept = default;
ConfigNode& ConfigNode::operator=(ConfigNode&&) noexcept = default;
ConfigNode::~ConfigNode() = default;

ConfigNode ConfigNode::make(std::shared_ptr<ConfigDocument> doc, YAML::Node node,
                            YAML::Node effective, std::string path) {
  return ConfigNode(
      std::make_unique<State>(State{std::move(doc), node, effective, std::move(path), {}, false}));
}

const std::string& ConfigNode::path() const { return state_->path; }

std::string ConfigNode::pathOf(std::string_view key) const {
  if (state_->path.empty()) return std::string(key);
  std::string out = state_->path;
  out += '.';
  out += key;
  return out;
}

bool ConfigNode::has(std::string_view key) const {
  return presentValue(state_->node, key).has_value();
}

bool ConfigNode::isSequence() const { return state_->node.IsSequence(); }

void ConfigNode::error(std::string_view key, std::string reason) {
  state_->doc->addError(pathOf(key), std::move(reason));
}

std::string ConfigNode::getString(std::string_view key, std::string def) {
  state_->read.emplace_back(key);
  std::string result = std::move(def);
  if (auto value = presentValue(state_->node, key)) {
    if (value->IsScalar()) {
      result = value->Scalar();
    } else {
      error(key, "expected a string" + got(*value));
    }
  }
  state_->effective[std::string(key)] = result;
  return result;
}

bool ConfigNode::getBool(std::string_view key, bool def) {
  state_->read.emplace_back(key);
  bool result = def;
  if (auto value = presentValue(state_->node, key)) {
    // Only the YAML 1.2 spellings: yaml-cpp would also take yes/no/on/off,
    // which turn country codes and "no" answers into booleans by surprise.
    const std::string text = value->IsScalar() ? value->Scalar() : std::string();
    if (value->IsScalar() && (text == "true" || text == "True" || text == "TRUE")) {
      result = true;
    } else if (value->IsScalar() && (text == "false" || text == "False" || text == "FALSE")) {
      result = false;
    } else {
      error(key, "expected true or false" + got(*value));
    }
  }
  state_->effective[std::string(key)] = result;
  return result;
}

std::int64_t ConfigNode::getInt(std::string_view key, std::int64_t def, std::int64_t min,
                                std::int64_t max) {
  state_->read.emplace_back(key);
  std::int64_t result = def;
  if (auto value = presentValue(state_->node, key)) {
    std::int64_t parsed = 0;
    bool ok = false;
    if (value->IsScalar()) {
      std::string_view text = value->Scalar();
      if (!text.empty() && text[0] == '+') text.remove_prefix(1);
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
      ok = !text.empty() && ec == std::errc() && end == text.data() + text.size();
    }
    if (!ok) {
      error(key, "expected an integer" + got(*value));
    } else if (parsed < min || parsed > max) {
      error(key,
            "must be between " + std::to_string(min) + " and " + std::to_string(max) + got(*value));
    } else {
      result = parsed;
    }
  }
  state_->effective[std::string(key)] = result;
  return result;
}

std::chrono::milliseconds ConfigNode::getDuration(std::string_view key,
                                                  std::chrono::milliseconds def) {
  state_->read.emplace_back(key);
  std::chrono::milliseconds result = def;
  if (auto value = presentValue(state_->node, key)) {
    if (!value->IsScalar()) {
      error(key, "expected a duration such as 15s or 1m30s" + got(*value));
    } else if (auto parsed = parseDuration(value->Scalar())) {
      result = *parsed;
    } else {
      error(key, parsed.error().message() + got(*value));
    }
  }
  state_->effective[std::string(key)] = formatDuration(result);
  return result;
}

std::uint64_t ConfigNode::getBytes(std::string_view key, std::uint64_t def, bool allow_zero) {
  state_->read.emplace_back(key);
  std::uint64_t result = def;
  if (auto value = presentValue(state_->node, key)) {
    if (!value->IsScalar()) {
      error(key, "expected a size such as 1048576, 512MiB or 1GiB" + got(*value));
    } else if (auto parsed = parseBytes(value->Scalar(), allow_zero)) {
      result = *parsed;
    } else {
      error(key, parsed.error().message() + got(*value));
    }
  }
  state_->effective[std::string(key)] = formatBytes(result);
  return result;
}

std::string ConfigNode::getEnum(std::string_view key, std::string def,
                                const std::vector<std::string>& allowed) {
  state_->read.emplace_back(key);
  std::string result = std::move(def);
  if (auto value = presentValue(state_->node, key)) {
    const bool ok = value->IsScalar() &&
                    std::find(allowed.begin(), allowed.end(), value->Scalar()) != allowed.end();
    if (ok) {
      result = value->Scalar();
    } else {
      std::string list;
      for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
      error(key, "expected one of " + list + got(*value));
    }
  }
  state_->effective[std::string(key)] = result;
  return result;
}

std::vector<std::string> ConfigNode::getStringList(std::string_view key,
                                                   std::vector<std::string> def) {
  state_->read.emplace_back(key);
  std::vector<std::string> result = std::move(def);
  if (auto value = presentValue(state_->node, key)) {
    result.clear();
    if (!value->IsSequence()) {
      error(key, "expected a list of strings" + got(*value));
    } else {
      for (std::size_t i = 0; i < value->size(); ++i) {
        const YAML::Node element = (*value)[i];
        if (element.IsScalar()) {
          result.push_back(element.Scalar());
        } else {
          error(std::string(key) + "[" + std::to_string(i) + "]",
                "expected a string" + got(element));
        }
      }
    }
  }
  YAML::Node effective(YAML::NodeType::Sequence);
  for (const std::string& s : result) effective.push_back(s);
  state_->effective[std::string(key)] = effective;
  return result;
}

std::map<std::string, std::string> ConfigNode::getStringMap(std::string_view key) {
  state_->read.emplace_back(key);
  std::map<std::string, std::string> result;
  if (auto value = presentValue(state_->node, key)) {
    if (!value->IsMap()) {
      error(key, "expected a mapping of strings to strings" + got(*value));
    } else {
      for (auto it = value->begin(); it != value->end(); ++it) {
        if (!it->first.IsScalar()) {
          error(key, "expected string keys" + got(it->first));
          continue;
        }
        const std::string name = it->first.Scalar();
        if (it->second.IsScalar()) {
          result[name] = it->second.Scalar();
        } else if (it->second.IsNull()) {
          result[name] = "";  // `env:` with nothing: an empty string, let callers judge
        } else {
          error(std::string(key) + "." + name, "expected a string" + got(it->second));
        }
      }
    }
  }
  YAML::Node effective(YAML::NodeType::Map);
  for (const auto& [k, v] : result) effective[k] = v;
  state_->effective[std::string(key)] = effective;
  return result;
}

ConfigNode ConfigNode::child(std::string_view key) {
  state_->read.emplace_back(key);
  const auto value = presentValue(state_->node, key);
  const bool isMap = value && value->IsMap();
  if (value && value->IsSequence()) {
    // For keys that hold a list (sources.prometheus): read by elementsOfSelf().
    YAML::Node effective(YAML::NodeType::Sequence);
    state_->effective[std::string(key)] = effective;
    return make(state_->doc, *value, effective, pathOf(key));
  }
  if (value && !isMap) error(key, "expected a mapping" + got(*value));
  // Copy-constructed, never assigned: assigning one YAML::Node to another
  // rebinds the target's data, which would alias parts of the tree.
  const YAML::Node source = isMap ? *value : YAML::Node(YAML::NodeType::Map);
  // Reading the same child twice must keep one effective subtree.
  auto existing = lookup(state_->effective, key);
  if (existing && existing->IsMap()) {
    return make(state_->doc, source, *existing, pathOf(key));
  }
  YAML::Node effective(YAML::NodeType::Map);
  state_->effective[std::string(key)] = effective;
  return make(state_->doc, source, effective, pathOf(key));
}

std::vector<ConfigNode> ConfigNode::elements(std::string_view key) {
  state_->read.emplace_back(key);
  std::vector<ConfigNode> result;
  YAML::Node effective(YAML::NodeType::Sequence);
  state_->effective[std::string(key)] = effective;
  auto value = presentValue(state_->node, key);
  if (!value) return result;
  if (!value->IsSequence()) {
    error(key, "expected a list" + got(*value));
    return result;
  }
  for (std::size_t i = 0; i < value->size(); ++i) {
    const YAML::Node element = (*value)[i];
    const std::string elementPath = pathOf(key) + "[" + std::to_string(i) + "]";
    if (!element.IsMap()) {
      state_->doc->addError(elementPath, "expected a mapping" + got(element));
      continue;
    }
    YAML::Node elementEffective(YAML::NodeType::Map);
    effective.push_back(elementEffective);
    result.push_back(make(state_->doc, element, elementEffective, elementPath));
  }
  return result;
}

std::vector<ConfigNode> ConfigNode::elementsOfSelf() {
  state_->elements_read = true;
  std::vector<ConfigNode> result;
  if (!state_->node.IsSequence()) {
    // An absent key: no elements (the effective configuration shows `{}`).
    if (state_->node.IsMap() && state_->node.size() != 0)
      state_->doc->addError(state_->path, "expected a list" + got(state_->node));
    return result;
  }
  for (std::size_t i = 0; i < state_->node.size(); ++i) {
    const YAML::Node element = static_cast<const YAML::Node&>(state_->node)[i];
    const std::string elementPath = state_->path + "[" + std::to_string(i) + "]";
    if (!element.IsMap()) {
      state_->doc->addError(elementPath, "expected a mapping" + got(element));
      continue;
    }
    YAML::Node elementEffective(YAML::NodeType::Map);
    state_->effective.push_back(elementEffective);
    result.push_back(make(state_->doc, element, elementEffective, elementPath));
  }
  return result;
}

std::vector<std::string> ConfigNode::keys() const {
  std::vector<std::string> result;
  if (!state_->node.IsMap()) return result;
  for (auto it = state_->node.begin(); it != state_->node.end(); ++it) {
    if (it->first.IsScalar()) result.push_back(it->first.Scalar());
  }
  return result;
}

void ConfigNode::finish() {
  if (state_->node.IsSequence() && !state_->elements_read) {
    state_->doc->addError(state_->path, "expected a mapping" + got(state_->node));
    return;
  }
  if (!state_->node.IsMap()) return;
  std::set<std::string> seen;
  for (auto it = state_->node.begin(); it != state_->node.end(); ++it) {
    if (!it->first.IsScalar()) {
      state_->doc->addError(state_->path.empty() ? state_->doc->origin() : state_->path,
                            "keys must be plain strings" + got(it->first));
      continue;
    }
    const std::string& key = it->first.Scalar();
    if (!seen.insert(key).second) {
      // yaml-cpp keeps both entries and lookups see only the first: the
      // second would otherwise be ignored without a word.
      error(key, "duplicate key");
      continue;
    }
    if (std::find(state_->read.begin(), state_->read.end(), key) != state_->read.end()) continue;
    std::string reason = "unknown key";
    std::size_t best = 3;
    std::string suggestion;
    for (const std::string& known : state_->read) {
      const std::size_t d = editDistance(key, known);
      if (d < best) {
        best = d;
        suggestion = known;
      }
    }
    if (!suggestion.empty()) reason += " (did you mean \"" + suggestion + "\"?)";
    error(key, std::move(reason));
  }
}

}  // namespace kubemetrics
