#include "common/kube/pod_metrics.h"

#include "common/kube/json_decoder.h"
#include "common/kube/quantity.h"

namespace kubemetrics::kube {
namespace {

using namespace json;  // NOLINT: the decoder vocabulary of this file

class PodMetricsDecoder : public JsonDecoder {
 public:
  bool decodeObject(dom::element root, const Path& root_path, PodUsage& pod) {
    dom::object object;
    dom::object metadata;
    if (!readObjectMeta(root, root_path, object, metadata, &pod.namespace_name, pod.name)) {
      return false;
    }
    return forEachObject(
        object, "containers", root_path, [&](dom::object container, const Path& at, auto) {
          dom::object usage;
          if (!readRequiredObject(container, "usage", at, usage)) return false;
          const Path usage_path(at, "usage");
          return addQuantity(usage, "cpu", usage_path, parseCpuMillicores, pod.cpu_millicores) &&
                 addQuantity(usage, "memory", usage_path, parseQuantity, pod.memory_bytes);
        });
  }

 private:
  bool addQuantity(dom::object usage, std::string_view key, const Path& parent,
                   Result<double> (*parse)(std::string_view), double& total) {
    std::string text;
    if (!readString(usage, key, parent, text)) return false;
    if (text.empty()) return true;
    Result<double> value = parse(text);
    if (!value) return fail(Path(parent, key), value.error().message());
    total += *value;
    return true;
  }
};

}  // namespace

Result<ObjectList<PodUsage>> decodePodMetricsList(std::string_view json) {
  return decodeList<PodMetricsDecoder, PodUsage>(json);
}

}  // namespace kubemetrics::kube
