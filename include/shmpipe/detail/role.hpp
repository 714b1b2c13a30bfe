// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Claiming the producer or consumer role of a ring, across processes.
#pragma once

#include <cstdint>
#include <string>

#include <shmpipe/detail/barrier.hpp>
#include <shmpipe/detail/layout.hpp>
#include <shmpipe/detail/process.hpp>
#include <shmpipe/error.hpp>

namespace shmpipe::detail {

/// Claims `line` for this process. A role held by a live process (this one included: one
/// producer and one consumer per ring, not per thread) is refused with Errc::role_taken; a role
/// whose holder died is taken over. Returns the token to pass to release_role().
inline std::uint64_t claim_role(OwnerLine &line, const char *role, const std::string &segment,
                                std::uint32_t ring) {
  const std::uint64_t token = self_owner_token();
  // A handful of rounds is plenty: each failed exchange means another process changed the
  // owner word just now, and the next round re-judges the new value.
  for (int round = 0; round < 16; ++round) {
    std::uint64_t current = line.owner.load(std::memory_order_acquire);
    if (current != 0 && owner_alive(current))
      throw Error(Errc::role_taken, segment,
                  "ring " + std::to_string(ring) + " already has a live " + role + " (pid " +
                      std::to_string(owner_pid(current)) + ")");
    // acq_rel: acquire sees what a previous holder wrote before it let go cleanly (a holder
    // that died released nothing: its state is read with the acquire loads of the indices);
    // release orders our claim before the state we write next.
    if (line.owner.compare_exchange_strong(current, token, std::memory_order_acq_rel)) {
      // relaxed: the other side reads it with the flags it loads after every publish; a
      // stale value is covered either way (detail/sleep.hpp, publish_index()).
      line.barrier_sleeper.store(membarrier_registered() ? 1 : 0, std::memory_order_relaxed);
      return token;
    }
  }
  throw Error(Errc::role_taken, segment,
              "ring " + std::to_string(ring) + ": the " + role + " role keeps changing hands");
}

/// Whether this process still holds the role it claimed with `token`: false in a child forked
/// after the claim (it inherited the handle, not the role), or after another process took the
/// role over because it judged us dead.
[[nodiscard]] inline bool still_holder(const OwnerLine &line, std::uint64_t token) noexcept {
  return owner_pid(token) == ::getpid() && line.owner.load(std::memory_order_acquire) == token;
}

/// Gives the role back, unless another process already took it over (it judged us dead).
inline void release_role(OwnerLine &line, std::uint64_t token) noexcept {
  std::uint64_t expected = token;
  // release: everything this side wrote is visible to the next holder's acquire in claim_role.
  line.owner.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
}

/// Whether the other side's holder died, judged by `watch` (see PeerWatch). An owner word of
/// 0 with `closed` set is a clean detach: nobody to judge. An owner word of 0 without it
/// (a stray write zeroed it, or a claim was given back at once) still has the holder `watch`
/// saw last judged, so that its death is reported rather than waited out.
[[nodiscard]] inline bool holder_dead(const OwnerLine &line, PeerWatch &watch) noexcept {
  // acquire: a takeover's owner word comes with that process's state; a clean detach's 0
  // comes with its `closed` store (made before it released the word), so the load of `closed`
  // after it may be relaxed.
  const std::uint64_t owner = line.owner.load(std::memory_order_acquire);
  if (owner == 0 && line.closed.load(std::memory_order_relaxed) != 0) {
    watch.forget();
    return false;
  }
  return watch.dead(owner);
}

} // namespace shmpipe::detail
