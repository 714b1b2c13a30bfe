// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The physical limits every transport is measured against: one cache line bouncing between
// two processes, one core's memcpy, and a bare shared-memory handoff with nothing around it.
#include <vector>

#include "harness.hpp"

namespace {

struct alignas(64) Line {
  std::atomic<std::uint64_t> value;
  char pad[56];
};

struct PingPong {
  Line ping;
  Line ready;
};

/// The parent stores 2k+1, the child answers 2k+2, both spinning on one cache line.
bench::Sample atomic_pingpong(std::size_t /*size*/, std::uint64_t count) {
  bench::SharedScratch scratch;
  auto *shared = new (scratch.data()) PingPong{};
  constexpr std::uint64_t kWarmup = 2000;
  const std::uint64_t total = kWarmup + count;
  return bench::run_pair(
      [&] {
        bench::Tsc &tsc = bench::Tsc::get();
        bench::Sample sample;
        sample.latencies_ns.reserve(count);
        for (std::uint64_t k = 0; k < total; ++k) {
          const std::uint64_t t0 = bench::Tsc::ticks();
          shared->ping.value.store(2 * k + 1, std::memory_order_release);
          while (shared->ping.value.load(std::memory_order_acquire) != 2 * k + 2)
            _mm_pause();
          const std::uint64_t t1 = bench::Tsc::ticks();
          if (k >= kWarmup)
            sample.latencies_ns.push_back(tsc.ns(t1 - t0));
        }
        return sample;
      },
      [&] {
        for (std::uint64_t k = 0; k < total; ++k) {
          const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
          std::uint32_t spins = 0;
          while (shared->ping.value.load(std::memory_order_acquire) != 2 * k + 1) {
            _mm_pause();
            if (++spins % 4096 == 0 && std::chrono::steady_clock::now() > deadline)
              return 1;
          }
          shared->ping.value.store(2 * k + 2, std::memory_order_release);
        }
        return 0;
      });
}

/// One core copying `size` bytes from one pre-faulted buffer to another, over and over: the
/// bytes/s no copying transport can beat (and a zero-copy one need not pay).
bench::Sample memcpy_limit(std::size_t size, std::uint64_t count) {
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
/// byte, and gives the slot back. No framing, no checks: what zero-copy can reach.
struct Handoff {
  Line published; // slots filled so far
  Line consumed;  // slots read so far
  Line start;     // TSC when the producer began filling the current message
};

bench::Sample handoff(std::size_t size, std::uint64_t count, std::uint64_t slots, bool latency) {
  // Latency runs: the first messages (page faults in the forked writer) are not timed.
  const std::uint64_t warmup = latency ? 3 : 0;
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
          while (shared->published.value.load(std::memory_order_acquire) <= i)
            _mm_pause();
          if (i == 0)
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

bench::Register pingpong_peer{bench::Peer{
    .name = "atomic_pingpong",
    .rtt_spin = atomic_pingpong,
    .physical_limit = true,
    .order = 90,
}};

bench::Register memcpy_peer{bench::Peer{
    .name = "memcpy_1core",
    .throughput = memcpy_limit,
    .physical_limit = true,
    .order = 91,
}};

bench::Register handoff_peer{bench::Peer{
    .name = "raw_shm_handoff",
    .throughput = [](std::size_t size,
                     std::uint64_t count) { return handoff(size, count, 4, false); },
    .throughput_sizes = {65536, 1048576},
    .transfer = [](std::size_t size, std::uint64_t count) { return handoff(size, count, 1, true); },
    .physical_limit = true,
    .order = 92,
}};

} // namespace
