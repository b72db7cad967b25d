#pragma once
// Runs nodes on one io_context in a background thread, as `peerlab node`
// does, and lets the test thread look at them safely and wait for conditions.

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "peer/log.hpp"
#include "peer/node.hpp"
#include "protocol/endpoint.hpp"

namespace peerlab::testing {

using namespace std::chrono_literals;

class harness {
 public:
  harness() : guard_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {
    // PEERLAB_LOG=debug shows every event while debugging a test.
    peer::log_level level = peer::log_level::info;
    if (const char* env = std::getenv("PEERLAB_LOG")) peer::parse_log_level(env, level);
    peer::set_log_level(level);
  }
  ~harness() {
    run([this] {
      for (auto& n : nodes_)
        n->stop();
    });
    guard_.reset();
    thread_.join();  // returns once every connection has wound down
    nodes_.clear();
    std::error_code ignored;
    for (const auto& dir : dirs_)
      std::filesystem::remove_all(dir, ignored);
  }

  // A fresh directory, removed when the harness goes.
  std::filesystem::path temp_dir(const std::string& name) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / ("peerlab-" + name + "-XXXXXX")).string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dirs_.push_back(pattern);
    return pattern;
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

  peer::node_settings settings(const std::string& name,
                               std::vector<protocol::endpoint> peers = {}) {
    peer::node_settings s;
    s.data_dir = temp_dir(name);
    s.listen = *protocol::parse_endpoint("127.0.0.1:0");
    s.bootstrap_peers = std::move(peers);
    s.name = name;
    return s;
  }

  peer::node& add_node(peer::node_settings s) { return *add_nodes_together({std::move(s)})[0]; }

  // Starts several nodes in the same turn of the event loop, so that their
  // first dials race each other. Ids ascend in the order given.
  std::vector<peer::node*> add_nodes_together(std::vector<peer::node_settings> all) {
    std::vector<peer::node*> added;
    for (auto& s : all) {
      protocol::node_id id{};
      id.fill(static_cast<std::uint8_t>(next_id_byte_++));
      nodes_.push_back(std::make_unique<peer::node>(io_, std::move(s), id));
      added.push_back(nodes_.back().get());
    }
    const auto problem = run([&added] {
      for (auto* n : added) {
        if (auto started = n->start(); !started) return started.error_message();
      }
      return std::string();
    });
    if (!problem.empty()) throw std::runtime_error(problem);
    return added;
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
  std::vector<std::filesystem::path> dirs_;
  std::thread thread_;
};

inline std::string hex_id(const peer::node& n) {
  return protocol::to_hex(n.id());
}

}  // namespace peerlab::testing
