// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Peer "unix_socket": an AF_UNIX SOCK_STREAM socket under /tmp, blocking I/O.

#include "harness.hpp"

#include <cerrno>
#include <utility>

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

namespace {

using bench::Fd;

constexpr char kPeer[] = "unix_socket";
constexpr std::size_t kChunk = 64 * 1024;    // consumer read size: stream reads batch
constexpr std::uint64_t kWarmup = 1000;      // RTT round trips before the timed ones
constexpr std::uint64_t kTransferWarmup = 2; // transfers before the timed ones
constexpr time_t kTimeoutSeconds = 10;       // SO_RCVTIMEO / SO_SNDTIMEO
// Baselines (section 4) found pinning neither consistently better nor worse for UDS; pinned
// keeps the rows comparable with the other peers, which all run pinned.
constexpr bool kPin = true;

[[noreturn]] void fail(const std::string &what) {
  throw std::runtime_error(std::string(kPeer) + ": " + what);
}

[[noreturn]] void fail_errno(const std::string &what) {
  const int code = errno;
  if (code == EAGAIN || code == EWOULDBLOCK)
    fail(what + " timed out (the other process is dead or stuck)");
  fail(what + ": " + std::strerror(code));
}

/// Unlinks the socket file when the scope ends, also on error. It lives in the leader's frame:
/// the forked follower _exits and never runs it.
struct SocketFile {
  explicit SocketFile(std::string file) : path(std::move(file)), on_signal(path) {}
  SocketFile(const SocketFile &) = delete;
  SocketFile &operator=(const SocketFile &) = delete;
  ~SocketFile() { ::unlink(path.c_str()); }
  std::string path;
  bench::interrupt::Unlink on_signal;
};

sockaddr_un address_of(const std::string &path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path)
    fail("socket path too long: " + path);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

Fd stream_socket() {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0)
    fail_errno("socket");
  return fd;
}

/// Blocking calls on `fd` (accept, connect, send, recv) fail after kTimeoutSeconds instead of
/// hanging when the other process is stuck. A dead one closes the socket: EOF or EPIPE.
void set_timeouts(const Fd &fd) {
  const timeval timeout{kTimeoutSeconds, 0};
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0 ||
      ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) != 0)
    fail_errno("setsockopt");
}

/// Sends all of `data`. A blocking send only returns early on a timeout or a signal.
/// MSG_NOSIGNAL: a dead reader is an EPIPE error here, not a SIGPIPE that kills the harness.
void write_all(int fd, const std::byte *data, std::size_t size) {
  while (size > 0) {
    const ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR)
        continue;
      fail_errno("send");
    }
    data += sent;
    size -= static_cast<std::size_t>(sent);
  }
}

/// Receives what is there, at least one byte and at most `size`.
std::size_t read_some(int fd, std::byte *out, std::size_t size) {
  for (;;) {
    const ssize_t got = ::recv(fd, out, size, 0);
    if (got > 0)
      return static_cast<std::size_t>(got);
    if (got == 0)
      fail("the other process closed the socket early");
    if (errno != EINTR)
      fail_errno("recv");
  }
}

void read_exact(int fd, std::byte *out, std::size_t size) {
  while (size > 0) {
    const std::size_t got = read_some(fd, out, size);
    out += got;
    size -= got;
  }
}

/// touch_payload over a byte stream of back-to-back messages of one size, fed in pieces that
/// end anywhere. touch_payload sums each message as 8-byte words from its start plus its last
/// size % 8 bytes one by one; a piece adds its share of that: the whole words through
/// touch_payload, the bytes of a word cut by a piece boundary shifted to their place by hand.
/// So every byte is read once, where it landed, with no reassembly copy.
class StreamToucher {
public:
  explicit StreamToucher(std::size_t size) : size_(size), words_end_(size & ~std::size_t{7}) {}

  std::uint64_t add(const std::byte *data, std::size_t n) {
    std::uint64_t sum = 0;
    while (n > 0) {
      const std::size_t take = std::min(n, size_ - pos_);
      sum += piece(data, take);
      data += take;
      n -= take;
      pos_ += take;
      if (pos_ == size_)
        pos_ = 0;
    }
    return sum;
  }

private:
  /// Bytes [pos_, pos_ + n) of the current message.
  [[nodiscard]] std::uint64_t piece(const std::byte *data, std::size_t n) const {
    std::uint64_t sum = 0;
    std::size_t at = pos_;
    const std::size_t end = pos_ + n;
    for (; at < end && at < words_end_ && at % 8 != 0; ++at, ++data)
      sum += static_cast<std::uint64_t>(*data) << (8 * (at % 8));
    if (at < words_end_) {
      const std::size_t words = (std::min(end, words_end_) - at) & ~std::size_t{7};
      sum += bench::touch_payload(data, words);
      data += words;
      at += words;
    }
    for (; at < end; ++at, ++data)
      sum += at < words_end_ ? static_cast<std::uint64_t>(*data) << (8 * (at % 8))
                             : static_cast<std::uint64_t>(*data);
    return sum;
  }

