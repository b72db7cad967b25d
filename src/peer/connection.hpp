#pragma once
// One TCP connection to another peer: it moves frames between the socket and
// the node. Reads go through the frame decoder; writes go through a queue with
// one outstanding write (as in asio's chat example); a watchdog enforces the
// handshake, idle and write deadlines so no peer can hold us forever.
// BitTorrent's unframed side is in connection_raw.cpp.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "peer/file_handle.hpp"
#include "peer/memory_budget.hpp"
#include "peer/rate_limiter.hpp"
#include "peer/settings.hpp"
#include "peer/socket_queues.hpp"
#include "peer/tcp_info.hpp"
#include "peer/trace.hpp"
#include "protocol/endpoint.hpp"
#include "protocol/frame.hpp"
#include "protocol/messages.hpp"

namespace peerlab::peer {

// inbound: accepted on our passive (listening) socket; outbound: we dialed it.
enum class direction { inbound, outbound };
const char* to_string(direction d);

class connection : public std::enable_shared_from_this<connection> {
 public:
  using clock = std::chrono::steady_clock;

  connection(asio::ip::tcp::socket socket, direction dir, const connection_settings& settings);

  // Node-wide token buckets for each direction (either may be null).
  void set_rate_limiters(rate_limiter* up, rate_limiter* down) {
    up_limiter_ = up;
    down_limiter_ = down;
  }

  // The node-wide budget that frames being received are charged to (may be
  // null); a connection it cannot cover is closed, and one sitting on a
  // large unfinished frame may be closed to make room (memory_budget.hpp).
  void set_input_budget(memory_budget* budget);
  // Chunks are received into buffers recycled from here (the swarm gives
  // them back once written).
  void set_buffer_recycler(std::shared_ptr<protocol::buffer_recycler> r) {
    decoder_.recycle_from(std::move(r));
  }

  // Where every message sent and received is recorded (may be null).
  void set_trace(trace_log* trace) { trace_ = trace; }

  // Starts the writer and the watchdog; the handshake deadline runs from here.
  void start();

  // The next message, or an error once the connection is closed, times out or
  // receives bytes that are not a valid message (the connection is then closed).
  asio::awaitable<protocol::result<protocol::message>> receive();

  // Queues a message. Closes the connection if the peer lets too much pile up.
  void send(const protocol::message& m);
  // Queues a chunk whose data is bytes [offset, offset + head.length) of
  // `file`, sent with sendfile(2): the data never passes through our memory.
  void send_chunk(const protocol::chunk_head& head, std::shared_ptr<const file_handle> file,
                  std::uint64_t offset);

  // Waits until at most `max_queued` bytes wait to be written (or the
  // connection closes): backpressure for the uploader. (One waiter at a time:
  // each one sets the signal's expiry.)
  asio::awaitable<void> wait_writable(std::size_t max_queued);
  // The same, but gives up once no byte has gone out for `patience`:
  // true if the queue drained, false if the peer stopped taking data.
  asio::awaitable<bool> wait_writable(std::size_t max_queued, clock::duration patience);
  // True if a chunk queued now would start on its way at once: nothing waits
  // in our queue, the send buffer has room and the kernel holds less than
  // half its low-water mark unsent.
  bool can_send_now();
  // Waits until the kernel calls the socket writable (or it closes): then
  // can_send_now() may be true. The kernel's rule is stricter (a third of
  // the buffer free), so this may wait longer than needed, never forever.
  asio::awaitable<void> wait_sendable();
  // What the kernel knows of this connection's path (TCP_INFO): round trip,
  // delivery rate, retransmissions. All zero if it cannot say.
  tcp_reading path();
  // Unique per connection for the life of the process, never reused: state
  // kept about a connection is keyed by it, never by its address.
  std::uint64_t serial() const { return serial_; }

