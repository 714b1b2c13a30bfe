// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Peer "boost_lockfree_spsc_shm": Boost.Lockfree spsc_queue placed in shared memory, busy spin.

#include "harness.hpp"

#include <boost/lockfree/spsc_queue.hpp>

#include <vector>

namespace {

constexpr char kPeer[] = "boost_lockfree_spsc_shm";
constexpr std::uint64_t kWarmup = 1000; // round trips before the timed ones
constexpr std::chrono::seconds kTimeout{10};
constexpr std::size_t kPage = 4096;

[[noreturn]] void fail(const std::string &what) {
  throw std::runtime_error(std::string(kPeer) + ": " + what);
}

/// One message of exactly `Size` bytes. alignas(64) gives every element whole cache lines, as
/// in baselines.md section 3.
template <std::size_t Size> struct alignas(64) Msg { std::byte bytes[Size]; };

/// The capacity is a compile-time parameter, so the ring storage sits inside the queue object
/// itself (no heap pointers) and the object can live in memory mapped by both processes.
template <std::size_t Size, std::size_t Capacity>
using Queue = boost::lockfree::spsc_queue<Msg<Size>, boost::lockfree::capacity<Capacity>>;

/// `N` queues of type `Q` in one anonymous MAP_SHARED mapping created before the fork, each on
/// its own pages (so 64-byte aligned and never sharing a line with another), after a first page
/// that holds the start flag. Destroyed by the leader only (the follower _exits).
template <class Q, std::size_t N> class SharedQueues {
  static_assert(alignof(Q) <= kPage);
  static_assert(std::atomic<std::size_t>::is_always_lock_free,
                "the queue indices must be lock-free to work across processes");
  static constexpr std::size_t kStride = (sizeof(Q) + kPage - 1) / kPage * kPage;

public:
  SharedQueues() : memory_(kPage + N * kStride) {
    auto *base = static_cast<std::byte *>(memory_.data());
    go_ = new (base) std::atomic<std::uint32_t>{0};
    for (std::size_t i = 0; i < N; ++i)
      queues_[i] = new (base + kPage + i * kStride) Q();
  }
  ~SharedQueues() {
    for (Q *queue : queues_)
      queue->~Q();
  }
  SharedQueues(const SharedQueues &) = delete;
  SharedQueues &operator=(const SharedQueues &) = delete;

  Q &queue(std::size_t i) { return *queues_[i]; }
  std::atomic<std::uint32_t> &go() { return *go_; }

private:
  bench::SharedScratch memory_;
  std::atomic<std::uint32_t> *go_ = nullptr;
  Q *queues_[N] = {};
};

/// Busy-spins until `attempt` succeeds: a plain spin without pause or yield, which is how the
/// queue is used (and how baselines.md measured it). The clock is read only every 4096 failed
/// attempts, because a clock read costs more than a push, so a dead peer becomes an error.
template <class Attempt> void spin(Attempt &&attempt, const char *what) {
  if (attempt()) [[likely]]
    return;
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  for (std::uint32_t tries = 1;; ++tries) {
    if (attempt())
      return;
    if ((tries & 0xfff) == 0 && std::chrono::steady_clock::now() > deadline)
      fail(std::string(what) + " timed out (the other process is dead or stuck)");
  }
}

/// The queue of the throughput scenarios: bench::kSmallRingBytes of cells.
template <std::size_t Size>
using StreamQueue = Queue<Size, bench::kSmallRingBytes / sizeof(Msg<Size>)>;

/// Runs `consume` (the leader) against `produce` (the follower) on one queue in shared memory;
/// the producer starts once the consumer is waiting, so the queue is not pre-filled before the
/// clock could run.
template <std::size_t Size, class Consume, class Produce>
bench::Sample stream(Consume &&consume, Produce &&produce) {
  SharedQueues<StreamQueue<Size>, 1> shared;
  auto &queue = shared.queue(0);
  return bench::run_pair(
      [&] {
        shared.go().store(1, std::memory_order_release);
        return consume(queue);
      },
      [&] {
        bench::spin_until(shared.go(), 1);
        produce(queue);
        return 0;
      },
      /*pin=*/true);
}

bench::Sample finish(double seconds, std::uint64_t count, std::uint64_t sum, std::size_t size) {
  bench::check_sum(sum, bench::expected_stream(size, count), kPeer);
  bench::Sample sample;
  sample.seconds = seconds;
  sample.messages = count;
  return sample;
}

/// One push (copy in) and one pop (copy out) per message. The leader is the consumer: it pops
/// into a local message and touches every byte.
template <std::size_t Size> bench::Sample run_single(std::uint64_t count) {
  return stream<Size>(
      [&](StreamQueue<Size> &queue) {
        Msg<Size> msg;
        spin([&] { return queue.pop(msg); }, "pop");
        const auto start = std::chrono::steady_clock::now();
        std::uint64_t sum = bench::touch_payload(msg.bytes, Size);
        for (std::uint64_t seq = 1; seq < count; ++seq) {
          spin([&] { return queue.pop(msg); }, "pop");
          sum += bench::touch_payload(msg.bytes, Size);
        }
        return finish(bench::seconds_since(start), count, sum, Size);
      },
      [&](StreamQueue<Size> &queue) {
        Msg<Size> msg;
        for (std::uint64_t seq = 0; seq < count; ++seq) {
          bench::fill_payload(msg.bytes, Size, seq);
          spin([&] { return queue.push(msg); }, "push");
        }
      });
}

/// The bulk form: the producer fills `batch` messages in a local array and pushes them with
/// push(array, n) (looping while the queue takes only part); the consumer takes everything
/// there with consume_all(), touching every byte in the queue's cells.
template <std::size_t Size> bench::Sample run_batched(std::uint64_t count, std::size_t batch) {
  return stream<Size>(
      [&](StreamQueue<Size> &queue) {
        std::uint64_t sum = 0;
        std::uint64_t got = 0;
        auto touch = [&](const Msg<Size> &msg) { sum += bench::touch_payload(msg.bytes, Size); };
        spin([&] { return (got = queue.consume_all(touch)) != 0; }, "consume_all");
        const auto start = std::chrono::steady_clock::now();
        while (got < count) {
          std::size_t n = 0;
          spin([&] { return (n = queue.consume_all(touch)) != 0; }, "consume_all");
          got += n;
        }
        return finish(bench::seconds_since(start), count, sum, Size);
      },
      [&](StreamQueue<Size> &queue) {
        std::vector<Msg<Size>> msgs(batch);
        for (std::uint64_t seq = 0; seq < count;) {
          const std::size_t n =
              static_cast<std::size_t>(std::min<std::uint64_t>(batch, count - seq));
          for (std::size_t i = 0; i < n; ++i)
            bench::fill_payload(msgs[i].bytes, Size, seq + i);
          for (std::size_t pushed = 0; pushed < n;) {
            std::size_t now = 0;
            spin([&] { return (now = queue.push(msgs.data() + pushed, n - pushed)) != 0; }, "push");
            pushed += now;
          }
          seq += n;
        }
      });
}

/// `count` round trips over two queues of capacity 64 (ping, pong), after kWarmup untimed ones.
/// A sample is one push + spinning on the echo's pop, timed by the leader; the payload is
/// filled before and verified after the timed part.
template <std::size_t Size> bench::Sample run_rtt(std::uint64_t count) {
  const bench::Tsc &tsc = bench::Tsc::get(); // calibrate before the follower starts spinning
  SharedQueues<Queue<Size, 64>, 2> shared;
  auto &ping = shared.queue(0);
  auto &pong = shared.queue(1);
  const std::uint64_t rounds = kWarmup + count;
  bench::Sample result = bench::run_pair(
      [&] {
        Msg<Size> out, in;
        bench::Sample sample;
        sample.latencies_ns.reserve(count);
        const std::uint64_t cpu0 = bench::process_cpu_ns();
        for (std::uint64_t i = 0; i < rounds; ++i) {
          bench::fill_payload(out.bytes, Size, i);
          const std::uint64_t t0 = bench::Tsc::ticks();
          spin([&] { return ping.push(out); }, "push");
          spin([&] { return pong.pop(in); }, "pop");
          const std::uint64_t t1 = bench::Tsc::ticks();
          if (bench::touch_payload(in.bytes, Size) != bench::expected_touch(Size, i))
            fail("echo corrupted");
          if (i >= kWarmup)
            sample.latencies_ns.push_back(tsc.ns(t1 - t0));
        }
        sample.cpu_ns_per_op = static_cast<double>(bench::process_cpu_ns() - cpu0);
        return sample;
      },
      [&] {
        Msg<Size> msg;
        const std::uint64_t cpu0 = bench::process_cpu_ns();
        for (std::uint64_t i = 0; i < rounds; ++i) {
          spin([&] { return ping.pop(msg); }, "pop");
          spin([&] { return pong.push(msg); }, "push");
        }
        bench::report_follower_cpu(bench::process_cpu_ns() - cpu0);
        return 0;
      },
      /*pin=*/true);
  result.cpu_ns_per_op = (result.cpu_ns_per_op + static_cast<double>(bench::follower_cpu_ns())) /
                         static_cast<double>(rounds);
  return result;
}

void check_ring(const bench::Load &load) {
  if (load.ring_bytes != bench::kSmallRingBytes)
    fail("the queues are built for bench::kSmallRingBytes of cells (compile-time capacity)");
}

// The message size is a template parameter, so only the sizes instantiated here run.
bench::Sample throughput_single(const bench::Load &load) {
  check_ring(load);
  switch (load.size) {
  case 64:
    return run_single<64>(load.count);
  case 1024:
    return run_single<1024>(load.count);
  default:
    fail("only 64 B and 1 KiB messages are built in (the message size is compile-time)");
  }
}

bench::Sample throughput_batched(const bench::Load &load) {
  check_ring(load);
  switch (load.size) {
  case 64:
    return run_batched<64>(load.count, load.batch);
  case 1024:
    return run_batched<1024>(load.count, load.batch);
  default:
    fail("only 64 B and 1 KiB messages are built in (the message size is compile-time)");
  }
}

bench::Sample rtt_spin(const bench::Load &load) {
  switch (load.size) {
  case 64:
    return run_rtt<64>(load.count);
  case 1024:
    return run_rtt<1024>(load.count);
  default:
    fail("only 64 B and 1 KiB messages are built in (the message size is compile-time)");
  }
}

bench::Peer make_peer() {
  bench::Peer peer;
  peer.name = kPeer;
  peer.scenarios[bench::scenario::kSingle] = {
      .run = throughput_single,
      .sizes = {64, 1024},
      .form = "push(one) / pop(one), copies in and out; 256 KiB of 64 B-aligned cells"};
  peer.scenarios[bench::scenario::kBatched] = {
      .run = throughput_batched,
      .sizes = {64, 1024},
      .form = "push(array, 32); consume_all() in place; 256 KiB of 64 B-aligned cells"};
  peer.scenarios[bench::scenario::kRttSpin] = {
      .run = rtt_spin, .sizes = {64, 1024}, .form = "push / pop, both sides spinning"};
  peer.order = 30;
  return peer;
}

const bench::Register reg{make_peer()};

} // namespace
