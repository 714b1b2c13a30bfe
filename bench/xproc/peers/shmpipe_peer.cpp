// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// shmpipe in the cross-process harness: the rows everything else is compared with.
#include <shmpipe/shmpipe.hpp>

#include <bit>

#include "harness.hpp"

namespace {

using namespace std::chrono_literals;
using shmpipe::WaitMode;

/// A ring of at least `bytes`: ring capacities are powers of two.
std::uint64_t ring_capacity(std::uint64_t bytes) {
  return std::bit_ceil(std::max<std::uint64_t>(bytes, 4096));
}

/// An upper bound on the ring bytes one record of `size` takes (header, alignment), without
/// relying on the wire format, which may change.
std::uint64_t record_bound(std::size_t size) { return size + 64; }

shmpipe::WaitPolicy policy(WaitMode mode) { return shmpipe::WaitPolicy{.mode = mode}; }

/// Blocking that goes to sleep at once: no spin window, no yield window (the Backoff in
/// wait.hpp then goes to the futex at its first step, after one look at the ring);
/// sleeps_per_op in the report shows how often both sides really slept.
shmpipe::WaitPolicy sleep_at_once() {
  return shmpipe::WaitPolicy{.mode = WaitMode::blocking,
                             .spin_for = std::chrono::nanoseconds(0),
                             .yield_for = std::chrono::nanoseconds(0)};
}

struct Shared {
  std::atomic<std::uint32_t> ready;
  std::atomic<std::uint64_t> start_tick;
  double cpu_percent;
  std::atomic<std::uint64_t> released; // streaming: records the consumer has released
};

[[noreturn]] void fail_status(const char *what, shmpipe::Status status) {
  throw std::runtime_error(std::string("shmpipe ") + what + ": " +
                           std::string(shmpipe::to_string(status)));
}

/// The three throughput forms share their set-up: one ring of `capacity` bytes, the consumer
/// here (it attaches, then lets the producer start, so nothing is written before the clock
/// could run), the producer in the follower.
template <class Consume, class Produce>
bench::Sample stream(std::uint64_t capacity, Consume &&consume, Produce &&produce) {
  const std::string name = bench::unique_name("shmpipe");
  const bench::interrupt::Unlink on_signal(bench::shm_path(name));
  shmpipe::ScopedRemove guard(name);
  shmpipe::Segment segment = shmpipe::Segment::create(name, {.ring_capacity = capacity});
  bench::SharedScratch scratch;
  auto *shared = new (scratch.data()) Shared{};
  return bench::run_pair(
      [&] {
        shmpipe::RingReader reader(segment);
        shared->ready.store(1, std::memory_order_release);
        return consume(reader, *shared);
      },
      [&] {
        shmpipe::RingWriter writer(segment);
        bench::spin_until(shared->ready, 1);
        const int code = produce(writer, *shared);
        writer.close();
        return code;
      });
}

/// The producer of both throughput forms: every record written in place, published every
/// `batch` records (1: each commit publishes, as commit() is stage() + publish()), spinning.
int produce_records(shmpipe::RingWriter &writer, std::size_t size, std::uint64_t count,
                    std::uint64_t batch) {
  const auto spin = policy(WaitMode::busy_spin);
  for (std::uint64_t seq = 0; seq < count; ++seq) {
    shmpipe::WriteSlot slot = writer.reserve(size, 10s, spin);
    if (!slot)
      return 1;
    bench::fill_payload(slot.bytes().data(), size, seq);
    writer.stage(std::move(slot));
    if (seq % batch == batch - 1)
      writer.publish();
  }
  writer.publish();
  return 0;
}

/// The consumer's measurement: the sum checked against what the producer wrote.
bench::Sample stream_sample(std::uint64_t sum, std::size_t size, std::uint64_t count,
                            std::chrono::steady_clock::time_point start) {
  const double seconds = bench::seconds_since(start);
  bench::check_sum(sum, bench::expected_stream(size, count), "shmpipe");
  return bench::Sample{.seconds = seconds, .messages = count};
}

/// One record per call on both sides: reserve + commit, peek + release.
bench::Sample throughput_single(const bench::Load &load) {
  const auto spin = policy(WaitMode::busy_spin);
  const std::size_t size = load.size;
  const std::uint64_t count = load.count;
  return stream(
      ring_capacity(load.ring_bytes),
      [&](shmpipe::RingReader &reader, Shared &) {
        std::uint64_t sum = 0;
        auto start = std::chrono::steady_clock::now();
        for (std::uint64_t got = 0; got < count; ++got) {
          shmpipe::ReadSlot rec = reader.peek(10s, spin);
          if (!rec)
            fail_status("peek", rec.status());
          if (got == 0)
            start = std::chrono::steady_clock::now();
          sum += bench::touch_payload(rec.bytes().data(), rec.bytes().size());
          reader.release(std::move(rec));
        }
        return stream_sample(sum, size, count, start);
      },
      [&](shmpipe::RingWriter &writer, Shared &) {
        return produce_records(writer, size, count, 1);
      });
}

/// `load.batch` records staged, then one publish(); the consumer takes everything published
/// with peek_batch() and releases it with one release(batch), as consume_all() does.
bench::Sample throughput_batched(const bench::Load &load) {
  const auto spin = policy(WaitMode::busy_spin);
  const std::size_t size = load.size;
  const std::uint64_t count = load.count;
  const std::uint64_t batch = std::max<std::size_t>(load.batch, 1);
  return stream(
      ring_capacity(load.ring_bytes),
      [&](shmpipe::RingReader &reader, Shared &) {
        std::uint64_t sum = 0;
        std::uint64_t got = 0;
        auto start = std::chrono::steady_clock::now();
        while (got < count) {
          shmpipe::ReadBatch records = reader.peek_batch(10s, spin);
          if (records.status() != shmpipe::Status::ok)
            fail_status("peek_batch", records.status());
          if (got == 0)
            start = std::chrono::steady_clock::now();
          while (shmpipe::ReadSlot rec = records.next()) {
            sum += bench::touch_payload(rec.bytes().data(), rec.bytes().size());
            ++got;
          }
          reader.release(std::move(records));
        }
        return stream_sample(sum, size, count, start);
      },
      [&](shmpipe::RingWriter &writer, Shared &) {
        return produce_records(writer, size, count, batch);
      });
}

/// Large records, one per call, each released as soon as it is read; the producer starts a
/// record only while fewer than `load.in_flight` are unreleased (the ring could hold more).
/// Untimed first: twice around the fresh ring, so that its pages are faulted in in both
/// processes, as iceoryx's chunks are by its warm-up and the raw handoff's slots by memset.
bench::Sample streaming(const bench::Load &load) {
  const auto spin = policy(WaitMode::busy_spin);
  const std::size_t size = load.size;
  const std::uint64_t count = load.count;
  const std::uint64_t in_flight = std::max<std::size_t>(load.in_flight, 1);
  const std::uint64_t capacity = ring_capacity((in_flight + 1) * record_bound(size));
  const std::uint64_t warmup = 2 * capacity / record_bound(size) + 1;
  auto read = [&](shmpipe::RingReader &reader) {
    shmpipe::ReadSlot rec = reader.peek(10s, spin);
    if (!rec)
      fail_status("peek", rec.status());
    const std::uint64_t sum = bench::touch_payload(rec.bytes().data(), rec.bytes().size());
    reader.release(std::move(rec));
    return sum;
  };
  auto write = [&](shmpipe::RingWriter &writer, std::uint64_t seq) {
    shmpipe::WriteSlot slot = writer.reserve(size, 10s, spin);
    if (!slot)
      return false;
    bench::fill_payload(slot.bytes().data(), size, seq);
    writer.commit(std::move(slot));
    return true;
  };
  return stream(
      capacity,
      [&](shmpipe::RingReader &reader, Shared &shared) {
        std::uint64_t warm_sum = 0;
        for (std::uint64_t i = 0; i < warmup; ++i)
          warm_sum += read(reader);
        bench::check_sum(warm_sum, bench::expected_stream(size, warmup), "shmpipe warm-up");
        // The ring is empty now and the producer waits for this.
        shared.ready.store(2, std::memory_order_release);
        std::uint64_t sum = read(reader);
        const auto start = std::chrono::steady_clock::now();
        shared.released.store(1, std::memory_order_release);
        for (std::uint64_t got = 1; got < count; ++got) {
          sum += read(reader);
          shared.released.store(got + 1, std::memory_order_release);
        }
        return stream_sample(sum, size, count, start);
      },
      [&](shmpipe::RingWriter &writer, Shared &shared) {
        for (std::uint64_t i = 0; i < warmup; ++i)
          if (!write(writer, i))
            return 1;
        bench::spin_until(shared.ready, 2);
        for (std::uint64_t seq = 0; seq < count; ++seq) {
          bench::wait_for_credit(shared.released, seq, in_flight);
          if (!write(writer, seq))
            return 1;
        }
        return 0;
      });
}

/// Ping on ring 0, pong on ring 1 of one segment, both sides waiting as `wait` says.
bench::Sample round_trips(const bench::Load &load, shmpipe::WaitPolicy wait) {
  const std::size_t size = load.size;
  const std::uint64_t count = load.count;
  const std::string name = bench::unique_name("shmpipe-rtt");
  const bench::interrupt::Unlink on_signal(bench::shm_path(name));
  shmpipe::ScopedRemove guard(name);
  shmpipe::Segment segment = shmpipe::Segment::create(name, {.ring_capacity = 1 << 16, .rings = 2});
  constexpr std::uint64_t kWarmup = 2000;
  const std::uint64_t rounds = kWarmup + count;
  struct Measured {
    bench::Sample sample;
    std::uint64_t cpu_ns;
  };
  Measured measured = bench::run_pair(
      [&] {
        shmpipe::RingWriter ping(segment, 0);
        shmpipe::RingReader pong(segment, 1);
        bench::Tsc &tsc = bench::Tsc::get();
        bench::Sample sample;
        sample.latencies_ns.reserve(count);
        const std::uint64_t cpu0 = bench::process_cpu_ns();
        for (std::uint64_t i = 0; i < rounds; ++i) {
          const std::uint64_t t0 = bench::Tsc::ticks();
          shmpipe::WriteSlot slot = ping.reserve(size, 10s, wait);
          if (!slot)
            fail_status("rtt reserve", slot.status());
          bench::fill_payload(slot.bytes().data(), size, i);
          ping.commit(std::move(slot));
          shmpipe::ReadSlot rec = pong.peek(10s, wait);
          if (!rec)
            fail_status("rtt peek", rec.status());
          bench::check_sum(bench::touch_payload(rec.bytes().data(), rec.bytes().size()),
                           bench::expected_touch(size, i), "shmpipe rtt");
          pong.release(std::move(rec));
          const std::uint64_t t1 = bench::Tsc::ticks();
          if (i >= kWarmup)
            sample.latencies_ns.push_back(tsc.ns(t1 - t0));
        }
        const std::uint64_t cpu = bench::process_cpu_ns() - cpu0;
        // Both sides of both rings: the follower's last wait ended before its last commit.
        const shmpipe::RingStats a = ping.stats();
        const shmpipe::RingStats b = pong.stats();
        const std::uint64_t sleeps =
            a.producer.sleeps + a.consumer.sleeps + b.producer.sleeps + b.consumer.sleeps;
        sample.sleeps_per_op = static_cast<double>(sleeps) / static_cast<double>(rounds);
        return Measured{std::move(sample), cpu};
      },
      [&] {
        shmpipe::RingReader ping(segment, 0);
        shmpipe::RingWriter pong(segment, 1);
        const std::uint64_t cpu0 = bench::process_cpu_ns();
        for (std::uint64_t i = 0; i < rounds; ++i) {
          shmpipe::ReadSlot rec = ping.peek(10s, wait);
          if (!rec)
            return 1;
          shmpipe::WriteSlot slot = pong.reserve(size, 10s, wait);
          if (!slot)
            return 2;
          std::memcpy(slot.bytes().data(), rec.bytes().data(), size);
          ping.release(std::move(rec));
          pong.commit(std::move(slot));
        }
        bench::report_follower_cpu(bench::process_cpu_ns() - cpu0);
        return 0;
      });
  measured.sample.cpu_ns_per_op =
      static_cast<double>(measured.cpu_ns + bench::follower_cpu_ns()) / static_cast<double>(rounds);
  return std::move(measured.sample);
}

/// One message of `size` bytes at a time: written in place, read in place, acknowledged. The
/// ring is the smallest that holds the message, so every message reuses the same memory, as
/// the raw handoff does; the first messages (page faults in the forked writer) are not timed.
bench::Sample transfer(const bench::Load &load) {
  const std::size_t size = load.size;
  std::uint64_t count = load.count;
  const std::string name = bench::unique_name("shmpipe-xfer");
  const bench::interrupt::Unlink on_signal(bench::shm_path(name));
  shmpipe::ScopedRemove guard(name);
  shmpipe::Segment segment = shmpipe::Segment::create(
      name, {.ring_capacity = ring_capacity(record_bound(size)), .rings = 2});
  constexpr std::uint64_t kWarmup = 3;
  count += kWarmup;
  bench::SharedScratch scratch;
  auto *shared = new (scratch.data()) Shared{};
  const auto spin = policy(WaitMode::busy_spin);
  return bench::run_pair(
      [&] {
        shmpipe::RingReader data(segment, 0);
        shmpipe::RingWriter ack(segment, 1);
        bench::Tsc &tsc = bench::Tsc::get();
        bench::Sample sample;
        for (std::uint64_t i = 0; i < count; ++i) {
          shmpipe::ReadSlot rec = data.peek(10s, spin);
          if (!rec)
            throw std::runtime_error("shmpipe transfer: peek failed");
          const std::uint64_t sum = bench::touch_payload(rec.bytes().data(), rec.bytes().size());
          const std::uint64_t end = bench::Tsc::ticks();
          bench::check_sum(sum, bench::expected_touch(size, i), "shmpipe transfer");
          if (i >= kWarmup)
            sample.latencies_ns.push_back(
                tsc.ns(end - shared->start_tick.load(std::memory_order_acquire)));
          data.release(std::move(rec));
          if (ack.write({}, 10s, spin) != shmpipe::Status::ok)
            throw std::runtime_error("shmpipe transfer: ack failed");
        }
        return sample;
      },
      [&] {
        shmpipe::RingWriter data(segment, 0);
        shmpipe::RingReader ack(segment, 1);
        for (std::uint64_t i = 0; i < count; ++i) {
          shared->start_tick.store(bench::Tsc::ticks(), std::memory_order_release);
          shmpipe::WriteSlot slot = data.reserve(size, 10s, spin);
          if (!slot)
            return 1;
          bench::fill_payload(slot.bytes().data(), size, i);
          data.commit(std::move(slot));
          shmpipe::ReadSlot done = ack.peek(10s, spin);
          if (!done)
            return 2;
          ack.release(std::move(done));
        }
        return 0;
      });
}

/// A consumer in the default blocking policy on a ring where nothing arrives.
bench::Sample idle(const bench::Load &load) {
  const double seconds = load.seconds;
  const std::string name = bench::unique_name("shmpipe-idle");
  const bench::interrupt::Unlink on_signal(bench::shm_path(name));
  shmpipe::ScopedRemove guard(name);
  shmpipe::Segment segment = shmpipe::Segment::create(name, {.ring_capacity = 1 << 16});
  bench::SharedScratch scratch;
  auto *shared = new (scratch.data()) Shared{};
  return bench::run_pair(
      [&] {
        shmpipe::RingWriter writer(segment); // attached and alive, sending nothing
        shared->ready.store(1, std::memory_order_release);
        bench::spin_until(shared->ready, 2, std::chrono::seconds(static_cast<int>(seconds) + 30));
        return bench::Sample{.cpu_percent = shared->cpu_percent};
      },
      [&] {
        shmpipe::RingReader reader(segment);
        bench::spin_until(shared->ready, 1);
        const double cpu0 = bench::cpu_seconds();
        const auto start = std::chrono::steady_clock::now();
        const auto until = start + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::duration<double>(seconds));
        const shmpipe::ReadSlot rec = reader.peek(until); // default policy: blocking
        const double wall = bench::seconds_since(start);
        shared->cpu_percent = 100.0 * (bench::cpu_seconds() - cpu0) / wall;
        shared->ready.store(2, std::memory_order_release);
        return rec.status() == shmpipe::Status::timeout ? 0 : 1;
      },
      /*pin=*/false);
}

