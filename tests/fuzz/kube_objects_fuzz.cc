// libFuzzer target for what the agent reads from the Kubernetes API server:
// arbitrary bytes as a LIST body (pods and nodes), and as a WATCH stream cut
// into chunks of input-chosen sizes, split into lines and decoded as pod and
// node events. Must never crash, hang or leak; whatever decodes holds a
// named object (the decoders' contract: a pod or node without
// metadata.name is an error).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/kube/line_splitter.h"
#include "common/kube/objects.h"

namespace {

using kubemetrics::Result;
using kubemetrics::kube::LineSplitter;
using kubemetrics::kube::WatchEventType;

template <typename Event>
void checkEvent(const Event& event) {
  const bool has_object =
      event.type != WatchEventType::kBookmark && event.type != WatchEventType::kError;
  if (has_object && event.object.name.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto pods = kubemetrics::kube::decodePodList(text)) {
    for (const auto& pod : pods->items) {
      if (pod.name.empty()) std::abort();
    }
  }
  if (auto nodes = kubemetrics::kube::decodeNodeList(text)) {
    for (const auto& node : nodes->items) {
      if (node.name.empty()) std::abort();
    }
  }

  // A watch stream: the first byte picks the chunk size, so line breaks
  // fall inside and across chunks; a small line bound exercises the limit.
  if (text.empty()) return 0;
  const std::size_t chunk = 1 + (static_cast<std::uint8_t>(text[0]) % 64) * 61;
  // At most 64 KiB of it: enough for many events, and the seeds (whole
  // kubelet captures, up to 1.4 MB of lines) stay fast to run.
  const std::string_view stream = text.substr(1, 64 * 1024);
  LineSplitter splitter(4096);
  const auto on_line = [](std::string_view line) -> Result<void> {
    if (line.empty() || line.find('\n') != std::string_view::npos) std::abort();
    if (auto pod = kubemetrics::kube::decodePodEvent(line)) checkEvent(*pod);
    if (auto node = kubemetrics::kube::decodeNodeEvent(line)) checkEvent(*node);
    return {};
  };
  for (std::size_t at = 0; at < stream.size(); at += chunk) {
    if (!splitter.feed(stream.substr(at, chunk), on_line)) return 0;
  }
  (void)splitter.finish(on_line);
  return 0;
}
