// HTTP request parser: the bytes a client sends on one connection, possibly
// several pipelined requests. Parsed twice, with the server's limits and with
// tiny ones (so the fuzzer reaches every limit with short inputs), each time
// fed whole, byte by byte and in random pieces. Checks: every split gives
// the same requests and the same error; a parsed request is within the
// limits and well formed; the Host/Origin check only lets through hosts that
// name this node (arriving on 192.168.1.5:8080); a /files/ID path's id
// survives hex.

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "http/host_check.hpp"
#include "http/request_parser.hpp"
#include "protocol/endpoint.hpp"
#include "protocol/manifest.hpp"

namespace peerlab::fuzz {

namespace {

using http::request;
using http::request_parser;

struct parsed {
  std::string method, target;
  int version_minor = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = false;

  bool operator==(const parsed&) const = default;
};

struct outcome {
  std::vector<parsed> requests;
  int error_status = 0;  // 0: no error; the connection waits for more
  std::string error_reason;
  std::size_t consumed = 0;

  bool operator==(const outcome&) const = default;
};

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Where the requests arrive: a node listening on its LAN address.
const protocol::endpoint lan_address = *protocol::parse_endpoint("192.168.1.5:8080");

void check_host_policy(const request& r) {
  static const std::vector<std::string> names{"localhost", "lab-pc"};
  const auto refusal = http::check_host_and_origin(r, names);
  if (refusal) {
    FUZZ_CHECK(refusal->status == 400 || refusal->status == 403);
    return;
  }
  const auto* host = r.header("host");
  FUZZ_CHECK(host || r.version_minor == 0);
  if (host) {
    // What got through names this node: the address the request came to or
    // a loopback address, localhost (or a name under it), or one of names.
    std::string name = lower(host->starts_with('[') ? host->substr(0, host->find(']') + 1)
                                                    : host->substr(0, host->find(':')));
    if (const auto ip = protocol::parse_endpoint(name + ":0")) {
      FUZZ_CHECK(protocol::is_loopback(*ip) ||
                 (ip->family == r.local.family && ip->ip == r.local.ip));
    } else {
      if (name.ends_with('.')) name.pop_back();
      FUZZ_CHECK(name == "localhost" || name.ends_with(".localhost") ||
                 std::find(names.begin(), names.end(), name) != names.end());
    }
  }
  const auto* origin = r.header("origin");
  if (origin && r.method != "GET" && r.method != "HEAD" && r.method != "OPTIONS")
    FUZZ_CHECK(host && lower(*origin) == "http://" + lower(*host));
}

// A complete request is within the limits and as the parser describes it.
void check_request(const request& r, const http::parser_limits& limits) {
  FUZZ_CHECK(is_token(r.method));
  FUZZ_CHECK(r.target.starts_with('/'));
  FUZZ_CHECK(std::none_of(r.target.begin(), r.target.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
  }));
  FUZZ_CHECK(r.version_minor == 0 || r.version_minor == 1);
  FUZZ_CHECK(r.headers.size() <= limits.max_headers);
  std::size_t head = r.method.size() + r.target.size();
  for (const auto& [name, value] : r.headers) {
    FUZZ_CHECK(is_token(name) && name == lower(name));
    FUZZ_CHECK(value.find_first_of(std::string_view("\0\r\n", 3)) == std::string::npos);
    FUZZ_CHECK(value.empty() || (value.front() != ' ' && value.front() != '\t' &&
                                 value.back() != ' ' && value.back() != '\t'));
    head += name.size() + value.size();
  }
  FUZZ_CHECK(head <= limits.max_head_bytes);
  FUZZ_CHECK(r.body.size() <= limits.max_body_bytes);
  if (const auto* length = r.header("content-length")) {
    FUZZ_CHECK(!length->empty() && std::all_of(length->begin(), length->end(),
                                               [](char c) { return c >= '0' && c <= '9'; }));
    const auto digits = length->find_first_not_of('0');
    FUZZ_CHECK(std::string_view(*length).substr(std::min(digits, length->size() - 1)) ==
               std::to_string(r.body.size()));
  } else {
    FUZZ_CHECK(r.body.empty());
  }
  FUZZ_CHECK(!r.header("transfer-encoding"));
  FUZZ_CHECK(r.version_minor == 0 || r.header("host"));
  FUZZ_CHECK(r.target.starts_with(r.path()));

  check_host_policy(r);
  // The router's /files/ID: an id that parses prints back as the same text.
  if (r.path().starts_with("/files/")) {
    auto id_text = r.path().substr(7);
    id_text = id_text.substr(0, id_text.find('/'));
    if (const auto id = protocol::content_id_from_hex(id_text))
      FUZZ_CHECK(protocol::to_hex(*id) == id_text);
  }
}

// The requests a connection reads: it keeps what the parser did not use
// (the start of a pipelined request) and feeds it again after take().
outcome parse(std::string_view input, const http::parser_limits& limits, split how) {
  const std::span<const std::uint8_t> raw(reinterpret_cast<const std::uint8_t*>(input.data()),
                                          input.size());
  request_parser parser(limits);
  outcome out;
  std::string pending;
  std::size_t at = 0;
  for (const auto n : piece_sizes(raw, how)) {
    pending.append(input.substr(at, n));
    at += n;
    for (;;) {
      const auto used = parser.feed(pending);
      FUZZ_CHECK(used <= pending.size());
      pending.erase(0, used);
      out.consumed += used;
      if (parser.current() == request_parser::state::error) {
        out.error_status = parser.error_status();
        out.error_reason = parser.error_reason();
        FUZZ_CHECK(out.error_status == 400 || out.error_status == 413 || out.error_status == 431 ||
                   out.error_status == 501 || out.error_status == 505);
        FUZZ_CHECK(!out.error_reason.empty());
        return out;
      }
      if (parser.current() == request_parser::state::need_more) {
        FUZZ_CHECK(pending.empty());  // waiting for bytes it has not seen
        break;
      }
      auto r = parser.take();
      r.local = lan_address;  // as the server fills it in: the socket's own end
      check_request(r, limits);
      out.requests.push_back(
          {r.method, r.target, r.version_minor, r.headers, r.body, r.keep_alive()});
    }
  }
  FUZZ_CHECK(out.consumed == input.size());
  return out;
}

}  // namespace

int fuzz_request_parser(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const http::parser_limits server_limits{};
  const http::parser_limits tiny{.max_head_bytes = 96, .max_headers = 3, .max_body_bytes = 16};
  for (const auto& limits : {server_limits, tiny}) {
    const auto expected = parse(input, limits, split::whole);
    for (const auto how : {split::bytewise, split::random})
      FUZZ_CHECK(parse(input, limits, how) == expected);
  }
  return 0;
}

}  // namespace peerlab::fuzz
