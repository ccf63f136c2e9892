// The factory lives apart from ec2_source.cc: it is the only code that
// creates the HttpClient-backed transport, so tests that drive Ec2Source
// through a fake transport do not need HttpClient.
#include <cstdlib>
#include <fstream>

#include "ec2_source.h"
#include "kubemetrics/log.h"

namespace kubemetrics::scrapers::ec2 {
namespace {

std::string readSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

bool containsAmazon(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text.find("amazon") != std::string::npos;
}

}  // namespace

bool looksLikeEc2(const std::string& sys_root) {
  for (const char* file : {"/class/dmi/id/sys_vendor", "/class/dmi/id/board_vendor",
                           "/class/dmi/id/bios_vendor", "/class/dmi/id/bios_version"}) {
    if (containsAmazon(readSmallFile(sys_root + file))) return true;
  }
  const std::string uuid = readSmallFile(sys_root + "/hypervisor/uuid");
  return uuid.rfind("ec2", 0) == 0 || uuid.rfind("EC2", 0) == 0;
}

Result<std::vector<SourcePtr>> buildSources(ConfigNode& node, const ComponentContext* context) {
  Ec2Config config = parseEc2Config(node, [](const char* name) { return std::getenv(name); });
  std::vector<SourcePtr> sources;
  if (context == nullptr) return sources;

  auto status = std::make_shared<Ec2Status>();
  context->status.add("ec2", [status] { return status->render(); });
  const auto disable = [&](std::string mode, std::string reason) {
    logInfo("ec2") << "instance metadata source off: " << reason;
    status->update([&](Ec2Status::Snapshot& s) {
      s.endpoint = config.endpoint;
      s.endpoint_origin = config.endpoint_from_env ? std::string(kEndpointEnv) : "config";
      s.mode = std::move(mode);
      s.presence = Ec2Presence::kDisabled;
      s.presence_reason = std::move(reason);
    });
  };
  const std::string mode = config.enabled == EnabledMode::kTrue    ? "true"
                           : config.enabled == EnabledMode::kFalse ? "false"
                                                                   : "auto";
  if (config.disabled_by_env) {
    disable(mode, std::string(kDisabledEnv) + "=true");
    return sources;
  }
  if (config.enabled == EnabledMode::kFalse) {
    // Quiet: this is the built-in default.
    status->update([&](Ec2Status::Snapshot& s) {
      s.endpoint = config.endpoint;
      s.mode = "false";
      s.presence = Ec2Presence::kDisabled;
      s.presence_reason = node.pathOf("enabled") + ": false";
    });
    return sources;
  }
  // Only `auto` with the well-known address is guarded: an explicit
  // endpoint (file or environment) or `enabled: true` is a deliberate
  // request to probe it.
  if (config.enabled == EnabledMode::kAuto && config.defaultEndpoint() &&
      std::getenv("KUBERNETES_SERVICE_HOST") == nullptr && !looksLikeEc2("/sys")) {
    disable(mode,
            "not on EC2 (no Amazon DMI vendor or EC2 hypervisor id under /sys, not in "
            "Kubernetes); set " +
                node.pathOf("enabled") + ": true to probe " + config.endpoint + " anyway");
    return sources;
  }
  auto transport = makeHttpTransport(config.timeout);
  sources.push_back(std::make_unique<Ec2Source>(
      "ec2", std::move(config), std::move(transport), &context->runtime_tags, &context->metrics,
      std::move(status), context->clock, &context->lifecycle));
  return sources;
}

}  // namespace kubemetrics::scrapers::ec2
