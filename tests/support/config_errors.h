#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/config/config_document.h"
#include "kubemetrics/component.h"

namespace kubemetrics::testing {

/// Every error a configuration document recorded, as "path: reason".
inline std::vector<std::string> errorTexts(const ConfigDocument& doc) {
  std::vector<std::string> out;
  for (const ConfigError& e : doc.errors()) out.push_back(e.toString());
  return out;
}

/// Runs `factory` (validation only) on sources.<key> of `yaml`; the
/// document's errors.
inline std::vector<std::string> sourceFactoryErrors(SourceFactory* factory, const std::string& key,
                                                    const std::string& yaml) {
  auto doc = ConfigDocument::parse(yaml, "test.yaml");
  ConfigNode node = doc->root().child("sources").child(key);
  auto built = factory(node, nullptr);
  EXPECT_TRUE(built);
  return errorTexts(*doc);
}

}  // namespace kubemetrics::testing
