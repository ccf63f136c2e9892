#include <vector>

#include "config.h"
#include "kubemetrics/component.h"
#include "kubemetrics/log.h"
#include "remote_write_listener.h"
#include "wavefront_listener.h"

namespace kubemetrics::scrapers::listeners {
namespace {

/// The Kubernetes metadata to find sending pods by address: when the agent
/// can reach the API and is a node agent (the pods it watches are its
/// node's, the ones that reach it through the node-local Service).
const KubeMetadata* senderMetadata(const ComponentContext& context, std::string_view who) {
  if (context.agent.role != "node" || !context.kube.available()) return nullptr;
  auto acquired = context.kube.acquire(who);
  if (!acquired) {
    logWarn("listeners") << who << ": pushed samples are not tagged with their pod: "
                         << acquired.error().message();
    return nullptr;
  }
  return *acquired;
}

}  // namespace

Result<std::vector<ListenerPtr>> buildListeners(ConfigNode& node, const ComponentContext* context) {
  const ListenersConfig config = parseListenersConfig(node);
  std::vector<ListenerPtr> out;
  if (context == nullptr) return out;
  if (config.wavefront.enabled) {
    auto auth = RequestAuth::create({config.wavefront.token_file, config.wavefront.basic_auth},
                                    "sources.listeners.wavefront");
    if (!auth) return tl::unexpected(auth.error());
    out.push_back(std::make_unique<WavefrontListener>(
        config.wavefront, context->metrics, std::move(*auth),
        senderMetadata(*context, "sources.listeners.wavefront"), context->clock));
  }
  if (config.remote_write.enabled) {
    auto auth =
        RequestAuth::create({config.remote_write.token_file, config.remote_write.basic_auth},
                            "sources.listeners.remote_write");
    if (!auth) return tl::unexpected(auth.error());
    out.push_back(std::make_unique<RemoteWriteListener>(
        config.remote_write, context->metrics, std::move(*auth),
        senderMetadata(*context, "sources.listeners.remote_write"), &context->tags));
  }
  return out;
}

}  // namespace kubemetrics::scrapers::listeners
