#pragma once
// Plain HTTP GETs on loopback for tests that read an agent's or a fake's
// pages.

#include <httplib.h>

#include <string>

namespace kubemetrics::testing {

/// The body of GET `path` on 127.0.0.1:`port`, whatever its status, or ""
/// without an answer; `*status` gets the status, -1 without an answer. The
/// read timeout (60 s) only bounds a hang: a page rendered while a storm or
/// a loaded CI machine holds the agent can take well over 5 s.
inline std::string httpGet(int port, const std::string& path, int* status = nullptr) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  auto res = client.Get(path);
  if (status != nullptr) *status = res ? res->status : -1;
  return res ? res->body : std::string();
}

/// The /metrics page on 127.0.0.1:`port`, or "" unless it answered 200.
inline std::string metricsPage(int port) {
  int status = 0;
  std::string body = httpGet(port, "/metrics", &status);
  return status == 200 ? body : std::string();
}

}  // namespace kubemetrics::testing
