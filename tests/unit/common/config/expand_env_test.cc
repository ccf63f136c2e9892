#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "common/config/config_document.h"
#include "kubemetrics/config.h"

namespace kubemetrics {
namespace {

// Sets or unsets variables for one test and restores them afterwards, so
// tests never depend on the environment they were started in.
class EnvGuard {
 public:
  ~EnvGuard() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }
  void set(const std::string& name, const std::string& value) {
    save(name);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  void unset(const std::string& name) {
    save(name);
    ::unsetenv(name.c_str());
  }

 private:
  void save(const std::string& name) {
    const char* old = std::getenv(name.c_str());
    saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

std::string expandOk(std::string_view text) {
  std::vector<ConfigError> errors;
  std::string out = expandEnv(text, errors);
  EXPECT_TRUE(errors.empty()) << text << ": " << (errors.empty() ? "" : errors[0].toString());
  return out;
}

std::vector<std::string> expandErrors(std::string_view text) {
  std::vector<ConfigError> errors;
  expandEnv(text, errors);
  std::vector<std::string> out;
  for (const ConfigError& e : errors) out.push_back(e.toString());
  return out;
}

TEST(ExpandEnvTest, SubstitutesSetVariables) {
  EnvGuard env;
  env.set("KM_T_A", "alpha");
  env.set("KM_T_EMPTY", "");
  EXPECT_EQ(expandOk("cluster: ${KM_T_A}\n"), "cluster: alpha\n");
  EXPECT_EQ(expandOk("x: ${KM_T_A}-${KM_T_A}"), "x: alpha-alpha");
  EXPECT_EQ(expandOk("x: '${KM_T_EMPTY}'"), "x: ''");
}

TEST(ExpandEnvTest, BracketsAnIpv6AddressWhereItIsAUrlHost) {
  // The shipped node config has url: https://${NODE_IP}:10250/...: on an
  // IPv6 cluster NODE_IP (status.hostIP) is an IPv6 address.
  EnvGuard env;
  env.set("KM_T_IP6", "2600:1f14:abc::1");
  env.set("KM_T_IP4", "10.0.0.7");
  env.set("KM_T_BRACKETED", "[fd00::1]");
  EXPECT_EQ(expandOk("url: https://${KM_T_IP6}:10250/stats/summary"),
            "url: https://[2600:1f14:abc::1]:10250/stats/summary");
  EXPECT_EQ(expandOk("url: http://user@${KM_T_IP6}/x"), "url: http://user@[2600:1f14:abc::1]/x");
  EXPECT_EQ(expandOk("url: https://${KM_T_UNSET_IP:-fd00::2}:1/"), "url: https://[fd00::2]:1/");
  EXPECT_EQ(expandOk("url: https://${KM_T_IP4}:10250/"), "url: https://10.0.0.7:10250/");
  EXPECT_EQ(expandOk("url: https://${KM_T_BRACKETED}:10250/"), "url: https://[fd00::1]:10250/");
  // Not a URL host: the value as it is.
  EXPECT_EQ(expandOk("node_ip: ${KM_T_IP6}"), "node_ip: 2600:1f14:abc::1");
}

TEST(ExpandEnvTest, UsesDefaultWhenUnsetOrEmpty) {
  EnvGuard env;
  env.unset("KM_T_UNSET");
  env.set("KM_T_EMPTY", "");
  env.set("KM_T_A", "alpha");
  EXPECT_EQ(expandOk("${KM_T_UNSET:-local}"), "local");
  EXPECT_EQ(expandOk("${KM_T_EMPTY:-local}"), "local");
  EXPECT_EQ(expandOk("${KM_T_A:-local}"), "alpha");
  EXPECT_EQ(expandOk("${KM_T_UNSET:-}"), "");
  EXPECT_EQ(expandOk("${KM_T_UNSET:-http://host:80/x}"), "http://host:80/x");
}

TEST(ExpandEnvTest, DollarEscapesAndLoneDollars) {
  EnvGuard env;
  env.unset("KM_T_UNSET");
  EXPECT_EQ(expandOk("price: $$5"), "price: $5");
  EXPECT_EQ(expandOk("literal: $${KM_T_UNSET}"), "literal: ${KM_T_UNSET}");
  EXPECT_EQ(expandOk("regex: ^foo$"), "regex: ^foo$");
  EXPECT_EQ(expandOk("a: $x $ y"), "a: $x $ y");
  EXPECT_EQ(expandOk("$$$$"), "$$");
}

TEST(ExpandEnvTest, UnsetVariableIsAnErrorWithItsLine) {
  EnvGuard env;
  env.unset("KM_T_UNSET");
  env.unset("KM_T_OTHER");
  EXPECT_EQ(expandErrors("a: 1\nb: 2\nnode: ${KM_T_UNSET}\nc: ${KM_T_OTHER}\n"),
            (std::vector<std::string>{
                "line 3: environment variable KM_T_UNSET is not set (use ${KM_T_UNSET:-default} "
                "for a default)",
                "line 4: environment variable KM_T_OTHER is not set (use ${KM_T_OTHER:-default} "
                "for a default)"}));
}

TEST(ExpandEnvTest, MalformedReferencesAreErrors) {
  EXPECT_EQ(
      expandErrors("x: ${}"),
      (std::vector<std::string>{"line 1: malformed variable reference \"${}\" (expected ${NAME} or "
                                "${NAME:-default})"}));
  EXPECT_EQ(expandErrors("\nx: ${1ABC}"),
            (std::vector<std::string>{
                "line 2: malformed variable reference \"${1ABC}\" (expected ${NAME} or "
                "${NAME:-default})"}));
  EXPECT_EQ(expandErrors("x: ${A:default}"),
            (std::vector<std::string>{
                "line 1: malformed variable reference \"${A:default}\" (expected ${NAME} or "
                "${NAME:-default})"}));
  EXPECT_EQ(expandErrors("x: ${A-B}"),
            (std::vector<std::string>{
                "line 1: malformed variable reference \"${A-B}\" (expected ${NAME} or "
                "${NAME:-default})"}));
  EXPECT_EQ(expandErrors("x: ${NAME\ny: 1"),
            (std::vector<std::string>{
                "line 1: unterminated variable reference \"${NAME\" (missing \"}\")"}));
  EXPECT_EQ(expandErrors("x: ${A:-${B}}"),
            (std::vector<std::string>{"line 1: malformed variable reference \"${A:-${B}\": a "
                                      "default cannot contain another reference"}));
}

TEST(ExpandEnvTest, WholeLineCommentsAreLeftAlone) {
  EnvGuard env;
  env.unset("KM_T_UNSET");
  env.set("KM_T_A", "alpha");
  EXPECT_EQ(expandOk("# set ${KM_T_UNSET} in the pod spec\n  # also ${bad\nx: ${KM_T_A}\n"),
            "# set ${KM_T_UNSET} in the pod spec\n  # also ${bad\nx: alpha\n");
  // A trailing comment is not skipped: only whole-line comments are certain
  // to be comments before the YAML is parsed.
  EXPECT_EQ(expandErrors("x: 1 # ${KM_T_UNSET}").size(), 1u);
}

}  // namespace
}  // namespace kubemetrics
