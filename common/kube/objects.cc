#include "common/kube/objects.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "common/kube/json_decoder.h"
#include "common/kube/quantity.h"

namespace kubemetrics::kube {
namespace {

using namespace json;  // NOLINT: the decoder vocabulary of this file

// Pods and nodes (core/v1).
class Decoder : public JsonDecoder {
 public:
  // A quantity member: a string ("250m"), or a bare number, which the API
  // never sends but a hand-written manifest converted to JSON might.
  bool readQuantity(dom::object object, std::string_view key, const Path& parent, bool cpu,
                    std::optional<double>& out) {
    auto value = member(object, key);
    if (!value) return true;
    const Path path(parent, key);
    double number = 0;
    if (value->get_double().get(number) == SUCCESS) {
      out = cpu ? number * 1000.0 : number;
      return true;
    }
    std::string_view text;
    if (value->get_string().get(text) != SUCCESS) return fail(path, "expected a quantity string");
    auto parsed = cpu ? parseCpuMillicores(text) : parseQuantity(text);
    if (!parsed) return fail(path, parsed.error().message());
    out = *parsed;
    return true;
  }

  bool readResources(dom::object object, std::string_view key, const Path& parent,
                     KubeResources& out) {
    dom::object list;
    bool present = false;
    if (!readObject(object, key, parent, list, present)) return false;
    if (!present) return true;
    const Path path(parent, key);
    return readQuantity(list, "cpu", path, true, out.cpu_millicores) &&
           readQuantity(list, "memory", path, false, out.memory_bytes);
  }

  bool readPorts(dom::object container, const Path& parent, std::vector<KubeContainerPort>& out) {
    return forEachObject(container, "ports", parent,
                         [&](dom::object port_object, const Path& entry_path, std::size_t) {
                           KubeContainerPort port;
                           if (!readString(port_object, "name", entry_path, port.name) ||
                               !readInt(port_object, "containerPort", entry_path, port.port) ||
                               !readString(port_object, "protocol", entry_path, port.protocol)) {
                             return false;
                           }
                           out.push_back(std::move(port));
                           return true;
                         });
  }

  bool readContainers(dom::object spec, const Path& spec_path, std::vector<KubeContainer>& out) {
    return forEachObject(spec, "containers", spec_path,
                         [&](dom::object container_object, const Path& entry_path, std::size_t) {
                           KubeContainer container;
                           if (!readString(container_object, "name", entry_path, container.name) ||
                               !readPorts(container_object, entry_path, container.ports) ||
                               !readContainerResources(container_object, entry_path, container)) {
                             return false;
                           }
                           out.push_back(std::move(container));
                           return true;
                         });
  }

  bool readContainerResources(dom::object container_object, const Path& entry_path,
                              KubeContainer& container) {
    dom::object resources;
    bool has_resources = false;
    if (!readObject(container_object, "resources", entry_path, resources, has_resources)) {
      return false;
    }
    if (!has_resources) return true;
    const Path resources_path(entry_path, "resources");
    return readResources(resources, "requests", resources_path, container.requests) &&
           readResources(resources, "limits", resources_path, container.limits);
  }

  // Joins status.containerStatuses[] to the spec containers by name.
  bool readContainerStatuses(dom::object status, const Path& status_path,
                             std::vector<KubeContainer>& containers) {
    return forEachObject(
        status, "containerStatuses", status_path,
        [&](dom::object status_object, const Path& entry_path, std::size_t) {
          std::string name;
          if (!readString(status_object, "name", entry_path, name)) return false;
          auto container = std::find_if(containers.begin(), containers.end(),
                                        [&](const KubeContainer& c) { return c.name == name; });
          // A status without a spec container (an ephemeral debug container
          // reports elsewhere; this is defensive) is skipped.
          KubeContainer ignored;
          KubeContainer& target = container == containers.end() ? ignored : *container;
          if (!readInt(status_object, "restartCount", entry_path, target.restart_count))
            return false;
          dom::object state;
          bool has_state = false;
          if (!readObject(status_object, "state", entry_path, state, has_state)) return false;
          if (!has_state) return true;
          const Path state_path(entry_path, "state");
          for (std::string_view kind : {"running", "waiting", "terminated"}) {
            dom::object detail;
            bool has_detail = false;
            if (!readObject(state, kind, state_path, detail, has_detail)) return false;
            if (!has_detail) continue;
            target.state.assign(kind);
            if (kind != "running" &&
                !readString(detail, "reason", Path(state_path, kind), target.reason)) {
              return false;
            }
            break;
          }
          return true;
        });
  }

  // The controller owner reference (controller=true, else the first),
  // followed one step from a ReplicaSet to its Deployment by the
  // pod-template-hash suffix the Deployment controller gives the name.
  bool readWorkload(dom::object metadata, const Path& metadata_path, KubePod& pod) {
    bool found_controller = false;
    const bool read =
        forEachObject(metadata, "ownerReferences", metadata_path,
                      [&](dom::object owner, const Path& entry_path, std::size_t index) {
                        bool controller = false;
                        if (!readBool(owner, "controller", entry_path, controller)) return false;
                        if (index == 0 || (controller && !found_controller)) {
                          pod.workload_kind.clear();
                          pod.workload_name.clear();
                          if (!readString(owner, "kind", entry_path, pod.workload_kind) ||
                              !readString(owner, "name", entry_path, pod.workload_name)) {
                            return false;
                          }
                          found_controller = controller;
                        }
                        return true;
                      });
    if (!read) return false;
    if (pod.workload_kind == "ReplicaSet") {
      auto hash = pod.labels.find("pod-template-hash");
      if (hash != pod.labels.end() && !hash->second.empty()) {
        const std::string suffix = "-" + hash->second;
        const std::string& name = pod.workload_name;
        if (name.size() > suffix.size() &&
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
          pod.workload_kind = "Deployment";
          pod.workload_name.resize(name.size() - suffix.size());
        }
      }
    }
    return true;
  }

