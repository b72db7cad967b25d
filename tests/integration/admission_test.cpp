// Admission to the handshake pool with real nodes: the classroom case, many
// honest nodes behind one address, must mesh even when the pool is full.

#include <gtest/gtest.h>

#include "harness.hpp"

namespace peerlab::testing {
namespace {

TEST(Admission, FiftyNodesOnOneAddressMeshEvenWithATinyHandshakePool) {
  harness h;
  constexpr std::size_t nodes = 50;
  std::vector<peer::node*> all;
  std::vector<protocol::endpoint> earlier;
  for (std::size_t i = 0; i < nodes; ++i) {
    auto s = h.settings("n" + std::to_string(i), earlier);  // each dials every earlier one
    s.max_handshakes = 4;  // so that the pool is full, and the policy bites, all the time
    s.max_concurrent_dials = 49;
    all.push_back(&h.add_node(std::move(s)));
    earlier.push_back(all.back()->listen_endpoint());
  }
  const auto meshed = [&] {
    return std::all_of(all.begin(), all.end(),
                       [&](peer::node* n) { return n->connections().size() == nodes - 1; });
  };
  EXPECT_TRUE(h.wait_until(meshed, 60s));
}

}  // namespace
}  // namespace peerlab::testing
