#include "common/http/secret_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "support/process.h"

namespace kubemetrics {
namespace {

using kubemetrics::testing::TempDir;

// How a Kubernetes Secret volume updates a key: the new content lands in a
// new file and a rename swaps it in (a new inode), never a write in place.
void swapIn(const TempDir& dir, const std::string& name, const std::string& content) {
  const std::string fresh = dir.write(name + ".new", content);
  ASSERT_EQ(std::rename(fresh.c_str(), (dir.path() + "/" + name).c_str()), 0);
}

TEST(SecretFileTest, ReadsAndTrimsTrailingNewlines) {
  TempDir dir;
  SecretFile secret(dir.write("token", "abc\r\n\n"), "x.token_file");
  ASSERT_TRUE(secret.load());
  EXPECT_EQ(secret.value().value(), "abc");
  EXPECT_EQ(secret.value().value(), "abc");
  EXPECT_EQ(secret.reads(), 1);  // unchanged: not read again
}

TEST(SecretFileTest, RotatedFileIsReadAgain) {
  TempDir dir;
  SecretFile secret(dir.write("token", "old"), "x.token_file");
  ASSERT_TRUE(secret.load());
  swapIn(dir, "token", "new");
  EXPECT_EQ(secret.value().value(), "new");
  EXPECT_EQ(secret.reads(), 2);
}

TEST(SecretFileTest, SymlinkSwapIsSeen) {
  // The ..data symlink of a projected volume: the path is a link whose
  // target changes.
  TempDir dir;
  dir.write("v1", "first");
  dir.write("v2", "second");
  const std::string link = dir.path() + "/token";
  ASSERT_EQ(::symlink((dir.path() + "/v1").c_str(), link.c_str()), 0);
  SecretFile secret(link, "x.token_file");
  ASSERT_TRUE(secret.load());
  EXPECT_EQ(secret.value().value(), "first");
  const std::string next = dir.path() + "/token.next";
  ASSERT_EQ(::symlink((dir.path() + "/v2").c_str(), next.c_str()), 0);
  ASSERT_EQ(std::rename(next.c_str(), link.c_str()), 0);
  EXPECT_EQ(secret.value().value(), "second");
}

TEST(SecretFileTest, UnreadableOrEmptyVersionKeepsTheLastGoodValue) {
  TempDir dir;
  const std::string path = dir.write("token", "good");
  SecretFile secret(path, "x.token_file");
  ASSERT_TRUE(secret.load());
  swapIn(dir, "token", "\n");  // empty once trimmed
  EXPECT_EQ(secret.value().value(), "good");
  ASSERT_EQ(std::remove(path.c_str()), 0);  // mid-swap: briefly missing
  EXPECT_EQ(secret.value().value(), "good");
  swapIn(dir, "token", "better");
  EXPECT_EQ(secret.value().value(), "better");
}

TEST(SecretFileTest, MissingOrEmptyAtStartIsAnErrorNamingTheSetting) {
  TempDir dir;
  SecretFile missing(dir.path() + "/none", "exporters.x.token_file");
  auto loaded = missing.load();
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message().find("exporters.x.token_file: cannot read"),
            std::string::npos);
  EXPECT_FALSE(missing.value());

  SecretFile empty(dir.write("empty", "\n"), "exporters.x.token_file");
  loaded = empty.load();
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message().find("is empty"), std::string::npos);
}

}  // namespace
}  // namespace kubemetrics
