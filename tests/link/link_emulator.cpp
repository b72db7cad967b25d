// link_emulator: one emulated link between two TAP devices, for tests that
// need a slow, distant or lossy network (this kernel has tbf but no netem).
//
//   link_emulator TAP_A TAP_B [--both SPEC] [--a-to-b SPEC] [--b-to-a SPEC] [--seed N]
//   SPEC: rate=2mbit,queue=64KiB,delay=10ms,loss=1%   (queue=100p counts frames)
//
// It creates both TAPs (plain Ethernet frames, no packet-info header, no
// offloads: the kernel hands a plain TAP frames of at most the MTU), prints
// "ready TAP_A TAP_B", and forwards every frame from one to the other
// through a one_way_link (link_model.hpp) per direction. The test then moves
// each TAP into its network namespace (the file descriptors stay valid) and
// gives it an address. SIGUSR1 prints the counters; SIGTERM or SIGINT prints
// them and exits 0. One thread, epoll, a timerfd armed for the next frame
// due: it sleeps whenever nothing is due.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "link_model.hpp"

namespace {

using peerlab::link::direction_counters;
using peerlab::link::direction_settings;
using peerlab::link::frame_bytes;
using peerlab::link::nanoseconds;
using peerlab::link::one_way_link;

constexpr std::size_t max_frame_bytes = 65536;     // larger than any MTU we set
constexpr std::size_t frames_per_read_turn = 256;  // then the other side's turn
constexpr std::size_t spare_buffers_kept = 4096;

nanoseconds monotonic_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return nanoseconds(static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "link_emulator: %s\n", what.c_str());
  std::exit(1);
}

[[noreturn]] void die_errno(const std::string& what) {
  die(what + ": " + std::strerror(errno));
}

int open_tap(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    die("a TAP name has 1 to 15 characters: '" + name + "'");
  const int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) die_errno("cannot open /dev/net/tun (root needed)");
  ifreq request{};
  request.ifr_flags = IFF_TAP | IFF_NO_PI;  // plain Ethernet frames, no header of ours
  std::memcpy(request.ifr_name, name.c_str(), name.size());
  if (ioctl(fd, TUNSETIFF, &request) < 0) die_errno("cannot create TAP " + name);
  return fd;
}

// One direction: the link model, the TAP it reads from and the one it writes to.
struct direction {
  const char* name;
  int from_fd;
  int to_fd;
  one_way_link link;
  std::uint64_t write_errors = 0;
};

