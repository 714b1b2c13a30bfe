// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The asymmetric half of the sleep handshake: a process-wide memory barrier (Linux membarrier)
// that the side going to sleep issues, so that the side publishing does not need one.
#pragma once

// Design: the sleep handshake is a Dekker pair (detail/sleep.hpp): the publisher stores its
// index then loads the sleeper's flag, the sleeper stores its flag then loads the index, and
// one of the two must see the other's store. With a full barrier on both sides that costs the
// publisher a locked instruction on every publish, and that instruction waits until the
// index's cache line, which the other core is reading, comes back: measured on the
// development VM it was 96% of a one-record commit's time. Publishes are many and sleeps are
// few, so the barrier moves to the sleeper: MEMBARRIER_CMD_GLOBAL_EXPEDITED runs a full barrier
// on every CPU that is running a thread of a process registered for it, before it returns.
// A publisher that registered and stores its index (release), then loads the flag, is then
// either interrupted after both, and its store is visible to the sleeper's next load, or its
// load comes after the interrupt, and it sees the flag the sleeper stored before the call. A
// publisher that was not running is in the same state: a context switch is a full barrier.
//
// A process that cannot register (no membarrier, or a seccomp filter that refuses it; or
// SHMPIPE_NO_MEMBARRIER=1 in its environment) keeps the full barrier on its publishes, and it
// says so in its owner line (`barrier_sleeper`), which the other side reads with the flags it
// already loads after every publish (docs/LAYOUT.md, "Sleeping").

#include <atomic>
#include <cstdlib>
#include <cstring>

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace shmpipe::detail {

/// True when this process is registered for MEMBARRIER_CMD_GLOBAL_EXPEDITED: it may then
/// publish with release stores to a peer whose sleeps issue the barrier, and its own sleeps
/// issue it. Decided once per process (thread-safe), on first use.
[[nodiscard]] inline bool membarrier_registered() noexcept {
  static const bool registered = [] {
    if (const char *off = std::getenv("SHMPIPE_NO_MEMBARRIER");
        off != nullptr && std::strcmp(off, "") != 0 && std::strcmp(off, "0") != 0)
      return false;
    const long commands = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (commands < 0 || (commands & MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0 ||
        (commands & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0)
      return false;
    return ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
  }();
  return registered;
}

/// The sleeper's barrier: when it returns true, every store that a thread of a registered
/// process made before its current instruction is visible to this thread's next loads, and
/// every load such a thread makes afterwards sees this thread's earlier stores. False when this
/// process is not registered (the peer then publishes with a full barrier, see above) or the
/// call failed; the caller then bounds its sleep.
[[nodiscard]] inline bool process_barrier() noexcept {
  if (!membarrier_registered())
    return false;
  return ::syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0;
}

/// Between a publisher's index store and its load of the other side's flags: the compiler must
/// emit the store first, or the membarrier argument above has no store to drain. The CPU may
/// still let the load pass the store; that is what the sleeper's barrier covers.
inline void compiler_barrier() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }

} // namespace shmpipe::detail
