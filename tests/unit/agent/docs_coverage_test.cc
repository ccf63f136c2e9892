// The user's reference stays complete: docs/configuration.md documents every
// config key the agent reads, and docs/metrics.md or docs/configuration.md
// every metric the agent emits (its own self-metrics, and the series the
// host and EC2 sources produce). A key or metric added without its line in
// the docs fails here, naming what is missing.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "scrapers/host/host_source.h"
#include "unit/agent/component_configs.h"

namespace kubemetrics {
namespace {

std::string readDoc(const std::string& name) {
  std::ifstream in(std::string(KM_PROJECT_DIR) + "/docs/" + name);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_FALSE(text.str().empty()) << "docs/" << name << " missing or empty";
  return text.str();
}

// A config with every component enabled (tests/unit/agent/component_configs.h,
// loopback only) and the spool in `spool_dir`.
std::string everythingEnabled(const std::string& spool_dir) {
  std::string sources = "sources:\n", exporters = "exporters:\n";
  for (const auto& [path, subtree] : testing::enablingConfigs()) {
    const std::size_t dot = path.find('.');
    std::string& section = path.substr(0, dot) == "sources" ? sources : exporters;
    section += "  " + path.substr(dot + 1) + ": " + subtree + "\n";
  }
  exporters += "  spool: {dir: \"" + spool_dir + "\"}\n";
  // An API server on a refusing port: the cluster-role discovery sources
  // need one to be created (nothing connects before start()).
  return "cluster: docs\nrole: cluster\nserver: {listen: \"127.0.0.1:0\"}\n"
         "kubernetes: {api_server: \"https://127.0.0.1:1\", bearer_token_file: \"\", "
         "ca_file: \"\"}\n" +
         sources + exporters;
}

// Every leaf key path of the effective config: "sources.host.interval",
// "sources.prometheus[].name" (one element of a list stands for all).
void collectKeys(const YAML::Node& node, const std::string& path, std::set<std::string>& out) {
  if (node.IsMap() && node.size() > 0) {
    for (const auto& entry : node) {
      const std::string key = entry.first.as<std::string>();
      collectKeys(entry.second, path.empty() ? key : path + "." + key, out);
    }
  } else if (node.IsSequence() && node.size() > 0 && node[0].IsMap()) {
    collectKeys(node[0], path + "[]", out);
  } else {
    out.insert(path);
  }
}

// Whether `section` names `key` or a group holding it: `retry.max_backoff`,
// `retry` or `retry.*`.
bool namesKeyOrGroup(const std::string& section, const std::string& key) {
  for (std::size_t end = key.size(); end != std::string::npos && end > 0;
       end = key.rfind('.', end - 1)) {
    const std::string group = key.substr(0, end);
    if (section.find("`" + group + "`") != std::string::npos) return true;
    if (end < key.size() && section.find("`" + group + ".*`") != std::string::npos) return true;
    if (end == 0) break;
  }
  return false;
}

// Whether docs/configuration.md documents `path`: written out in full
// (`pipeline.ring_capacity`), or relative to the section headed by its
// longest documented prefix (`interval` under "### `sources.host`"), or as
// part of a group there (`batch.*`, or `tls` "as in sources.prometheus").
bool documented(const std::string& doc, const std::string& path) {
  if (doc.find("`" + path + "`") != std::string::npos) return true;
  std::string prefix = path;
  for (;;) {
    const std::size_t cut = prefix.find_last_of(".[");
    if (cut == std::string::npos) return false;
    prefix.resize(cut);
    const std::size_t heading = doc.find("### `" + prefix + "`");
    if (heading == std::string::npos) continue;
    std::string relative = path.substr(prefix.size());
    if (relative.rfind("[]", 0) == 0) relative.erase(0, 2);
    if (relative.rfind(".", 0) == 0) relative.erase(0, 1);
    const std::size_t end = doc.find("\n### ", heading + 1);
    const std::string section = doc.substr(heading, end == std::string::npos ? end : end - heading);
    return namesKeyOrGroup(section, relative);
  }
}

// Whether `docs` names metric `name`, alone or with its labels
// (`kubemetrics_scrapes_total{source}`), or by a pattern in angle brackets
// (`node_memory_<Field>_bytes`).
bool mentionsMetric(const std::string& docs, const std::string& name) {
  if (docs.find("`" + name + "`") != std::string::npos) return true;
  if (docs.find("`" + name + "{") != std::string::npos) return true;
  static const std::regex kPattern("`([a-zA-Z0-9_.:]+<[^`{ ]*)[`{]");
  for (auto it = std::sregex_iterator(docs.begin(), docs.end(), kPattern);
       it != std::sregex_iterator(); ++it) {
    const std::string pattern =
        std::regex_replace((*it)[1].str(), std::regex("<[^>]*>"), "[A-Za-z0-9_()]+");
    if (std::regex_match(name, std::regex(pattern))) return true;
  }
  return false;
}

class DocsCoverageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/km-docs-XXXXXX";
    spool_dir_ = ::mkdtemp(dir);
    yaml_ = everythingEnabled(spool_dir_);
  }
  void TearDown() override { std::filesystem::remove_all(spool_dir_); }

  std::string spool_dir_;
  std::string yaml_;
};

TEST_F(DocsCoverageTest, ConfigurationDocumentsEveryKey) {
  const ConfigCheck check = Agent::check(yaml_, "docs-coverage");
  ASSERT_TRUE(check.ok()) << check.errors.front().toString();
  std::set<std::string> keys;
  collectKeys(YAML::Load(check.effective_yaml), "", keys);
  ASSERT_GT(keys.size(), 50u) << check.effective_yaml;
  const std::string doc = readDoc("configuration.md");
  std::vector<std::string> missing;
  for (const std::string& key : keys) {
    if (!documented(doc, key)) missing.push_back(key);
  }
  EXPECT_EQ(missing, std::vector<std::string>{}) << "keys docs/configuration.md does not mention";
}

TEST_F(DocsCoverageTest, MetricsDocumentEverySelfMetric) {
  auto agent = Agent::create(yaml_, "docs-coverage");
  ASSERT_TRUE(agent) << agent.error().message();
  std::set<std::string> names;
  for (const auto& family : (*agent)->metrics().Collect()) names.insert(family.name);
  ASSERT_GT(names.size(), 20u);
  const std::string docs = readDoc("metrics.md") + readDoc("configuration.md");
  std::vector<std::string> missing;
  for (const std::string& name : names) {
    if (!mentionsMetric(docs, name)) missing.push_back(name);
  }
  EXPECT_EQ(missing, std::vector<std::string>{}) << "self-metrics the docs do not mention";
}

TEST_F(DocsCoverageTest, MetricsDocumentEveryHostSeries) {
  scrapers::host::HostConfig config;
  config.proc_path = KM_TESTDATA_DIR "/host/proc";
  config.rootfs_path = KM_TESTDATA_DIR "/host";
  scrapers::host::HostSource source("host", config, nullptr);
  SampleBatch batch;
  ASSERT_TRUE(source.scrape(batch, deadlineIn(std::chrono::seconds(5))));
  std::set<std::string> names;
  for (const Sample& s : batch.samples) names.emplace(s.name.view());
  ASSERT_GT(names.size(), 10u);
  const std::string docs = readDoc("metrics.md");
  std::vector<std::string> missing;
  for (const std::string& name : names) {
    if (!mentionsMetric(docs, name)) missing.push_back(name);
  }
  EXPECT_EQ(missing, std::vector<std::string>{}) << "host series docs/metrics.md does not mention";
}

}  // namespace
}  // namespace kubemetrics
