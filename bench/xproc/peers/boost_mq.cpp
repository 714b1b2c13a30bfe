// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Peer "boost_message_queue": Boost.Interprocess message_queue (named shm, mutex + condvars).

#include "harness.hpp"

#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/ipc/message_queue.hpp>

namespace {

namespace bip = boost::interprocess;

constexpr char kPeer[] = "boost_message_queue";
constexpr std::size_t kRttDepth = 16;
constexpr std::uint64_t kWarmup = 1000; // round trips before the timed ones

[[noreturn]] void fail(const std::string &what) {
  throw std::runtime_error(std::string(kPeer) + ": " + what);
}

/// Removes the named queue when the scope ends, also on error. It lives in the leader's frame:
/// the forked follower _exits and never runs it.
struct QueueRemover {
  explicit QueueRemover(std::string queue_name)
      : name(std::move(queue_name)), on_signal(bench::shm_path(name)) {}
  QueueRemover(const QueueRemover &) = delete;
  QueueRemover &operator=(const QueueRemover &) = delete;
  ~QueueRemover() { bip::message_queue::remove(name.c_str()); }
  std::string name;
  bench::interrupt::Unlink on_signal; ///< the queue is a file in /dev/shm
};

/// The absolute deadline the timed operations need. Computing one costs about 80 ns here, a
/// sizable part of a 64 B message, so it is refreshed only every 64 operations; with a 10 s
/// timeout that staleness does not matter. A blocked peer turns into an error, not a hang.
class Deadline {
public:
  const boost::posix_time::ptime &get() {
    if (uses_++ % 64 == 0)
      at_ = boost::posix_time::microsec_clock::universal_time() + boost::posix_time::seconds(10);
    return at_;
  }

private:
  std::uint64_t uses_ = 0;
  boost::posix_time::ptime at_;
};

// timed_send/timed_receive take the same path as the blocking send/receive (one lock, a condvar
// wait only when full/empty); the deadline only matters once they block.
void send(bip::message_queue &queue, const std::byte *data, std::size_t size, Deadline &deadline) {
  if (!queue.timed_send(data, size, 0, deadline.get()))
    fail("send timed out (the other process is dead or stuck)");
}

void receive(bip::message_queue &queue, std::byte *out, std::size_t size, Deadline &deadline) {
  bip::message_queue::size_type received = 0;
  unsigned int priority = 0;
  if (!queue.timed_receive(out, size, received, priority, deadline.get()))
    fail("receive timed out (the other process is dead or stuck)");
  if (received != size)
    fail("received a message of the wrong size");
}

/// Runs `body`, reporting Boost.Interprocess errors (which are not std::runtime_error) as
/// std::runtime_error so the harness shows the reason.
template <class Body> auto translating_errors(Body &&body) -> decltype(body()) {
  try {
    return body();
  } catch (const bip::interprocess_exception &e) {
    fail(e.what());
  }
}

/// `count` messages of `size` bytes through one queue of ring_bytes / size messages, blocking
/// on both sides. The leader is the consumer: it receives each message into its buffer and
/// touches every byte.
bench::Sample throughput(const bench::Load &load) {
  const std::size_t size = load.size;
  const std::uint64_t count = load.count;
  if (size == 0 || count == 0 || load.ring_bytes < size)
    fail("throughput needs a size, a count and a ring of at least one message");
  return translating_errors([&] {
    QueueRemover remover{bench::unique_name("mq")};
    bip::message_queue queue(bip::create_only, remover.name.c_str(), load.ring_bytes / size, size);
    bench::SharedScratch scratch;
    auto *go = new (scratch.data()) std::atomic<std::uint32_t>{0};
    return bench::run_pair(
        [&] {
          std::vector<std::byte> buffer(size);
          Deadline deadline;
          // The producer waits for this, so the queue is not pre-filled before the clock runs.
          go->store(1, std::memory_order_release);
          receive(queue, buffer.data(), size, deadline);
          const auto start = std::chrono::steady_clock::now();
          std::uint64_t sum = bench::touch_payload(buffer.data(), size);
          for (std::uint64_t seq = 1; seq < count; ++seq) {
            receive(queue, buffer.data(), size, deadline);
            sum += bench::touch_payload(buffer.data(), size);
          }
          bench::Sample sample;
          sample.seconds = bench::seconds_since(start);
          sample.messages = count;
          bench::check_sum(sum, bench::expected_stream(size, count), kPeer);
          return sample;
        },
        [&] {
          return translating_errors([&] {
            // Opened by name, as an unrelated process would.
            bip::message_queue producer(bip::open_only, remover.name.c_str());
            std::vector<std::byte> buffer(size);
            Deadline deadline;
            bench::spin_until(*go, 1);
            for (std::uint64_t seq = 0; seq < count; ++seq) {
              bench::fill_payload(buffer.data(), size, seq);
              send(producer, buffer.data(), size, deadline);
            }
            return 0;
          });
        },
        /*pin=*/true);
  });
}

/// `count` round trips of `size` bytes over two queues of depth 16 (ping, pong), after kWarmup
/// untimed ones. Each sample is one send + the blocking receive of the echo, timed by the
/// leader; the payload is filled before and verified after the timed part.
bench::Sample rtt_sleep(const bench::Load &load) {
  const std::size_t size = load.size;
  const std::uint64_t count = load.count;
  if (size == 0)
    fail("rtt needs a size");
  const bench::Tsc &tsc = bench::Tsc::get(); // calibrate before the follower starts waiting
  return translating_errors([&] {
    QueueRemover ping_remover{bench::unique_name("mq-ping")};
    QueueRemover pong_remover{bench::unique_name("mq-pong")};
    bip::message_queue ping(bip::create_only, ping_remover.name.c_str(), kRttDepth, size);
    bip::message_queue pong(bip::create_only, pong_remover.name.c_str(), kRttDepth, size);
    const std::uint64_t rounds = kWarmup + count;
    bench::Sample result = bench::run_pair(
        [&] {
          std::vector<std::byte> out(size), in(size);
          Deadline deadline;
          bench::Sample sample;
          sample.latencies_ns.reserve(count);
          const std::uint64_t cpu0 = bench::process_cpu_ns();
          for (std::uint64_t i = 0; i < rounds; ++i) {
            bench::fill_payload(out.data(), size, i);
            const std::uint64_t t0 = bench::Tsc::ticks();
            send(ping, out.data(), size, deadline);
            receive(pong, in.data(), size, deadline);
            const std::uint64_t t1 = bench::Tsc::ticks();
            if (bench::touch_payload(in.data(), size) != bench::expected_touch(size, i))
              fail("echo corrupted");
            if (i >= kWarmup)
              sample.latencies_ns.push_back(tsc.ns(t1 - t0));
          }
          sample.cpu_ns_per_op = static_cast<double>(bench::process_cpu_ns() - cpu0);
          return sample;
        },
        [&] {
          return translating_errors([&] {
            bip::message_queue ping_in(bip::open_only, ping_remover.name.c_str());
            bip::message_queue pong_out(bip::open_only, pong_remover.name.c_str());
            std::vector<std::byte> buffer(size);
            Deadline deadline;
            const std::uint64_t cpu0 = bench::process_cpu_ns();
            for (std::uint64_t i = 0; i < rounds; ++i) {
              receive(ping_in, buffer.data(), size, deadline);
              send(pong_out, buffer.data(), size, deadline);
            }
            bench::report_follower_cpu(bench::process_cpu_ns() - cpu0);
            return 0;
          });
        },
        /*pin=*/true);
    result.cpu_ns_per_op = (result.cpu_ns_per_op + static_cast<double>(bench::follower_cpu_ns())) /
                           static_cast<double>(rounds);
    return result;
  });
}

bench::Peer make_peer() {
  bench::Peer peer;
  peer.name = kPeer;
  peer.scenarios[bench::scenario::kSingle] = {
      .run = throughput,
      .sizes = {64, 1024},
      .form = "one timed_send / timed_receive per message; 256 KiB of messages"};
  peer.scenarios[bench::scenario::kBatched] = {
      .not_applicable = "no batch call: message_queue sends and receives one message per call"};
  peer.scenarios[bench::scenario::kRttSleep] = {
      .run = rtt_sleep, .form = "timed_send / timed_receive (process-shared mutex + condvar)"};
  peer.order = 40;
  return peer;
}

const bench::Register reg{make_peer()};

} // namespace
