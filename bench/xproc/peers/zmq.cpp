// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Peer "zeromq_ipc": libzmq (C API) over an ipc:// endpoint, i.e. a Unix-domain socket with
// ZeroMQ's I/O thread on each side. Each process creates its own context after the fork (one
// I/O thread), both sides pinned: baselines.md §6 found pinning better for ZeroMQ.
//
// throughput_single: PUSH -> PULL, one zmq_send per message from a buffer the producer fills;
//                    the consumer receives with zmq_msg_recv and touches every byte in place.
//                    PUSH blocks when its high-water mark is reached, so the stream is
//                    lossless. The high-water marks of both sockets together hold
//                    bench::kSmallRingBytes of messages (the kernel's socket buffers come on
//                    top, as they do for the Unix socket).
// rtt_sleep:         PAIR <-> PAIR ping-pong, both sides blocking in zmq_recv. CPU per round
//                    trip counts every thread of each process, ZeroMQ's I/O thread included.
//
// Every send and receive has a 10 s timeout, so a dead peer becomes an error, not a hang.

#include "harness.hpp"

#include <zmq.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

namespace {

constexpr const char *kName = "zeromq_ipc";
constexpr int kTimeoutMs = 10'000;
constexpr std::uint64_t kWarmup = 1000;

/// Throws with libzmq's error; a timeout (EAGAIN) usually means the other process is gone.
[[noreturn]] void fail(const char *what) {
  const int err = zmq_errno();
  throw std::runtime_error(std::string(kName) + ": " + what + ": " + zmq_strerror(err) +
                           (err == EAGAIN ? " (timed out: is the other process gone?)" : ""));
}

class Context {
public:
  Context() : ctx_(zmq_ctx_new()) {
    if (ctx_ == nullptr)
      fail("zmq_ctx_new");
    if (zmq_ctx_set(ctx_, ZMQ_IO_THREADS, 1) != 0) {
      try {
        fail("zmq_ctx_set(ZMQ_IO_THREADS)");
      } catch (...) {
        zmq_ctx_term(ctx_);
        throw;
      }
    }
  }
  ~Context() { zmq_ctx_term(ctx_); }
  Context(const Context &) = delete;
  Context &operator=(const Context &) = delete;
  [[nodiscard]] void *get() const noexcept { return ctx_; }

private:
  void *ctx_;
};

class Socket {
public:
  Socket(const Context &ctx, int type) : sock_(zmq_socket(ctx.get(), type)) {
    if (sock_ == nullptr)
      fail("zmq_socket");
    try {
      set(ZMQ_LINGER, 0);
      set(ZMQ_RCVTIMEO, kTimeoutMs);
      set(ZMQ_SNDTIMEO, kTimeoutMs);
    } catch (...) {
      zmq_close(sock_);
      throw;
    }
  }
  ~Socket() { zmq_close(sock_); }
  Socket(const Socket &) = delete;
  Socket &operator=(const Socket &) = delete;

  void bind(const std::string &endpoint) {
    if (zmq_bind(sock_, endpoint.c_str()) != 0)
      fail(("zmq_bind " + endpoint).c_str());
  }
  void connect(const std::string &endpoint) {
    if (zmq_connect(sock_, endpoint.c_str()) != 0)
      fail(("zmq_connect " + endpoint).c_str());
  }
  /// Messages queued in this socket before it blocks (PUSH) or stops reading (PULL).
  void set_hwm(int option, int messages) { set(option, messages); }
  void send(const void *data, std::size_t size) {
    if (zmq_send(sock_, data, size, 0) != static_cast<int>(size))
      fail("zmq_send");
  }
  [[nodiscard]] void *get() const noexcept { return sock_; }

private:
  void set(int option, int value) {
    if (zmq_setsockopt(sock_, option, &value, sizeof value) != 0)
      fail("zmq_setsockopt");
  }
  void *sock_;
};

/// A received message, read in place (no copy out of ZeroMQ's buffer).
class Message {
public:
  Message() { zmq_msg_init(&msg_); }
  ~Message() { zmq_msg_close(&msg_); }
  Message(const Message &) = delete;
  Message &operator=(const Message &) = delete;