bench::Peer make_peer() {
  bench::Peer peer;
  peer.name = "shmpipe";
  peer.scenarios[bench::scenario::kSingle] = {
      .run = throughput_single, .form = "reserve+commit per record; peek+release per record"};
  peer.scenarios[bench::scenario::kBatched] = {
      .run = throughput_batched, .form = "stage x32 + publish(); peek_batch() + release(batch)"};
  peer.scenarios[bench::scenario::kStreaming] = {.run = streaming,
                                                 .form = "reserve+commit; peek+release per record"};
  peer.scenarios[bench::scenario::kRttSpin] = {
      .run = [](const bench::Load &load) { return round_trips(load, policy(WaitMode::busy_spin)); },
      .form = "busy_spin on both sides"};
  peer.scenarios[bench::scenario::kRttSleep] = {
      .run = [](const bench::Load &load) { return round_trips(load, sleep_at_once()); },
      .form = "blocking, spin_for 0, yield_for 0 (straight to the futex)"};
  peer.scenarios[bench::scenario::kRttDefault] = {
      .run = [](const bench::Load &load) { return round_trips(load, shmpipe::WaitPolicy{}); },
      .form = "default WaitPolicy: spin 50 us, yield 200 us, then the futex"};
  peer.scenarios[bench::scenario::kTransfer] = {.run = transfer, .form = "one record in flight"};
  peer.scenarios[bench::scenario::kIdleCpu] = {.run = idle, .form = "default WaitPolicy"};
  peer.order = 0;
  return peer;
}

const bench::Register reg{make_peer()};

} // namespace
