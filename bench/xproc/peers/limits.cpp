// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The physical limits every transport is measured against: one core's memcpy, and a bare
// shared-memory handoff with nothing around it. (One cache line bouncing between two
// processes is the placement canary, bench::canary_round_trip_ns, measured around every run.)
#include <vector>

#include "harness.hpp"

namespace {

struct alignas(64) Line {
  std::atomic<std::uint64_t> value;
  char pad[56];
};

/// One core copying `size` bytes from one pre-faulted buffer to another, over and over: the
/// bytes/s no copying transport can beat (and a zero-copy one need not pay).
bench::Sample memcpy_limit(const bench::Load &load) {
  const std::size_t size = load.size;
  const std::uint64_t count = load.count;
  // One allocation, destination 2112 bytes past the end of the source: two separate
  // allocations can land a multiple of 4 KiB apart, and that aliasing alone slowed 64 KiB
  // copies tenfold here.
  std::vector<std::byte> buffer(2 * size + 4096);
  std::byte *src = buffer.data();
  std::byte *dst = buffer.data() + size + 2112;
  bench::fill_payload(src, size, 1);
  std::memset(dst, 0, size);
  bench::pin_to_cpu(0);
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t sink = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::memcpy(dst, src, size);
    asm volatile("" : : "r"(dst) : "memory"); // the copy must happen every time
    sink += static_cast<std::uint64_t>(dst[i % size]);
  }
  const double seconds = bench::seconds_since(start);
  bench::unpin();
  asm volatile("" : : "r"(sink));
  return {.seconds = seconds, .messages = count};
}

/// Bare handoff through shared memory: `slots` pre-faulted buffers and two counters. The
/// producer fills a slot, publishes its sequence number; the consumer spins on it, reads every
/// byte, and gives the slot back. No framing, no checks: what zero-copy can reach. Streaming:
/// the producer starts message i once message i - slots is released, so at most `slots` are
/// written (or being written) and unreleased, the rule every streaming peer follows.
struct Handoff {
  Line published; // slots filled so far
  Line consumed;  // slots read so far
  Line start;     // TSC when the producer began filling the current message
};

bench::Sample handoff(std::size_t size, std::uint64_t count, std::uint64_t slots, bool latency) {
  // The first messages (page faults in the forked writer) are not timed: 3 transfers, or
  // twice around the slots when streaming (the clock then starts with the pipeline already
  // running, at most slots - 1 messages ahead: a few in a run of thousands).
  const std::uint64_t warmup = latency ? 3 : 2 * slots;
  count += warmup;
  bench::SharedScratch control;
  auto *shared = new (control.data()) Handoff{};
  bench::SharedScratch buffers(slots * size);
  auto *base = static_cast<std::byte *>(buffers.data());
  std::memset(base, 0, slots * size); // pre-fault, as a ring that has been running would be
  return bench::run_pair(
      [&] {
        bench::Tsc &tsc = bench::Tsc::get();
        bench::Sample sample;
        std::uint64_t sum = 0;
        auto start = std::chrono::steady_clock::now();
        for (std::uint64_t i = 0; i < count; ++i) {
          if (shared->published.value.load(std::memory_order_acquire) <= i) {
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            std::uint32_t spins = 0;
            while (shared->published.value.load(std::memory_order_acquire) <= i) {
              _mm_pause();
              if (++spins % 4096 == 0 && std::chrono::steady_clock::now() > deadline)
                throw std::runtime_error("raw handoff: the producer published nothing for 10 s");
            }
          }
          if (i == warmup)
            start = std::chrono::steady_clock::now();
          const std::uint64_t got = bench::touch_payload(base + (i % slots) * size, size);
          if (latency) {
            if (i >= warmup)
              sample.latencies_ns.push_back(tsc.ns(
                  bench::Tsc::ticks() - shared->start.value.load(std::memory_order_relaxed)));
            bench::check_sum(got, bench::expected_touch(size, i), "raw handoff");
          } else {
            sum += got;
          }
          shared->consumed.value.store(i + 1, std::memory_order_release);
        }
        sample.seconds = bench::seconds_since(start);
        sample.messages = count - warmup;
        if (!latency)
          bench::check_sum(sum, bench::expected_stream(size, count), "raw handoff");
        return sample;
      },
      [&] {
        for (std::uint64_t i = 0; i < count; ++i) {
          // Wait for a free slot (latency mode: for the previous message's acknowledgement).
          const std::uint64_t limit = latency ? i : i - std::min(i, slots - 1);
          const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
          std::uint32_t spins = 0;
          while (shared->consumed.value.load(std::memory_order_acquire) < limit) {
            _mm_pause();
            if (++spins % 4096 == 0 && std::chrono::steady_clock::now() > deadline)
              return 1;
          }
          shared->start.value.store(bench::Tsc::ticks(), std::memory_order_relaxed);
          bench::fill_payload(base + (i % slots) * size, size, i);
          shared->published.value.store(i + 1, std::memory_order_release);
        }
        return 0;
      });
}

bench::Peer make_memcpy_peer() {
  bench::Peer peer;
  peer.name = "memcpy_1core";
  peer.scenarios[bench::scenario::kSingle] = {
      .run = memcpy_limit, .form = "one memcpy per message, one process, hot buffers"};
  peer.scenarios[bench::scenario::kStreaming] = {
      .run = memcpy_limit, .form = "one memcpy per message, one process, hot buffers"};
  peer.physical_limit = true;
  peer.order = 91;
  return peer;
}

bench::Peer make_handoff_peer() {
  bench::Peer peer;
  peer.name = "raw_shm_handoff";
  peer.scenarios[bench::scenario::kStreaming] = {
      .run =
          [](const bench::Load &load) {
            return handoff(load.size, load.count, std::max<std::size_t>(load.in_flight, 1), false);
          },
      .form = "slots = messages in flight; fill, publish a counter; read, release a counter"};
  peer.scenarios[bench::scenario::kTransfer] = {
      .run = [](const bench::Load &load) { return handoff(load.size, load.count, 1, true); },
      .form = "one slot, acknowledged"};
  peer.physical_limit = true;
  peer.order = 92;
  return peer;
}

const bench::Register memcpy_peer{make_memcpy_peer()};
const bench::Register handoff_peer{make_handoff_peer()};

} // namespace
