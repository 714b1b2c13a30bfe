// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The futex sleep/wake handshake between the two sides of a ring or lane (docs/LAYOUT.md,
// "Sleeping"), shared by RingWriter, RingReader, FixedWriter and FixedReader.
#pragma once

#include <cstdint>

#include <shmpipe/detail/death_alarm.hpp>
#include <shmpipe/detail/futex.hpp>
#include <shmpipe/detail/layout.hpp>
#include <shmpipe/detail/process.hpp>
#include <shmpipe/detail/role.hpp>
#include <shmpipe/detail/shared_atomic.hpp>
#include <shmpipe/wait.hpp>

namespace shmpipe::detail {

// Design: a side that waits sleeps on the `wake` word of the *other* side's owner line, which
// only the other side increments. Two pairs make a sleep safe against a publish that races it:
//   - the ticket: the sleeper reads the word (acquire) before it looks at the index one last
//     time; a wake after that load changes the word, so futex_wait returns at once;
//   - a Dekker pair: the sleeper stores its `sleeping` flag and then loads the index; the
//     publisher stores (or read-modify-writes) the index and then loads the flag; all four are
//     seq_cst, so at least one side sees the other's store: the sleeper sees the new index and
//     does not sleep, or the publisher sees the flag and wakes it.
// The callers tag both ends of each pair with their own [sync:...] names; the accesses marked
// "caller's pair" below are the halves that live here.

/// Sleeps until the other side's wake word changes, the other side's process dies, or `until`,
/// unless `unchanged()` (which must re-read what the wait is for, with a seq_cst load of the
/// other side's index) says something already happened. `mine`/`theirs`: the two owner lines;
/// `peer` watches the holder of `theirs`; `stats`: this side's statistics line. After it
/// returns, the caller asks `peer` whether the holder died (Backoff::liveness_due() says so).
template <class Unchanged>
void sleep_unless_changed(OwnerLine &mine, OwnerLine &theirs, PeerWatch &peer, StatsLine &stats,
                          Deadline until, Unchanged &&unchanged) noexcept {
  SharedAtomic<std::uint32_t> &word = theirs.wake;
  // The same judgement as the caller's liveness checks (holder_dead()): a holder the watch
  // takes for alive is the one whose pidfd is armed below, and one it takes for dead ends the
  // wait instead of arming an alarm that would fire every millisecond.
  if (holder_dead(theirs, peer))
    return;
  // Armed before the last look at the pidfd below (see death_alarm.hpp, "Lost wakes").
  DeathAlarm &alarm = DeathAlarm::instance();
  const DeathAlarm::Handle armed = alarm.arm(peer.fd(), word);
  // acquire, caller's pair (the ticket): pairs with the release increment in wake_other(); a
  // ticket that already includes a wake comes with the index or flag that caused it.
  const std::uint32_t ticket = word.load(std::memory_order_acquire);
  // seq_cst, caller's pair (Dekker): the store before unchanged()'s seq_cst load; pairs with the
  // publisher's seq_cst index store followed by the seq_cst load in wake_if_sleeping().
  mine.sleeping.store(1, std::memory_order_seq_cst);
  if (unchanged() && !holder_dead(theirs, peer)) {
    stats.sleeps.add_single_writer(1);
    futex_wait(word, ticket, until);
  }
  // relaxed: a late clear only costs the other side one needless wake.
  mine.sleeping.store(0, std::memory_order_relaxed);
  alarm.disarm(armed);
}

/// Wakes the other side, asleep on `mine.wake` (or about to be). `stats`: this side's line.
inline void wake_other(OwnerLine &mine, StatsLine &stats) noexcept {
  // release, caller's pair (the ticket): a sleeper that acquires the new value also sees the
  // index or flag stored before this call. Pairs with the acquire in sleep_unless_changed().
  mine.wake.fetch_add(1, std::memory_order_release);
  futex_wake(mine.wake);
  stats.wakeups.add_single_writer(1);
}

/// After a publish (a seq_cst store or read-modify-write of this side's index): wakes the other
/// side if its flag says it sleeps, and costs no system call when it does not.
inline void wake_if_sleeping(const OwnerLine &other, OwnerLine &mine, StatsLine &stats) noexcept {
  // seq_cst, caller's pair (Dekker): the load after the caller's index store; pairs with the
  // flag store and index load in sleep_unless_changed().
  if (other.sleeping.load(std::memory_order_seq_cst) != 0)
    wake_other(mine, stats);
}

} // namespace shmpipe::detail
