// Host and Origin checks: DNS rebinding and cross-site actions are refused.

#include "http/host_check.hpp"

#include <gtest/gtest.h>

namespace peerlab::http {
namespace {

request make(std::string method, std::vector<std::pair<std::string, std::string>> headers,
             const char* local = "127.0.0.2:8080") {
  request r;
  r.method = std::move(method);
  r.target = "/api/status";
  r.headers = std::move(headers);
  r.local = *protocol::parse_endpoint(local);
  return r;
}

const std::vector<std::string> names{"localhost", "lab-pc"};

int status_of(const request& r) {
  const auto refusal = check_host_and_origin(r, names);
  return refusal ? refusal->status : 200;
}

TEST(HostCheck, AddressesAndNamesOfThisNodeAreAccepted) {
  for (const auto* host :
       {"127.0.0.2:8080", "127.0.0.2", "127.0.0.1:9", "[::1]:8080", "localhost", "LOCALHOST:8080",
        "localhost.", "alice.localhost:8080", "lab-pc:8080", "Lab-PC"}) {
    EXPECT_EQ(status_of(make("GET", {{"host", host}})), 200) << host;
  }
  // A node on all interfaces is reached at the address the client dialed.
  EXPECT_EQ(status_of(make("GET", {{"host", "192.168.1.5:8080"}}, "192.168.1.5:8080")), 200);
}

TEST(HostCheck, OtherHostsAre403) {
  for (const auto* host : {"evil.example", "evil.example:8080", "192.168.1.5:8080",
                           "localhost.evil", "127.0.0.2.nip.io", "[::1", "", "lab-pc.evil"}) {
    EXPECT_EQ(status_of(make("GET", {{"host", host}})), 403) << host;
  }
}

TEST(HostCheck, MissingHostIs400InHttp11Only) {
  EXPECT_EQ(status_of(make("GET", {})), 400);
  auto old = make("GET", {});
  old.version_minor = 0;
  EXPECT_EQ(status_of(old), 200);
}

TEST(HostCheck, ActionsFromAnotherOriginAre403) {
  const auto host = std::pair<std::string, std::string>{"host", "127.0.0.2:8080"};
  EXPECT_EQ(status_of(make("POST", {host})), 200) << "no Origin: not a browser (the CLI)";
  EXPECT_EQ(status_of(make("POST", {host, {"origin", "http://127.0.0.2:8080"}})), 200);
  EXPECT_EQ(status_of(make("POST", {host, {"origin", "http://evil.example"}})), 403);
  EXPECT_EQ(status_of(make("POST", {host, {"origin", "null"}})), 403);
  EXPECT_EQ(status_of(make("POST", {host, {"origin", "http://127.0.0.2:9999"}})), 403);
  EXPECT_EQ(status_of(make("GET", {host, {"origin", "http://evil.example"}})), 200)
      << "reads are protected by the browser's same-origin policy";
}

}  // namespace
}  // namespace peerlab::http
