// RequestAuth: bearer tokens and HTTP basic authentication (RFC 7617) read
// from files that may be rotated while the agent runs.
#include "common/http/request_auth.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/process.h"

namespace kubemetrics {
namespace {

using testing::TempDir;

HttpRequest withAuthorization(std::string value) {
  HttpRequest request;
  request.method = "GET";
  if (!value.empty()) request.headers = {{"Authorization", std::move(value)}};
  return request;
}

TEST(RequestAuthTest, WithoutCredentialsEveryRequestPasses) {
  auto auth = RequestAuth::create({}, "x");
  ASSERT_TRUE(auth);
  EXPECT_FALSE((*auth)->required());
  EXPECT_TRUE((*auth)->allows(withAuthorization("")));
}

TEST(RequestAuthTest, BasicAuthenticationChecksNameAndPassword) {
  TempDir dir;
  EndpointCredentials credentials;
  credentials.basic_auth = {"prometheus", dir.write("password", "open sesame\n")};
  auto auth = RequestAuth::create(credentials, "exporters.prometheus");
  ASSERT_TRUE(auth) << auth.error().message();
  const RequestAuth& a = **auth;
  EXPECT_TRUE(a.required());
  // base64("prometheus:open sesame"), by `printf 'prometheus:open sesame' | base64`.
  const std::string good = "cHJvbWV0aGV1czpvcGVuIHNlc2FtZQ==";
  EXPECT_TRUE(a.allows(withAuthorization("Basic " + good)));
  EXPECT_TRUE(a.allows(withAuthorization("basic " + good)));  // the scheme is case-insensitive
  // base64("prometheus:open sesamE") and base64("prometheuz:open sesame").
  EXPECT_FALSE(a.allows(withAuthorization("Basic cHJvbWV0aGV1czpvcGVuIHNlc2FtRQ==")));
  EXPECT_FALSE(a.allows(withAuthorization("Basic cHJvbWV0aGV1ejpvcGVuIHNlc2FtZQ==")));
  EXPECT_FALSE(a.allows(withAuthorization("Bearer open sesame")));
  EXPECT_FALSE(a.allows(withAuthorization("")));
  EXPECT_EQ(a.challenge(), "Basic realm=\"kubemetrics-agent\"");
}

TEST(RequestAuthTest, TokenAndBasicTogetherAcceptEither) {
  TempDir dir;
  EndpointCredentials credentials{dir.write("token", "t0k3n"), {"u", dir.write("password", "p")}};
  auto auth = RequestAuth::create(credentials, "x");
  ASSERT_TRUE(auth) << auth.error().message();
  EXPECT_TRUE((*auth)->allows(withAuthorization("Bearer t0k3n")));
  EXPECT_TRUE((*auth)->allows(withAuthorization("Basic dTpw")));  // base64("u:p")
  EXPECT_FALSE((*auth)->allows(withAuthorization("Bearer p")));
  EXPECT_EQ((*auth)->challenge(), "Bearer, Basic realm=\"kubemetrics-agent\"");
}

TEST(RequestAuthTest, ARotatedPasswordIsUsedFromTheNextRequestOn) {
  TempDir dir;
  const std::string password = dir.write("password", "p");
  auto auth = RequestAuth::create({"", {"u", password}}, "x");
  ASSERT_TRUE(auth) << auth.error().message();
  EXPECT_TRUE((*auth)->allows(withAuthorization("Basic dTpw")));  // u:p
  // As a Secret volume update does: a new file renamed into place.
  dir.write("password.new", "q");
  std::filesystem::rename(dir.path() + "/password.new", password);
  EXPECT_TRUE((*auth)->allows(withAuthorization("Basic dTpx")));  // u:q
  EXPECT_FALSE((*auth)->allows(withAuthorization("Basic dTpw")));
}

TEST(RequestAuthTest, AnUnreadableFileFailsNamingTheSetting) {
  auto auth =
      RequestAuth::create({"", {"u", "/nonexistent/password"}}, "sources.listeners.wavefront");
  ASSERT_FALSE(auth);
  EXPECT_NE(auth.error().message().find("sources.listeners.wavefront.basic_auth.password_file"),
            std::string::npos)
      << auth.error().message();
}

}  // namespace
}  // namespace kubemetrics