  /// Receives the next message and checks that it has `size` bytes.
  void recv(const Socket &sock, std::size_t size) {
    if (zmq_msg_recv(&msg_, sock.get(), 0) < 0)
      fail("zmq_msg_recv");
    if (zmq_msg_size(&msg_) != size)
      throw std::runtime_error(std::string(kName) + ": received " +
                               std::to_string(zmq_msg_size(&msg_)) + " bytes, expected " +
                               std::to_string(size));
  }
  [[nodiscard]] const std::byte *data() noexcept {
    return static_cast<const std::byte *>(zmq_msg_data(&msg_));
  }

private:
  zmq_msg_t msg_{};
};

/// Start and end barriers between the two processes (in SharedScratch).
struct Barriers {
  std::atomic<std::uint32_t> bound{0}; ///< the leader's socket is bound
  std::atomic<std::uint32_t> done{0};  ///< the leader has everything it needs
};

/// Waits for `flag` without spinning: the waiting process shares its CPU with its own I/O
/// thread, which may still have messages to flush.
void sleep_until(const std::atomic<std::uint32_t> &flag, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (flag.load(std::memory_order_acquire) == 0) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(std::string(kName) + ": the other process did not finish");
    ::usleep(100);
  }
}

/// The ipc:// socket file of one scenario, removed when the leader's scope ends, also on error
/// (the forked follower _exits and never runs the destructor).
struct IpcEndpoint {
  IpcEndpoint()
      : path("/tmp/" + bench::unique_name(kName)), uri("ipc://" + path), on_signal(path) {}
  IpcEndpoint(const IpcEndpoint &) = delete;
  IpcEndpoint &operator=(const IpcEndpoint &) = delete;
  ~IpcEndpoint() { ::unlink(path.c_str()); }
  std::string path;
  std::string uri;
  bench::interrupt::Unlink on_signal;
};

bench::Sample throughput(const bench::Load &load) {
  const std::size_t size = load.size;
  const std::uint64_t count = load.count;
  if (count == 0 || size == 0 || load.ring_bytes < 2 * size)
    fail("throughput needs a count, a size and a ring of at least two messages");
  const int hwm = static_cast<int>(load.ring_bytes / size / 2);
  const IpcEndpoint ipc;
  const std::string &endpoint = ipc.uri;
  bench::SharedScratch scratch;
  auto *barriers = new (scratch.data()) Barriers{};
  struct Measured {
    double seconds;
    std::uint64_t sum;
  };
  const Measured measured = bench::run_pair(
      [&] { // consumer: PULL
        const Context ctx;
        Socket pull(ctx, ZMQ_PULL);
        pull.set_hwm(ZMQ_RCVHWM, hwm);
        pull.bind(endpoint);
        barriers->bound.store(1, std::memory_order_release);
        Message msg;
        std::uint64_t sum = 0;
        msg.recv(pull, size);
        const auto start = std::chrono::steady_clock::now();
        sum += bench::touch_payload(msg.data(), size);
        for (std::uint64_t i = 1; i < count; ++i) {
          msg.recv(pull, size);
          sum += bench::touch_payload(msg.data(), size);
        }
        const double seconds = bench::seconds_since(start);
        barriers->done.store(1, std::memory_order_release);
        return Measured{seconds, sum};
      },
      [&] { // producer: PUSH
        bench::spin_until(barriers->bound, 1, std::chrono::seconds(10));
        const Context ctx;
        Socket push(ctx, ZMQ_PUSH);
        push.set_hwm(ZMQ_SNDHWM, hwm);
        push.connect(endpoint);
        std::vector<std::byte> buf(size);
        for (std::uint64_t i = 0; i < count; ++i) {
          bench::fill_payload(buf.data(), size, i);
          push.send(buf.data(), size);
        }
        // Linger is 0: stay until the consumer has everything.
        sleep_until(barriers->done, std::chrono::seconds(60));
        return 0;
      },
      /*pin=*/true);
  bench::check_sum(measured.sum, bench::expected_stream(size, count), kName);
  bench::Sample sample;
  sample.seconds = measured.seconds;
  sample.messages = count;
  return sample;
}

