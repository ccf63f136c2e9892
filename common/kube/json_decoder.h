#pragma once
// The JSON reading shared by the Kubernetes object decoders (objects.cc for
// pods and nodes, discovery_objects.cc for services and EndpointSlices):
// typed member readers that record the first error with its JSON path, and
// the LIST / WATCH event envelopes around one object. Internal to
// common/kube. A decoder type D derives from JsonDecoder and provides
// `bool decodeObject(dom::element, const Path&, T&)` for each T it decodes.
// Not thread-safe: one decoder per document.

#include <simdjson.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/kube/objects.h"

namespace kubemetrics::kube::json {

using simdjson::SUCCESS;
namespace dom = simdjson::dom;

// Where a value sits in the document, as a chain of stack frames that is
// rendered only when an error names it ("items[3].spec.containers[1].name"),
// so a successful decode builds no path strings.
class Path {
 public:
  Path() = default;
  Path(const Path& parent, std::string_view key) : parent_(&parent), key_(key) {}
  Path(const Path& parent, std::size_t index) : parent_(&parent), index_(index) {}

  std::string str() const {
    if (parent_ == nullptr) return std::string(key_);
    std::string out = parent_->str();
    if (index_ != kNoIndex) {
      out += '[' + std::to_string(index_) + ']';
    } else {
      if (!out.empty()) out += '.';
      out += key_;
    }
    return out;
  }

 private:
  static constexpr std::size_t kNoIndex = static_cast<std::size_t>(-1);
  const Path* parent_ = nullptr;
  std::string_view key_;
  std::size_t index_ = kNoIndex;
};

// Decodes one document. Readers return false after recording the first
// error (path: what), which the public functions turn into a Result; the
// bool plumbing keeps the many small field reads short.
class JsonDecoder {
 public:
  const std::string& error() const { return error_; }

  bool fail(const Path& path, std::string_view what) {
    if (error_.empty()) {
      const std::string where = path.str();
      error_ = where.empty() ? std::string(what) : where + ": " + std::string(what);
    }
    return false;
  }

  // The member `key` of `object`; nullopt when absent or null.
  static std::optional<dom::element> member(dom::object object, std::string_view key) {
    dom::element value;
    if (object.at_key(key).get(value) != SUCCESS || value.is_null()) return std::nullopt;
    return value;
  }

  bool asObject(dom::element value, const Path& path, dom::object& out) {
    if (value.get_object().get(out) != SUCCESS) return fail(path, "expected an object");
    return true;
  }

  // The start of every object decoder: `root` as an object, its required
  // `metadata`, metadata.namespace (unless `namespace_name` is null) and
  // metadata.name, which must not be empty.
  bool readObjectMeta(dom::element root, const Path& root_path, dom::object& object,
                      dom::object& metadata, std::string* namespace_name, std::string& name) {
    if (!asObject(root, root_path, object) ||
        !readRequiredObject(object, "metadata", root_path, metadata)) {
      return false;
    }
    const Path metadata_path(root_path, "metadata");
    if ((namespace_name != nullptr &&
         !readString(metadata, "namespace", metadata_path, *namespace_name)) ||
        !readString(metadata, "name", metadata_path, name)) {
      return false;
    }
    return !name.empty() || fail(Path(metadata_path, "name"), "missing");
  }

  // `out` is left as it is when the member is absent.
  bool readString(dom::object object, std::string_view key, const Path& parent, std::string& out) {
    auto value = member(object, key);
    if (!value) return true;
    std::string_view text;
    if (value->get_string().get(text) != SUCCESS)
      return fail(Path(parent, key), "expected a string");
    out.assign(text);
    return true;
  }

  bool readInt(dom::object object, std::string_view key, const Path& parent, int& out) {
    auto value = member(object, key);
    if (!value) return true;
    std::int64_t number = 0;
    if (value->get_int64().get(number) != SUCCESS || number < INT32_MIN || number > INT32_MAX) {
      return fail(Path(parent, key), "expected an integer");
    }
    out = static_cast<int>(number);
    return true;
  }

  bool readBool(dom::object object, std::string_view key, const Path& parent, bool& out) {
    auto value = member(object, key);
    if (!value) return true;
    if (value->get_bool().get(out) != SUCCESS) return fail(Path(parent, key), "expected a boolean");
    return true;
  }

  // A member that must be an object; `present` false when absent or null.
  bool readObject(dom::object object, std::string_view key, const Path& parent, dom::object& out,
                  bool& present) {
    auto value = member(object, key);
    present = value.has_value();
    if (!present) return true;
    return asObject(*value, Path(parent, key), out);
  }

  bool readRequiredObject(dom::object object, std::string_view key, const Path& parent,
                          dom::object& out) {
    bool present = false;
    if (!readObject(object, key, parent, out, present)) return false;
    return present || fail(Path(parent, key), "missing");
  }

  bool readArray(dom::object object, std::string_view key, const Path& parent, dom::array& out,
                 bool& present) {
    auto value = member(object, key);
    present = value.has_value();
    if (!present) return true;
    if (value->get_array().get(out) != SUCCESS) return fail(Path(parent, key), "expected an array");
    return true;
  }

  // Calls each(element, element_path, index) for every element of the
  // array member `key`, each of which must be an object; absent or null:
  // no call. Stops at the first false.
  template <typename Each>
  bool forEachObject(dom::object object, std::string_view key, const Path& parent, Each each) {
    dom::array array;
    bool present = false;
    if (!readArray(object, key, parent, array, present)) return false;
    if (!present) return true;
    const Path path(parent, key);
    std::size_t index = 0;
    for (dom::element entry : array) {
      const Path entry_path(path, index);
      dom::object element;
      if (!asObject(entry, entry_path, element) || !each(element, entry_path, index)) return false;
      ++index;
    }
    return true;
  }

