// read_send_buffer against a real loopback connection whose reader is slow:
// the uploader decides from it when a chunk may go (connection::can_send_now).

#include <gtest/gtest.h>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "peer/socket_queues.hpp"

namespace {

using asio::ip::tcp;
using peerlab::peer::read_send_buffer;

struct loopback_pair {
  asio::io_context io;
  tcp::socket writer{io}, reader{io};

  loopback_pair() {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    writer.connect(acceptor.local_endpoint());
    acceptor.accept(reader);
    writer.non_blocking(true);
  }

  // Writes until the kernel takes no more (the reader reads nothing); returns the bytes taken.
  std::size_t fill() {
    const std::vector<char> block(64 * 1024, 'x');
    std::size_t taken = 0;
    for (int i = 0; i < 10'000; ++i) {  // bounded: loopback buffers are a few MiB at most
      std::error_code ec;
      const auto n = writer.write_some(asio::buffer(block), ec);
      if (ec) break;
      taken += n;
    }
    return taken;
  }
};

TEST(SendBuffer, AnIdleConnectionHoldsNothing) {
  loopback_pair pair;
  const auto b = read_send_buffer(pair.writer.native_handle());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->unsent, 0u);
  EXPECT_GT(b->capacity, 0u);
  EXPECT_LT(b->queued, b->capacity);
}

TEST(SendBuffer, AReaderThatDoesNotReadLeavesItFullAndUnsent) {
  loopback_pair pair;
  const auto taken = pair.fill();
  ASSERT_GT(taken, 0u);
  const auto b = read_send_buffer(pair.writer.native_handle());
  ASSERT_TRUE(b);
  // The reader's window closed, so part of what was taken never left; the
  // kernel stopped taking more because its buffer was full.
  EXPECT_GT(b->unsent, 0u);
  EXPECT_LE(b->unsent, taken);
  EXPECT_GT(b->queued, b->capacity / 2);

  // Once the reader takes everything, it is all sent and acknowledged.
  std::vector<char> sink(taken);
  asio::read(pair.reader, asio::buffer(sink));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto after = read_send_buffer(pair.writer.native_handle());
  while (after && (after->unsent > 0 || after->queued > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // until the last ACK is in
    after = read_send_buffer(pair.writer.native_handle());
  }
  ASSERT_TRUE(after);
  EXPECT_EQ(after->unsent, 0u);
  EXPECT_EQ(after->queued, 0u);
}

TEST(SendBuffer, NotASocketHasNoReading) {
  EXPECT_FALSE(read_send_buffer(-1));
}

}  // namespace
