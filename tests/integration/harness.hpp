#pragma once
// Runs nodes on one io_context in a background thread, as `peerlab node`
// does, and lets the test thread look at them safely and wait for conditions.

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "peer/node.hpp"
#include "protocol/endpoint.hpp"

namespace peerlab::testing {

using namespace std::chrono_literals;

class harness {
 public:
  harness() : guard_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~harness() {
    run([this] {
      for (auto& n : nodes_)
        n->stop();
    });
    guard_.reset();
    thread_.join();  // returns once every connection has wound down
  }

  asio::io_context& io() { return io_; }

  // Runs f on the network thread and returns its result.
  template <class F>
  auto run(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }

  static peer::node_settings settings(const std::string& name,
                                      std::vector<protocol::endpoint> peers = {}) {
    peer::node_settings s;
    s.listen = *protocol::parse_endpoint("127.0.0.1:0");
    s.bootstrap_peers = std::move(peers);
    s.name = name;
    return s;
  }

  peer::node& add_node(peer::node_settings s) {
    protocol::node_id id{};
    for (auto& b : id)
      b = static_cast<std::uint8_t>(next_id_byte_++ * 37 + 11);
    nodes_.push_back(std::make_unique<peer::node>(io_, std::move(s), id));
    auto& n = *nodes_.back();
    auto started = run([&n] { return n.start(); });
    if (!started) throw std::runtime_error(started.error_message());
    return n;
  }

  // Polls a condition (evaluated on the network thread) until it holds or the
  // deadline passes; returns whether it held.
  bool wait_until(std::function<bool()> condition, std::chrono::milliseconds deadline = 5s) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < end) {
      if (run(condition)) return true;
      std::this_thread::sleep_for(10ms);
    }
    return run(condition);
  }

  // The ids of the peers a node is connected to.
  std::vector<std::string> peer_ids(const peer::node& n) {
    return run([&n] {
      std::vector<std::string> ids;
      for (const auto& c : n.connections())
        ids.push_back(c.id);
      return ids;
    });
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::vector<std::unique_ptr<peer::node>> nodes_;
  int next_id_byte_ = 1;
  std::thread thread_;
};

inline std::string hex_id(const peer::node& n) {
  return protocol::to_hex(n.id());
}

}  // namespace peerlab::testing