void check_message(const std::byte *data, std::size_t size, std::uint64_t seq) {
  if (bench::touch_payload(data, size) != bench::expected_touch(size, seq))
    throw std::runtime_error(std::string(kName) + ": round-trip payload corrupted");
}

bench::Sample rtt_sleep(const bench::Load &load) {
  const std::size_t size = load.size;
  const std::uint64_t count = load.count;
  const IpcEndpoint ipc;
  const std::string &endpoint = ipc.uri;
  const bench::Tsc &tsc = bench::Tsc::get(); // calibrate before the fork
  bench::SharedScratch scratch;
  auto *barriers = new (scratch.data()) Barriers{};
  const std::uint64_t total = kWarmup + count;
  struct Measured {
    std::vector<std::uint64_t> ticks;
    std::uint64_t cpu_ns;
  };
  const Measured measured = bench::run_pair(
      [&] { // pinger
        std::vector<std::uint64_t> out;
        out.reserve(count);
        const Context ctx;
        Socket pair(ctx, ZMQ_PAIR);
        pair.bind(endpoint);
        barriers->bound.store(1, std::memory_order_release);
        std::vector<std::byte> buf(size);
        Message msg;
        const std::uint64_t cpu0 = bench::process_cpu_ns();
        for (std::uint64_t i = 0; i < total; ++i) {
          const std::uint64_t t0 = bench::Tsc::ticks();
          bench::fill_payload(buf.data(), size, i);
          pair.send(buf.data(), size);
          msg.recv(pair, size);
          check_message(msg.data(), size, i);
          const std::uint64_t t1 = bench::Tsc::ticks();
          if (i >= kWarmup)
            out.push_back(t1 - t0);
        }
        const std::uint64_t cpu = bench::process_cpu_ns() - cpu0;
        barriers->done.store(1, std::memory_order_release);
        return Measured{std::move(out), cpu};
      },
      [&] { // ponger
        bench::spin_until(barriers->bound, 1, std::chrono::seconds(10));
        const Context ctx;
        Socket pair(ctx, ZMQ_PAIR);
        pair.connect(endpoint);
        std::vector<std::byte> buf(size);
        Message msg;
        const std::uint64_t cpu0 = bench::process_cpu_ns();
        for (std::uint64_t i = 0; i < total; ++i) {
          msg.recv(pair, size);
          check_message(msg.data(), size, i);
          bench::fill_payload(buf.data(), size, i);
          pair.send(buf.data(), size);
        }
        bench::report_follower_cpu(bench::process_cpu_ns() - cpu0);
        sleep_until(barriers->done, std::chrono::seconds(60));
        return 0;
      },
      /*pin=*/true);
  bench::Sample sample;
  sample.latencies_ns.reserve(measured.ticks.size());
  for (const std::uint64_t t : measured.ticks)
    sample.latencies_ns.push_back(tsc.ns(t));
  sample.cpu_ns_per_op =
      static_cast<double>(measured.cpu_ns + bench::follower_cpu_ns()) / static_cast<double>(total);
  return sample;
}

bench::Peer make_peer() {
  bench::Peer peer;
  peer.name = kName;
  peer.scenarios[bench::scenario::kSingle] = {
      .run = throughput,
      .sizes = {64, 1024},
      .form = "PUSH/PULL, one zmq_send / zmq_msg_recv per message; HWMs hold 256 KiB"};
  peer.scenarios[bench::scenario::kBatched] = {
      .not_applicable = "no batch call: one zmq_send per message (libzmq batches internally "
                        "on every send, which the single row already measures)"};
  peer.scenarios[bench::scenario::kRttSleep] = {.run = rtt_sleep,
                                                .form = "PAIR/PAIR, blocking zmq_recv"};
  peer.order = 60;
  return peer;
}

const bench::Register reg{make_peer()};

} // namespace