  // Raw byte access, for a connection that turns out to speak another
  // protocol (BitTorrent, told apart by its first bytes) over the same
  // writer, watchdog, rate limits and sendfile path.
  // The first byte the peer sent, left in the socket (-1: closed first).
  asio::awaitable<int> peek_first_byte();
  // Reads what is there (at least one byte), paying the download limiter;
  // 0 once the connection is closed (it then is).
  asio::awaitable<std::size_t> read_raw(std::span<std::uint8_t> into);
  // After the other protocol's handshake: from now on `idle` is the idle
  // timeout and `keepalive` is sent when nothing else was for a while.
  void mark_raw_established(clock::duration idle, std::vector<std::uint8_t> keepalive);
  void send_raw(std::vector<std::uint8_t> bytes);
  // `head`, then bytes [offset, offset + length) of `file` (sendfile).
  void send_raw_file(std::vector<std::uint8_t> head, std::shared_ptr<const file_handle> file,
                     std::uint64_t offset, std::uint64_t length);

  // Closes the socket; the first reason given is logged with the 4-tuple.
  void close(const std::string& reason);
  bool is_open() const { return open_; }

  // An outbound connection's peer listens where we dialed it.
  void mark_dialed(const protocol::endpoint& target) { advertised_ = target; }
  // After a valid hello: from now on the idle timeout and keepalives apply.
  void mark_established(const protocol::hello& peer_hello, const protocol::endpoint& advertised);

  direction dir() const { return direction_; }
  const protocol::endpoint& local() const { return local_; }
  const protocol::endpoint& remote() const { return remote_; }
  // "local <-> remote" as shown in every log line.
  std::string four_tuple() const;
  const std::optional<protocol::hello>& peer_hello() const { return peer_hello_; }
  // Where the peer accepts connections: its IP + the port from its hello.
  const protocol::endpoint& advertised() const { return advertised_; }
  std::uint64_t bytes_sent() const { return bytes_sent_; }
  std::uint64_t bytes_received() const { return bytes_received_; }
  clock::time_point connected_at() const { return connected_at_; }
  // Bytes waiting in our write queue (not yet handed to the kernel), and in
  // the socket's kernel buffers.
  std::size_t queued_bytes() const { return queued_bytes_; }
  socket_queues kernel_queues() { return queues_of(socket_.native_handle()); }

 private:
  // One queued frame: its bytes, then (for a chunk sent from a file) a
  // range of that file.
  struct outgoing {
    std::vector<std::uint8_t> bytes;
    std::shared_ptr<const file_handle> file;
    std::uint64_t file_offset = 0;
    std::uint64_t file_length = 0;
  };

  void enqueue(outgoing item);
  asio::awaitable<void> write_loop();
  // Writes `total` bytes of `buffers`, then `file_length` bytes of `file`
  // (if any), in slices paid to the upload limiter; returns the bytes sent.
  asio::awaitable<std::size_t> write_batch(const std::vector<asio::const_buffer>& buffers,
                                           const outgoing* file, std::error_code& ec);
  void start_writing();  // a write begins: its deadline runs from now
  asio::awaitable<void> watchdog();

  asio::ip::tcp::socket socket_;
  std::uint64_t serial_;
  direction direction_;
  connection_settings settings_;
  protocol::endpoint local_;
  protocol::endpoint remote_;
  protocol::endpoint advertised_;
  std::optional<protocol::hello> peer_hello_;
  bool raw_established_ = false;  // another protocol's handshake is done
  std::vector<std::uint8_t> raw_keepalive_;

  protocol::frame_decoder decoder_;
  std::optional<budget_share> input_share_;  // what decoder_ holds, charged to the budget
  bool hold_input();  // charges decoder_'s buffers; false (and closes) if over budget

  std::deque<outgoing> write_queue_;
  std::size_t queued_bytes_ = 0;
  asio::steady_timer write_signal_;  // wakes the writer when the queue fills
  asio::steady_timer watchdog_timer_;
  asio::steady_timer drained_signal_;  // fires after each completed write

  rate_limiter* up_limiter_ = nullptr;
  rate_limiter* down_limiter_ = nullptr;
  trace_log* trace_ = nullptr;
  bool open_ = true;
  bool writing_ = false;
  clock::time_point connected_at_;
  clock::time_point read_deadline_;
  clock::time_point write_deadline_;
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t bytes_received_ = 0;
  std::size_t notsent_lowat_ = 0;  // as set on the socket
  void pace_notsent_lowat();       // from the delivery rate, before each chunk
  void set_notsent_lowat(std::size_t bytes);
};

}  // namespace peerlab::peer
