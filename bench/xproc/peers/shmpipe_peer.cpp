// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// shmpipe in the cross-process harness: the rows everything else is compared with.
#include <shmpipe/shmpipe.hpp>

#include <bit>

#include "harness.hpp"

namespace {

using namespace std::chrono_literals;
using shmpipe::WaitMode;

/// Ring capacity for a message size: room for many small records, or a few large ones in
/// flight (so the producer writes one while the consumer reads another).
std::uint64_t capacity_for(std::size_t size) {
  std::uint64_t capacity = std::uint64_t{1} << 20;
  while (capacity < 4 * shmpipe::detail::record_size(size))
    capacity <<= 1;
  return capacity;
}

shmpipe::WaitPolicy policy(WaitMode mode, bool futex_only = false) {
  shmpipe::WaitPolicy p{.mode = mode};
  if (futex_only) {
    p.spin_for = std::chrono::nanoseconds(0);
    p.yield_for = std::chrono::nanoseconds(0);
  }
  return p;
}

struct Shared {
  std::atomic<std::uint32_t> ready;
  std::atomic<std::uint64_t> start_tick;
  double cpu_percent;
};

/// Small records are published 32 at a time (one index store per batch); large ones one by one.
bench::Sample throughput(std::size_t size, std::uint64_t count) {
  const std::string name = bench::unique_name("shmpipe");
  shmpipe::ScopedRemove guard(name);
  shmpipe::Segment segment = shmpipe::Segment::create(name, {.ring_capacity = capacity_for(size)});
  const std::uint64_t batch = size <= 1024 ? 32 : 1;
  const auto spin = policy(WaitMode::busy_spin);
  return bench::run_pair(
      [&] {
        shmpipe::RingReader reader(segment);
        std::uint64_t sum = 0;
        std::uint64_t got = 0;
        auto start = std::chrono::steady_clock::now();
        while (got < count) {
          shmpipe::ReadBatch records = reader.peek_batch(10s, spin);
          if (records.status() != shmpipe::Status::ok)
            throw std::runtime_error(std::string("shmpipe: ") +
                                     std::string(shmpipe::to_string(records.status())));
          if (got == 0)
            start = std::chrono::steady_clock::now();
          while (shmpipe::ReadSlot rec = records.next()) {
            sum += bench::touch_payload(rec.bytes().data(), rec.bytes().size());
            ++got;
          }
          reader.release(std::move(records));
        }
        const double seconds = bench::seconds_since(start);
        bench::check_sum(sum, bench::expected_stream(size, count), "shmpipe");
        return bench::Sample{.seconds = seconds, .messages = count};
      },
      [&] {
        shmpipe::RingWriter writer(segment);
        for (std::uint64_t seq = 0; seq < count; ++seq) {
          shmpipe::WriteSlot slot = writer.reserve(size, 10s, spin);
          if (!slot)
            return 1;
          bench::fill_payload(slot.bytes().data(), size, seq);
          if (seq % batch == batch - 1)
            writer.commit(std::move(slot));
          else
            writer.stage(std::move(slot));
        }
        writer.close();
        return 0;
      });
}

/// Ping on ring 0, pong on ring 1 of one segment.
bench::Sample round_trips(std::size_t size, std::uint64_t count, shmpipe::WaitPolicy wait) {
  const std::string name = bench::unique_name("shmpipe-rtt");
  shmpipe::ScopedRemove guard(name);
  shmpipe::Segment segment = shmpipe::Segment::create(name, {.ring_capacity = 1 << 16, .rings = 2});
  constexpr std::uint64_t kWarmup = 2000;
  return bench::run_pair(
      [&] {
        shmpipe::RingWriter ping(segment, 0);
        shmpipe::RingReader pong(segment, 1);
        bench::Tsc &tsc = bench::Tsc::get();
        bench::Sample sample;
        sample.latencies_ns.reserve(count);
        for (std::uint64_t i = 0; i < kWarmup + count; ++i) {
          const std::uint64_t t0 = bench::Tsc::ticks();
          shmpipe::WriteSlot slot = ping.reserve(size, 10s, wait);
          if (!slot)
            throw std::runtime_error("shmpipe rtt: reserve failed");
          bench::fill_payload(slot.bytes().data(), size, i);
          ping.commit(std::move(slot));
          shmpipe::ReadSlot rec = pong.peek(10s, wait);
          if (!rec)
            throw std::runtime_error(std::string("shmpipe rtt: ") +
                                     std::string(shmpipe::to_string(rec.status())));
          bench::check_sum(bench::touch_payload(rec.bytes().data(), rec.bytes().size()),
                           bench::expected_touch(size, i), "shmpipe rtt");
          pong.release(std::move(rec));
          const std::uint64_t t1 = bench::Tsc::ticks();
          if (i >= kWarmup)
            sample.latencies_ns.push_back(tsc.ns(t1 - t0));
        }
        return sample;
      },
      [&] {
        shmpipe::RingReader ping(segment, 0);
        shmpipe::RingWriter pong(segment, 1);
        for (std::uint64_t i = 0; i < kWarmup + count; ++i) {
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
        return 0;
      });
}

/// One message of `size` bytes at a time: written in place, read in place, acknowledged. The
/// ring is the smallest that holds the message, so every message reuses the same memory, as
/// the raw handoff does; the first messages (page faults in the forked writer) are not timed.
bench::Sample transfer(std::size_t size, std::uint64_t count) {
  const std::string name = bench::unique_name("shmpipe-xfer");
  shmpipe::ScopedRemove guard(name);
  shmpipe::Segment segment = shmpipe::Segment::create(
      name, {.ring_capacity = std::bit_ceil(shmpipe::detail::record_size(size)), .rings = 2});
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
bench::Sample idle(double seconds) {
  const std::string name = bench::unique_name("shmpipe-idle");
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

bench::Register shmpipe_peer{bench::Peer{
    .name = "shmpipe",
    .throughput = throughput,
    .rtt_spin =
        [](std::size_t size, std::uint64_t count) {
          return round_trips(size, count, policy(WaitMode::busy_spin));
        },
    .rtt_blocking =
        [](std::size_t size, std::uint64_t count) {
          return round_trips(size, count, policy(WaitMode::blocking));
        },
    .transfer = transfer,
    .idle_cpu = idle,
    .order = 0,
}};

// The blocking policy without its spin and yield windows: close to what a pure futex handoff
// costs here (the wait loop still polls 32 times, a microsecond or two, before it first reads
// the clock, which is why a fraction of its round trips are as fast as spinning ones).
bench::Register shmpipe_futex_peer{bench::Peer{
    .name = "shmpipe_futex_only",
    .rtt_blocking =
        [](std::size_t size, std::uint64_t count) {
          return round_trips(size, count, policy(WaitMode::blocking, /*futex_only=*/true));
        },
    .order = 1,
}};

} // namespace
