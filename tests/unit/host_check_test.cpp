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

TEST(HostCheck, EveryLocalAddressHostNameDotLocalAndAllowedHostsAreAccepted) {
  // What `peerlab node` passes: its names, NAME.local, its interface
  // addresses as text and every --allow-host.
  const std::vector<std::string> lan{"localhost", "lab-pc",  "lab-pc.local",
                                     "10.77.0.1", "fd00::1", "classroom.example"};
  const auto status = [&](const char* host) {
    const auto refusal =
        check_host_and_origin(make("GET", {{"host", host}}, "10.77.0.2:8080"), lan);
    return refusal ? refusal->status : 200;
  };
  for (const auto* host : {"10.77.0.1:8080", "10.77.0.2:8080", "[fd00::1]:8080", "[FD00:0::1]",
                           "lab-pc.local:8080", "LAB-PC.LOCAL.", "classroom.example:8080"}) {
    EXPECT_EQ(status(host), 200) << host;
  }
  for (const auto* host : {"10.77.0.3:8080", "[fd00::2]:8080", "other.local", "example"})
    EXPECT_EQ(status(host), 403) << host;
}

TEST(HostCheck, A403NamesTheAllowHostFlagAndTheNameButEchoesNoOtherBytes) {
  const auto refusal = check_host_and_origin(make("GET", {{"host", "Laptop.local:8080"}}), names);
  ASSERT_TRUE(refusal);
  EXPECT_NE(refusal->body.find("--allow-host laptop.local"), std::string::npos) << refusal->body;
  const auto odd = check_host_and_origin(make("GET", {{"host", "<script>x"}}), names);
  ASSERT_TRUE(odd);
  EXPECT_NE(odd->body.find("--allow-host NAME"), std::string::npos) << odd->body;
  EXPECT_EQ(odd->body.find("<script>"), std::string::npos) << odd->body;
}

}  // namespace
}  // namespace peerlab::http
