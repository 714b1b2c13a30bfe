// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// RingStats: the counters each side of a ring keeps in shared memory.
#pragma once

#include <cstdint>

#include <shmpipe/detail/layout.hpp>

namespace shmpipe {

/// Counters of one side. Each side writes only its own; either side may read both.
struct SideStats {
  std::uint64_t records = 0; ///< records published (producer) or released (consumer)
  std::uint64_t bytes = 0;   ///< payload bytes in those records
  std::uint64_t stalls = 0;  ///< try calls that found the ring full (producer) / empty (consumer)
  std::uint64_t wakeups = 0; ///< wakes this side issued: futex wakes and ready_fd() datagrams
  std::uint64_t sleeps = 0;  ///< futex waits this side entered
  std::uint64_t wraps = 0;   ///< padding records written (producer) / skipped (consumer)
  /// Producer: messages moved to a larger reservation while being built in place.
  /// Consumer: messages that failed verification and were skipped.
  std::uint64_t regrown_or_rejected = 0;
  /// producer: messages that outgrew their reservation in the ring, were finished on the heap
  /// and copied in once (not the small messages send() copies by design, see kCopyHintMax)
  std::uint64_t copied = 0;
};

struct RingStats {
  SideStats producer;
  SideStats consumer;
};

namespace detail {

/// Either side; a snapshot that may be stale, and whose fields need not be from one instant:
/// each counter only grows and is read on its own.
[[nodiscard]] inline SideStats read_side(const StatsLine &line) noexcept {
  // relaxed: statistics only; nothing is ordered by them.
  return {line.records.load(std::memory_order_relaxed),
          line.bytes.load(std::memory_order_relaxed),
          line.stalls.load(std::memory_order_relaxed),
          line.wakeups.load(std::memory_order_relaxed),
          line.sleeps.load(std::memory_order_relaxed),
          line.wraps.load(std::memory_order_relaxed),
          line.regrown_or_rejected.load(std::memory_order_relaxed),
          line.copied.load(std::memory_order_relaxed)};
}

[[nodiscard]] inline RingStats read_stats(const RingControl &control) noexcept {
  return {read_side(control.producer_stats), read_side(control.consumer_stats)};
}

} // namespace detail
} // namespace shmpipe
