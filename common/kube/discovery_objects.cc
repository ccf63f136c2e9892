#include "common/kube/discovery_objects.h"

#include <utility>

#include "common/kube/json_decoder.h"

namespace kubemetrics::kube {
namespace {

using namespace json;  // NOLINT: the decoder vocabulary of this file

// Services and EndpointSlices: only what discovery reads.
class DiscoveryDecoder : public JsonDecoder {
 public:
  bool decodeObject(dom::element root, const Path& root_path, KubeService& service) {
    dom::object object;
    dom::object metadata;
    return readObjectMeta(root, root_path, object, metadata, &service.namespace_name,
                          service.name) &&
           readStringMap(metadata, "annotations", Path(root_path, "metadata"), service.annotations);
  }

  bool decodeObject(dom::element root, const Path& root_path, KubeEndpointSlice& slice) {
    dom::object object;
    dom::object metadata;
    std::map<std::string, std::string, std::less<>> labels;
    if (!readObjectMeta(root, root_path, object, metadata, &slice.namespace_name, slice.name) ||
        !readStringMap(metadata, "labels", Path(root_path, "metadata"), labels) ||
        !readString(object, "addressType", root_path, slice.address_type)) {
      return false;
    }
    if (auto it = labels.find(kServiceNameLabel); it != labels.end()) {
      slice.service_name = it->second;
    }
    const bool ports_read =
        forEachObject(object, "ports", root_path, [&](dom::object entry, const Path& at, auto) {
          KubeEndpointPort port;
          if (!readString(entry, "name", at, port.name) || !readInt(entry, "port", at, port.port) ||
              !readString(entry, "protocol", at, port.protocol)) {
            return false;
          }
          slice.ports.push_back(std::move(port));
          return true;
        });
    if (!ports_read) return false;
    return forEachObject(object, "endpoints", root_path,
                         [&](dom::object entry, const Path& at, auto) {
                           KubeEndpoint endpoint;
                           if (!readEndpoint(entry, at, endpoint)) return false;
                           slice.endpoints.push_back(std::move(endpoint));
                           return true;
                         });
  }

 private:
  bool readEndpoint(dom::object entry, const Path& at, KubeEndpoint& endpoint) {
    dom::array addresses;
    bool has_addresses = false;
    if (!readArray(entry, "addresses", at, addresses, has_addresses)) return false;
    if (has_addresses) {
      const Path addresses_path(at, "addresses");
      std::size_t index = 0;
      for (dom::element address : addresses) {
        std::string_view text;
        if (address.get_string().get(text) != SUCCESS) {
          return fail(Path(addresses_path, index), "expected a string");
        }
        endpoint.addresses.emplace_back(text);
        ++index;
      }
    }
    dom::object conditions;
    bool has_conditions = false;
    if (!readObject(entry, "conditions", at, conditions, has_conditions)) return false;
    if (has_conditions && !readBool(conditions, "ready", Path(at, "conditions"), endpoint.ready)) {
      return false;
    }
    if (!readString(entry, "nodeName", at, endpoint.node_name)) return false;
    dom::object target;
    bool has_target = false;
    if (!readObject(entry, "targetRef", at, target, has_target)) return false;
    if (!has_target) return true;
    const Path target_path(at, "targetRef");
    return readString(target, "kind", target_path, endpoint.target_kind) &&
           readString(target, "namespace", target_path, endpoint.target_namespace) &&
           readString(target, "name", target_path, endpoint.target_name);
  }
};

std::size_t stringBytes(const std::string& text) { return sizeof(std::string) + text.capacity(); }

}  // namespace

Result<KubeService> decodeService(std::string_view json) {
  return decodeOne<DiscoveryDecoder, KubeService>(json);
}
Result<ObjectList<KubeService>> decodeServiceList(std::string_view json) {
  return decodeList<DiscoveryDecoder, KubeService>(json);
}
Result<WatchEvent<KubeService>> decodeServiceEvent(std::string_view line) {
  return decodeEvent<DiscoveryDecoder, KubeService>(line);
}
Result<KubeEndpointSlice> decodeEndpointSlice(std::string_view json) {
  return decodeOne<DiscoveryDecoder, KubeEndpointSlice>(json);
}
Result<ObjectList<KubeEndpointSlice>> decodeEndpointSliceList(std::string_view json) {
  return decodeList<DiscoveryDecoder, KubeEndpointSlice>(json);
}
Result<WatchEvent<KubeEndpointSlice>> decodeEndpointSliceEvent(std::string_view line) {
  return decodeEvent<DiscoveryDecoder, KubeEndpointSlice>(line);
}

std::size_t approximateBytes(const KubeService& service) {
  std::size_t bytes =
      sizeof(KubeService) + stringBytes(service.namespace_name) + stringBytes(service.name);
  for (const auto& entry : service.annotations) {
    // A map node: four words of tree links plus the pair.
    bytes += 4 * sizeof(void*) + stringBytes(entry.first) + stringBytes(entry.second);
  }
  return bytes;
}

std::size_t approximateBytes(const KubeEndpointSlice& slice) {
  std::size_t bytes = sizeof(KubeEndpointSlice) + stringBytes(slice.namespace_name) +
                      stringBytes(slice.name) + stringBytes(slice.service_name) +
                      stringBytes(slice.address_type) +
                      slice.ports.capacity() * sizeof(KubeEndpointPort) +
                      slice.endpoints.capacity() * sizeof(KubeEndpoint);
  for (const KubeEndpoint& endpoint : slice.endpoints) {
    for (const std::string& address : endpoint.addresses) bytes += stringBytes(address);
    bytes += endpoint.node_name.capacity() + endpoint.target_kind.capacity() +
             endpoint.target_namespace.capacity() + endpoint.target_name.capacity();
  }
  return bytes;
}

}  // namespace kubemetrics::kube
