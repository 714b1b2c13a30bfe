// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// futex_wait / futex_wake on a 32-bit word in shared memory (Linux).
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <shmpipe/detail/shared_atomic.hpp>

namespace shmpipe::detail {

// Not FUTEX_PRIVATE_FLAG: the private variant keys the wait queue on the process's own
// address space, so a wake from the other process would never find the sleeper.

/// Sleeps while `*word == expected`, until woken or until `deadline` (steady_clock, which is
/// CLOCK_MONOTONIC on Linux, the clock FUTEX_WAIT_BITSET uses for absolute timeouts). Returns
/// at once if the word already differs. Spurious returns are possible: callers re-check.
inline void futex_wait(SharedAtomic<std::uint32_t> &word, std::uint32_t expected,
                       std::chrono::steady_clock::time_point deadline) noexcept {
  const auto since_epoch = deadline.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  timespec abs{};
  abs.tv_sec = static_cast<time_t>(secs.count());
  abs.tv_nsec = static_cast<long>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs).count());
  ::syscall(SYS_futex, &word.raw, FUTEX_WAIT_BITSET, expected, &abs, nullptr,
            FUTEX_BITSET_MATCH_ANY);
}

/// Wakes at most one sleeper on `word`.
inline void futex_wake(SharedAtomic<std::uint32_t> &word) noexcept {
  ::syscall(SYS_futex, &word.raw, FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

} // namespace shmpipe::detail