class emulator {
 public:
  emulator(int fd_a, int fd_b, direction_settings a_to_b, direction_settings b_to_a)
      : directions_{direction{"a_to_b", fd_a, fd_b, one_way_link(a_to_b)},
                    direction{"b_to_a", fd_b, fd_a, one_way_link(b_to_a)}} {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGTERM, SIGINT, SIGUSR1})
      sigaddset(&signals, s);
    if (sigprocmask(SIG_BLOCK, &signals, nullptr) < 0) die_errno("sigprocmask");
    signal_fd_ = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (epoll_fd_ < 0 || timer_fd_ < 0 || signal_fd_ < 0) die_errno("epoll/timerfd/signalfd");
    for (int fd : {fd_a, fd_b, timer_fd_, signal_fd_}) {
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.fd = fd;
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) < 0) die_errno("epoll_ctl");
    }
  }

  void run() {
    std::array<epoll_event, 8> events{};
    while (running_) {
      const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), -1);
      if (n < 0 && errno != EINTR) die_errno("epoll_wait");
      for (int i = 0; i < n; ++i) {
        const int fd = events[static_cast<std::size_t>(i)].data.fd;
        if (fd == signal_fd_) on_signal();
        if (fd == timer_fd_) {
          std::uint64_t expirations = 0;
          (void)!read(timer_fd_, &expirations, sizeof expirations);
        }
        for (auto& d : directions_) {
          if (fd == d.from_fd) take_frames(d);
        }
      }
      deliver_due();
      arm_timer();
    }
    print_counters("stats");
  }

 private:
  // Reads what the sending side has written, a bounded batch at a time.
  void take_frames(direction& d) {
    for (std::size_t i = 0; i < frames_per_read_turn; ++i) {
      const ssize_t got = read(d.from_fd, scratch_.data(), scratch_.size());
      if (got < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        if (errno == EIO) return;  // the interface is down: nothing to read yet
        die_errno(std::string("reading a frame (") + d.name + ")");
      }
      if (got == 0) return;
      frame_bytes frame = spare_buffer();
      frame.assign(scratch_.begin(), scratch_.begin() + got);
      d.link.offer(monotonic_now(), std::move(frame));
    }
  }

  void deliver_due() {
    const nanoseconds now = monotonic_now();
    for (auto& d : directions_) {
      d.link.release_due(now, [&](frame_bytes&& frame) {
        // A TAP write hands the frame to the receiving stack at once; a
        // failure (interface down, no memory) is one frame lost.
        if (write(d.to_fd, frame.data(), frame.size()) != static_cast<ssize_t>(frame.size())) {
          ++d.write_errors;
        }
        recycle(std::move(frame));
      });
    }
  }

  void arm_timer() {
    std::optional<nanoseconds> next;
    for (auto& d : directions_) {
      const auto due = d.link.next_release();
      if (due && (!next || *due < *next)) next = due;
    }
    itimerspec when{};  // all zero: disarmed
    if (next) {
      const auto at = std::max(next->count(), std::int64_t{1});
      when.it_value.tv_sec = static_cast<time_t>(at / 1'000'000'000);
      when.it_value.tv_nsec = static_cast<long>(at % 1'000'000'000);
    }
    if (timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &when, nullptr) < 0)
      die_errno("timerfd_settime");
  }

  void on_signal() {
    signalfd_siginfo info{};
    while (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      if (info.ssi_signo == SIGUSR1) {
        print_counters("stats");
      } else {
        running_ = false;
      }
    }
  }

  // One line of JSON after `label`, so a test can parse it.
  void print_counters(const char* label) const {
    std::string line = std::string(label) + " {";
    for (const auto& d : directions_) {
      const direction_counters& c = d.link.counters();
      char part[512];
      std::snprintf(part, sizeof part,
                    "%s\"%s\": {\"frames\": %llu, \"bytes\": %llu, \"queue_drops\": %llu, "
                    "\"queue_drop_bytes\": %llu, \"loss_drops\": %llu, \"loss_drop_bytes\": %llu, "
                    "\"peak_queue_bytes\": %llu, \"write_errors\": %llu, \"held_frames\": %zu}",
                    &d == &directions_[0] ? "" : ", ", d.name,
                    static_cast<unsigned long long>(c.frames_forwarded),
                    static_cast<unsigned long long>(c.bytes_forwarded),
                    static_cast<unsigned long long>(c.frames_dropped_queue),
                    static_cast<unsigned long long>(c.bytes_dropped_queue),
                    static_cast<unsigned long long>(c.frames_dropped_loss),
                    static_cast<unsigned long long>(c.bytes_dropped_loss),
                    static_cast<unsigned long long>(c.peak_queue_bytes),
                    static_cast<unsigned long long>(d.write_errors), d.link.held_frames());
      line += part;
    }
    line += "}\n";
    std::fputs(line.c_str(), stdout);
    std::fflush(stdout);
  }

  // Frame buffers are reused: no allocation per frame once warmed up.
  frame_bytes spare_buffer() {
    if (spare_.empty()) return {};
    frame_bytes buffer = std::move(spare_.back());
    spare_.pop_back();
    return buffer;
  }
  void recycle(frame_bytes&& buffer) {
    if (spare_.size() < spare_buffers_kept) spare_.push_back(std::move(buffer));
  }

  std::array<direction, 2> directions_;
  std::array<std::byte, max_frame_bytes> scratch_{};
  std::vector<frame_bytes> spare_;
  int epoll_fd_ = -1;
  int timer_fd_ = -1;
  int signal_fd_ = -1;
  bool running_ = true;
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: link_emulator TAP_A TAP_B [--both SPEC] [--a-to-b SPEC] [--b-to-a SPEC] "
               "[--seed N]\n"
               "  SPEC: comma-separated rate=2mbit, queue=64KiB (or 100p frames), delay=10ms, "
               "loss=1%%\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> taps;
  direction_settings a_to_b;
  direction_settings b_to_a;
  std::uint64_t seed = 1;
  std::string error;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--both" && has_value) {
      const std::string spec = argv[++i];
      if (!peerlab::link::parse_settings(spec, a_to_b, error) ||
          !peerlab::link::parse_settings(spec, b_to_a, error)) {
        die(error);
      }
    } else if (arg == "--a-to-b" && has_value) {
      if (!peerlab::link::parse_settings(argv[++i], a_to_b, error)) die(error);
    } else if (arg == "--b-to-a" && has_value) {
      if (!peerlab::link::parse_settings(argv[++i], b_to_a, error)) die(error);
    } else if (arg == "--seed" && has_value) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (!arg.empty() && arg[0] != '-') {
      taps.push_back(arg);
    } else {
      usage();
    }
  }
  if (taps.size() != 2) usage();
  // Two directions, two different loss sequences from one seed.
  a_to_b.seed = seed * 2 + 1;
  b_to_a.seed = seed * 2 + 2;

  const int fd_a = open_tap(taps[0]);
  const int fd_b = open_tap(taps[1]);
  emulator link(fd_a, fd_b, a_to_b, b_to_a);
  std::printf("ready %s %s\n", taps[0].c_str(), taps[1].c_str());
  std::fflush(stdout);
  link.run();
  close(fd_a);
  close(fd_b);
  return 0;
}
