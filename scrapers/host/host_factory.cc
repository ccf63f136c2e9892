// The factory lives apart from host_source.cc so that tests (and tools)
// using HostSource alone do not pull in the ConfigNode implementation.
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "host_source.h"

namespace kubemetrics::scrapers::host {

Result<std::vector<SourcePtr>> buildSources(ConfigNode& node, const ComponentContext* context) {
  HostConfig config = parseHostConfig(node);
  std::vector<SourcePtr> sources;
  if (context == nullptr || !config.enabled) return sources;
  // A wrong proc_path would only show as an error every interval; at start-up
  // it is one clear message.
  if (::access(config.proc_path.c_str(), R_OK | X_OK) != 0) {
    const int err = errno;
    return makeError(ErrorCode::kInvalidArgument, node.pathOf("proc_path") + ": " +
                                                      config.proc_path + ": " + std::strerror(err));
  }
  sources.push_back(std::make_unique<HostSource>("host", std::move(config), &context->metrics));
  return sources;
}

}  // namespace kubemetrics::scrapers::host