  std::size_t size_;
  std::size_t words_end_;
  std::size_t pos_ = 0;
};

/// Runs `leader(fd)` here and `follower(fd)` in the forked process, on the two ends of one
/// connection. The leader binds and listens before the fork, so the follower's connect cannot
/// race it; the leader accepts after the fork.
template <class Leader, class Follower>
bench::Sample run_connected(Leader &&leader, Follower &&follower) {
  SocketFile file("/tmp/" + bench::unique_name(kPeer) + ".sock");
  const sockaddr_un address = address_of(file.path);
  Fd listener = stream_socket();
  if (::bind(listener.get(), reinterpret_cast<const sockaddr *>(&address), sizeof address) != 0)
    fail_errno("bind " + file.path);
  if (::listen(listener.get(), 1) != 0)
    fail_errno("listen");
  set_timeouts(listener); // SO_RCVTIMEO bounds accept
  return bench::run_pair(
      [&] {
        Fd connection(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (connection.get() < 0)
          fail_errno("accept");
        set_timeouts(connection);
        return leader(connection.get());
      },
      [&] {
        listener.reset();
        Fd connection = stream_socket();
        set_timeouts(connection); // SO_SNDTIMEO bounds connect
        if (::connect(connection.get(), reinterpret_cast<const sockaddr *>(&address),
                      sizeof address) != 0)
          fail_errno("connect " + file.path);
        return follower(connection.get());
      },
      kPin);
}

/// The two throughput forms: the follower writes `count` messages of `size` bytes, `batch`
/// of them per send() (one buffer, every byte filled); the leader reads, one recv() of exactly
/// `size` bytes per message when `batch` is 1, else up to 64 KiB per recv(), touching every
/// byte where it landed. The kernel's default socket buffer (net.core.wmem_default) is the
/// "ring" here.
bench::Sample stream(std::size_t size, std::uint64_t count, std::size_t batch) {
  if (size == 0 || count == 0 || batch == 0)
    fail("throughput needs a size, a count and a batch");
  bench::SharedScratch scratch;
  auto *go = new (scratch.data()) std::atomic<std::uint32_t>{0};
  return run_connected(
      [&](int fd) {
        const std::uint64_t total = size * count;
        // The producer waits for this, so the socket buffer is not pre-filled before the clock
        // runs.
        go->store(1, std::memory_order_release);
        std::uint64_t sum = 0;
        auto start = std::chrono::steady_clock::now();
        if (batch == 1) {
          std::vector<std::byte> message(size);
          for (std::uint64_t seq = 0; seq < count; ++seq) {
            read_exact(fd, message.data(), size);
            if (seq == 0)
              start = std::chrono::steady_clock::now();
            sum += bench::touch_payload(message.data(), size);
          }
        } else {
          std::vector<std::byte> chunk(kChunk);
          StreamToucher toucher(size);
          std::size_t got = read_some(fd, chunk.data(), std::min<std::uint64_t>(kChunk, total));
          start = std::chrono::steady_clock::now();
          std::uint64_t received = 0;
          for (;;) {
            sum += toucher.add(chunk.data(), got);
            received += got;
            if (received == total)
              break;
            got = read_some(fd, chunk.data(), std::min<std::uint64_t>(kChunk, total - received));
          }
        }
        bench::Sample sample;
        sample.seconds = bench::seconds_since(start);
        sample.messages = count;
        bench::check_sum(sum, bench::expected_stream(size, count), kPeer);
        return sample;
      },
      [&](int fd) {
        std::vector<std::byte> buffer(size * batch);
        bench::spin_until(*go, 1);
        for (std::uint64_t seq = 0; seq < count;) {
          const std::size_t n =
              static_cast<std::size_t>(std::min<std::uint64_t>(batch, count - seq));
          for (std::size_t i = 0; i < n; ++i)
            bench::fill_payload(buffer.data() + i * size, size, seq + i);
          write_all(fd, buffer.data(), n * size);
          seq += n;
        }
        return 0;
      });
}

/// `count` round trips of `size` bytes, after kWarmup untimed ones: the leader writes, the
/// follower reads exactly `size` bytes and writes them back, the leader reads exactly `size`
/// bytes. The payload is filled before and verified after the timed part.
bench::Sample rtt_sleep(const bench::Load &load) {
  const std::size_t size = load.size;
  const std::uint64_t count = load.count;
  if (size == 0)
    fail("rtt needs a size");
  const bench::Tsc &tsc = bench::Tsc::get(); // calibrate before the follower starts waiting
  const std::uint64_t rounds = kWarmup + count;
  bench::Sample result = run_connected(
      [&](int fd) {
        std::vector<std::byte> out(size), in(size);
        bench::Sample sample;
        sample.latencies_ns.reserve(count);
        const std::uint64_t cpu0 = bench::process_cpu_ns();
        for (std::uint64_t i = 0; i < rounds; ++i) {
          bench::fill_payload(out.data(), size, i);
          const std::uint64_t t0 = bench::Tsc::ticks();
          write_all(fd, out.data(), size);
          read_exact(fd, in.data(), size);
          const std::uint64_t t1 = bench::Tsc::ticks();
          if (bench::touch_payload(in.data(), size) != bench::expected_touch(size, i))
            fail("echo corrupted");
          if (i >= kWarmup)
            sample.latencies_ns.push_back(tsc.ns(t1 - t0));
        }
        sample.cpu_ns_per_op = static_cast<double>(bench::process_cpu_ns() - cpu0);
        return sample;
      },
      [&](int fd) {
        std::vector<std::byte> buffer(size);
        const std::uint64_t cpu0 = bench::process_cpu_ns();
        for (std::uint64_t i = 0; i < rounds; ++i) {
          read_exact(fd, buffer.data(), size);
          write_all(fd, buffer.data(), size);
        }
        bench::report_follower_cpu(bench::process_cpu_ns() - cpu0);
        return 0;
      });
  result.cpu_ns_per_op = (result.cpu_ns_per_op + static_cast<double>(bench::follower_cpu_ns())) /
                         static_cast<double>(rounds);
  return result;
}

/// `count` transfers of one `size`-byte message, after kTransferWarmup untimed ones. The
/// follower is the writer: it records its start tick in shared memory, fills every byte of a
/// private buffer and write()s it all; the leader reads it into its message buffer, touching
/// each piece as it arrives, takes the end tick, and acks with one byte (one message in
/// flight). A sample is end minus start; the TSC is synchronized across cores.
bench::Sample transfer(const bench::Load &load) {
  const std::size_t size = load.size;
  const std::uint64_t count = load.count;
  if (size == 0)
    fail("transfer needs a size");
  const bench::Tsc &tsc = bench::Tsc::get(); // calibrate before the follower starts waiting
  struct Shared {
    std::atomic<std::uint64_t> start_ticks{0};
  };
  bench::SharedScratch scratch;
  auto *shared = new (scratch.data()) Shared{};
  const std::uint64_t rounds = kTransferWarmup + count;
  return run_connected(
      [&](int fd) {
        std::vector<std::byte> message(size);
        bench::Sample sample;
        sample.latencies_ns.reserve(count);
        const std::byte ack{1};
        for (std::uint64_t i = 0; i < rounds; ++i) {
          StreamToucher toucher(size);
          std::uint64_t sum = 0;
          for (std::size_t got = 0; got < size;) {
            const std::size_t n = read_some(fd, message.data() + got, size - got);
            sum += toucher.add(message.data() + got, n);
            got += n;
          }
          const std::uint64_t end = bench::Tsc::ticks();
          // Stored before the writer's first send, which precedes this read's completion.
          const std::uint64_t start = shared->start_ticks.load(std::memory_order_acquire);
          if (sum != bench::expected_touch(size, i))
            fail("transfer corrupted");
          if (i >= kTransferWarmup)
            sample.latencies_ns.push_back(tsc.ns(end > start ? end - start : 0));
          write_all(fd, &ack, 1);
        }
        return sample;
      },
      [&](int fd) {
        std::vector<std::byte> message(size);
        std::byte ack{};
        for (std::uint64_t i = 0; i < rounds; ++i) {
          shared->start_ticks.store(bench::Tsc::ticks(), std::memory_order_release);
          bench::fill_payload(message.data(), size, i);
          write_all(fd, message.data(), size);
          read_exact(fd, &ack, 1); // the reader is done with this message
        }
        return 0;
      });
}

bench::Peer make_peer() {
  bench::Peer peer;
  peer.name = kPeer;
  peer.scenarios[bench::scenario::kSingle] = {
      .run = [](const bench::Load &load) { return stream(load.size, load.count, 1); },
      .sizes = {64, 1024},
      .form = "one send() per message; one recv() of exactly one message; default socket buffer"};
  peer.scenarios[bench::scenario::kBatched] = {
      .run = [](const bench::Load &load) { return stream(load.size, load.count, load.batch); },
      .sizes = {64, 1024},
      .form = "one send() per 32 messages; recv() of up to 64 KiB; default socket buffer"};
  peer.scenarios[bench::scenario::kRttSleep] = {.run = rtt_sleep, .form = "blocking send / recv"};
  peer.scenarios[bench::scenario::kTransfer] = {.run = transfer, .form = "one message in flight"};
  peer.order = 50;
  return peer;
}

const bench::Register reg{make_peer()};

} // namespace