  bool decodePod(dom::element root, const Path& root_path, KubePod& pod) {
    dom::object object;
    dom::object metadata;
    if (!readObjectMeta(root, root_path, object, metadata, &pod.namespace_name, pod.name)) {
      return false;
    }
    const Path metadata_path(root_path, "metadata");
    if (!readString(metadata, "uid", metadata_path, pod.uid) ||
        !readStringMap(metadata, "labels", metadata_path, pod.labels) ||
        !readStringMap(metadata, "annotations", metadata_path, pod.annotations) ||
        !readWorkload(metadata, metadata_path, pod)) {
      return false;
    }

    dom::object spec;
    bool has_spec = false;
    if (!readObject(object, "spec", root_path, spec, has_spec)) return false;
    if (has_spec) {
      const Path spec_path(root_path, "spec");
      if (!readString(spec, "nodeName", spec_path, pod.node_name) ||
          !readContainers(spec, spec_path, pod.containers)) {
        return false;
      }
    }
    dom::object status;
    bool has_status = false;
    if (!readObject(object, "status", root_path, status, has_status)) return false;
    if (has_status) {
      const Path status_path(root_path, "status");
      if (!readString(status, "phase", status_path, pod.phase) ||
          !readString(status, "podIP", status_path, pod.pod_ip) ||
          !readContainerStatuses(status, status_path, pod.containers)) {
        return false;
      }
    }
    return true;
  }

  bool decodeNode(dom::element root, const Path& root_path, KubeNode& node) {
    dom::object object;
    dom::object metadata;
    if (!readObjectMeta(root, root_path, object, metadata, nullptr, node.name) ||
        !readStringMap(metadata, "labels", Path(root_path, "metadata"), node.labels)) {
      return false;
    }
    // std::map iterates in key order, so the roles come out sorted.
    constexpr std::string_view kRolePrefix = "node-role.kubernetes.io/";
    for (const auto& [key, value] : node.labels) {
      if (key.size() > kRolePrefix.size() && key.compare(0, kRolePrefix.size(), kRolePrefix) == 0) {
        if (!node.role.empty()) node.role += ',';
        node.role.append(key, kRolePrefix.size());
      }
    }
    dom::object status;
    bool has_status = false;
    if (!readObject(object, "status", root_path, status, has_status)) return false;
    if (has_status) {
      const Path status_path(root_path, "status");
      if (!readResources(status, "capacity", status_path, node.capacity) ||
          !readResources(status, "allocatable", status_path, node.allocatable)) {
        return false;
      }
    }
    return true;
  }

  bool decodeObject(dom::element root, const Path& path, KubePod& pod) {
    return decodePod(root, path, pod);
  }
  bool decodeObject(dom::element root, const Path& path, KubeNode& node) {
    return decodeNode(root, path, node);
  }
};

// Heap bytes of a string beyond the object itself (none while the text fits
// the small-string buffer).
std::size_t heapBytes(const std::string& text) {
  return text.capacity() > std::string().capacity() ? text.capacity() + 1 : 0;
}

// A std::map node: the red-black tree links and colour (4 words) plus the
// pair.
std::size_t mapBytes(const std::map<std::string, std::string, std::less<>>& map) {
  std::size_t bytes = 0;
  for (const auto& [key, value] : map) {
    bytes += 4 * sizeof(void*) + sizeof(std::pair<const std::string, std::string>) +
             heapBytes(key) + heapBytes(value);
  }
  return bytes;
}

}  // namespace

Result<KubePod> decodePod(std::string_view json) { return decodeOne<Decoder, KubePod>(json); }
Result<KubeNode> decodeNode(std::string_view json) { return decodeOne<Decoder, KubeNode>(json); }
Result<ObjectList<KubePod>> decodePodList(std::string_view json) {
  return decodeList<Decoder, KubePod>(json);
}
Result<ObjectList<KubeNode>> decodeNodeList(std::string_view json) {
  return decodeList<Decoder, KubeNode>(json);
}
Result<WatchEvent<KubePod>> decodePodEvent(std::string_view line) {
  return decodeEvent<Decoder, KubePod>(line);
}
Result<WatchEvent<KubeNode>> decodeNodeEvent(std::string_view line) {
  return decodeEvent<Decoder, KubeNode>(line);
}

std::size_t approximateBytes(const KubePod& pod) {
  std::size_t bytes = sizeof(KubePod) + heapBytes(pod.namespace_name) + heapBytes(pod.name) +
                      heapBytes(pod.uid) + heapBytes(pod.node_name) + heapBytes(pod.phase) +
                      heapBytes(pod.pod_ip) + mapBytes(pod.labels) + mapBytes(pod.annotations) +
                      heapBytes(pod.workload_kind) + heapBytes(pod.workload_name) +
                      pod.containers.capacity() * sizeof(KubeContainer);
  for (const KubeContainer& container : pod.containers) {
    bytes += heapBytes(container.name) + heapBytes(container.state) + heapBytes(container.reason) +
             container.ports.capacity() * sizeof(KubeContainerPort);
    for (const KubeContainerPort& port : container.ports) {
      bytes += heapBytes(port.name) + heapBytes(port.protocol);
    }
  }
  return bytes;
}

std::size_t approximateBytes(const KubeNode& node) {
  return sizeof(KubeNode) + heapBytes(node.name) + mapBytes(node.labels) + heapBytes(node.role);
}

}  // namespace kubemetrics::kube