  bool readStringMap(dom::object object, std::string_view key, const Path& parent,
                     std::map<std::string, std::string, std::less<>>& out) {
    dom::object map;
    bool present = false;
    if (!readObject(object, key, parent, map, present)) return false;
    if (!present) return true;
    const Path path(parent, key);
    for (auto [name, value] : map) {
      std::string_view text;
      if (value.get_string().get(text) != SUCCESS) {
        return fail(Path(path, name), "expected a string");
      }
      out.emplace(std::string(name), std::string(text));
    }
    return true;
  }

 protected:
  std::string error_;
};

inline tl::unexpected<Error> invalid(std::string message) {
  return makeError(ErrorCode::kInvalidArgument, std::move(message));
}

// Parses `json` into `parser` (which owns the document the element points
// into). simdjson needs padding after the text: parse() copies it.
inline Result<dom::element> parseDocument(dom::parser& parser, std::string_view json) {
  dom::element root;
  const auto error = parser.parse(json.data(), json.size()).get(root);
  if (error != SUCCESS)
    return invalid(std::string("invalid JSON: ") + simdjson::error_message(error));
  return root;
}

template <typename D, typename T>
Result<T> decodeOne(std::string_view json) {
  dom::parser parser;
  auto root = parseDocument(parser, json);
  if (!root) return tl::unexpected(root.error());
  D decoder;
  T object;
  if (!decoder.decodeObject(*root, Path(), object)) return invalid(decoder.error());
  return object;
}

template <typename D, typename T>
Result<ObjectList<T>> decodeList(std::string_view json) {
  dom::parser parser;
  auto root = parseDocument(parser, json);
  if (!root) return tl::unexpected(root.error());
  D decoder;
  const Path root_path;
  dom::object object;
  if (!decoder.asObject(*root, root_path, object)) return invalid(decoder.error());
  ObjectList<T> list;
  dom::object metadata;
  bool has_metadata = false;
  if (!decoder.readObject(object, "metadata", root_path, metadata, has_metadata)) {
    return invalid(decoder.error());
  }
  if (has_metadata) {
    const Path metadata_path(root_path, "metadata");
    if (!decoder.readString(metadata, "resourceVersion", metadata_path, list.resource_version) ||
        !decoder.readString(metadata, "continue", metadata_path, list.continue_token)) {
      return invalid(decoder.error());
    }
  }
  dom::array items;
  bool has_items = false;
  if (!decoder.readArray(object, "items", root_path, items, has_items)) {
    return invalid(decoder.error());
  }
  if (has_items) {
    const Path items_path(root_path, "items");
    list.items.reserve(items.size());
    std::size_t index = 0;
    for (dom::element item : items) {
      T decoded;
      if (!decoder.decodeObject(item, Path(items_path, index++), decoded)) {
        return invalid(decoder.error());
      }
      list.items.push_back(std::move(decoded));
    }
  }
  return list;
}

template <typename D, typename T>
Result<WatchEvent<T>> decodeEvent(std::string_view line) {
  dom::parser parser;
  auto root = parseDocument(parser, line);
  if (!root) return tl::unexpected(root.error());
  D decoder;
  const Path root_path;
  dom::object event_object;
  if (!decoder.asObject(*root, root_path, event_object)) return invalid(decoder.error());

  std::string type;
  if (!decoder.readString(event_object, "type", root_path, type)) return invalid(decoder.error());
  WatchEvent<T> event;
  if (type == "ADDED") {
    event.type = WatchEventType::kAdded;
  } else if (type == "MODIFIED") {
    event.type = WatchEventType::kModified;
  } else if (type == "DELETED") {
    event.type = WatchEventType::kDeleted;
  } else if (type == "BOOKMARK") {
    event.type = WatchEventType::kBookmark;
  } else if (type == "ERROR") {
    event.type = WatchEventType::kError;
  } else if (type.empty()) {
    return invalid("type: missing");
  } else {
    return invalid("type: unknown watch event type \"" + type + "\"");
  }

  auto object_value = D::member(event_object, "object");
  const Path object_path(root_path, "object");
  if (!object_value) return invalid("object: missing");
  dom::object object;
  if (!decoder.asObject(*object_value, object_path, object)) return invalid(decoder.error());

  if (event.type == WatchEventType::kError) {
    // A metav1.Status: {"kind":"Status","status":"Failure","message":...,
    // "reason":"Expired","code":410}.
    if (!decoder.readInt(object, "code", object_path, event.error_code) ||
        !decoder.readString(object, "message", object_path, event.error_message)) {
      return invalid(decoder.error());
    }
    return event;
  }
  dom::object metadata;
  bool has_metadata = false;
  if (!decoder.readObject(object, "metadata", object_path, metadata, has_metadata)) {
    return invalid(decoder.error());
  }
  if (has_metadata && !decoder.readString(metadata, "resourceVersion",
                                          Path(object_path, "metadata"), event.resource_version)) {
    return invalid(decoder.error());
  }
  if (event.type == WatchEventType::kBookmark) return event;
  if (!decoder.decodeObject(*object_value, object_path, event.object)) {
    return invalid(decoder.error());
  }
  return event;
}

}  // namespace kubemetrics::kube::json
