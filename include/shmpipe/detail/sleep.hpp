// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The futex sleep/wake handshake between the two sides of a ring or lane (docs/LAYOUT.md,
// "Sleeping"), shared by RingWriter, RingReader, FixedWriter and FixedReader.
#pragma once

#include <chrono>
#include <cstdint>

#include <shmpipe/detail/barrier.hpp>
#include <shmpipe/detail/death_alarm.hpp>
#include <shmpipe/detail/futex.hpp>
#include <shmpipe/detail/layout.hpp>
#include <shmpipe/detail/process.hpp>
#include <shmpipe/detail/ready_fd.hpp>
#include <shmpipe/detail/role.hpp>
#include <shmpipe/detail/shared_atomic.hpp>
#include <shmpipe/wait.hpp>

namespace shmpipe::detail {

/// The first sleep of a wait, taken without the process barrier (sleep_unless_changed()): also
/// the longest a wake-up missed by a publisher with a release store can be late.
inline constexpr std::chrono::microseconds kUnfencedSleep{100};

// Design: a side that waits sleeps on the `wake` word of the *other* side's owner line, which
// only the other side increments. Two pairs make a sleep safe against a publish that races it:
//   - the ticket: the sleeper reads the word (acquire) before it looks at the index one last
//     time; a wake after that load changes the word, so futex_wait returns at once;
//   - a Dekker pair: the sleeper stores its `sleeping` flag and then loads the index; the
//     publisher stores the index and then loads the flag, and at least one side must see the
//     other's store: the sleeper sees the new index and does not sleep, or the publisher sees
//     the flag and wakes it. The store-to-load order costs a full barrier; the sleeper always
//     pays it, with a process-wide barrier (detail/barrier.hpp) between its flag store and its
//     load, and the publisher pays nothing more than a release store when that barrier reaches
//     it (publish_index()). Otherwise both ends are seq_cst, as before layout version 4.
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
  // acquire, caller's pair (the ticket): pairs with the release increment in wake_other(); a
  // ticket that already includes a wake comes with the index or flag that caused it. Read
  // first: a wake at any later point changes the word, and futex_wait then returns at once.
  const std::uint32_t ticket = word.load(std::memory_order_acquire);
  // seq_cst, caller's pair (Dekker): the store before unchanged()'s seq_cst load; pairs with the
  // publisher's index store (publish_index()) followed by the load in wake_if_sleeping().
  mine.sleeping.store(1, std::memory_order_seq_cst);
  if (!unchanged()) {
    mine.sleeping.store(0, std::memory_order_relaxed); // as below
    return;
  }
  // First a short sleep without the barrier, which costs an interrupt of the other CPU when
  // the peer runs there (tens of microseconds on a VM, more than a futex wake): a publisher
  // whose release store let its flag load pass it, and so missed our flag, delays us by at
  // most kUnfencedSleep. Most waits of a request/response loop end in this phase, woken.
  stats.sleeps.add_single_writer(1);
  const Deadline short_until = Clock::now() + kUnfencedSleep;
  futex_wait(word, ticket, until < short_until ? until : short_until);
  // acquire: as the ticket's load.
  if (word.load(std::memory_order_acquire) == ticket && Clock::now() < until) {
    // Not woken: the long sleep, made safe by the barrier. The process barrier between the
    // flag store above and the last look is what a publisher with a release store relies on;
    // without it (this process could not register) such a publisher may still be one who
    // read a stale `barrier_sleeper` of a previous holder, so the sleep is cut into 1 ms
    // slices.
    const bool fenced = process_barrier();
    // The same judgement as the caller's liveness checks (holder_dead()): a holder the watch
    // takes for alive is the one whose pidfd is armed below, and one it takes for dead ends
    // the wait instead of arming an alarm that would fire every millisecond.
    if (unchanged() && !holder_dead(theirs, peer)) {
      // Armed before the last look at the pidfd (see death_alarm.hpp, "Lost wakes").
      DeathAlarm &alarm = DeathAlarm::instance();
      const DeathAlarm::Handle armed = alarm.arm(peer.fd(), word);
      if (!holder_dead(theirs, peer)) {
        const Deadline slice = Clock::now() + std::chrono::milliseconds(1);
        futex_wait(word, ticket, fenced || until < slice ? until : slice);
      }
      alarm.disarm(armed);
    }
  }
  // relaxed: a late clear only costs the other side one needless wake.
  mine.sleeping.store(0, std::memory_order_relaxed);
}

/// Sends the other side's event loop its wake datagram if it armed a generation this side has
/// not answered yet (detail/ready_fd.hpp): one system call per arm, none when no loop waits.
inline void notify_if_armed(const OwnerLine &other, OwnerLine &mine, StatsLine &stats) noexcept {
  // seq_cst, caller's pair (Dekker, as for `sleeping`): the load after the caller's index
  // store or closed store; pairs with the armed store and index load in arm_ready(). Either
  // the waiter sees what was published, or this load sees its generation.
  const std::uint32_t armed = other.armed.load(std::memory_order_seq_cst);
  // relaxed: our own word, written only by this thread of this side.
  if (armed == 0 || armed == mine.notified.load(std::memory_order_relaxed))
    return;
  // Before the datagram, not after: a waiter that reads its datagram and then an older
  // `notified` would keep its generation armed, and we, seeing it answered, would never send
  // another (a lost wake-up). So the answer is recorded first; a waiter that sees it arms a
  // new generation at once, and at worst the datagram then wakes it once for nothing.
  // release: pairs with the acquire in arm_ready().
  mine.notified.store(armed, std::memory_order_release);
  // relaxed: stored before `armed` (whose seq_cst load above acquires it) by the waiter.
  send_wake(other.wake_socket.load(std::memory_order_relaxed));
  stats.wakeups.add_single_writer(1);
}

/// Wakes the other side, asleep on `mine.wake` (or about to be), or waiting in an event loop.
/// `other`: its owner line; `stats`: this side's line.
inline void wake_other(const OwnerLine &other, OwnerLine &mine, StatsLine &stats) noexcept {
  // release, caller's pair (the ticket): a sleeper that acquires the new value also sees the
  // index or flag stored before this call. Pairs with the acquire in sleep_unless_changed().
  mine.wake.fetch_add(1, std::memory_order_release);
  futex_wake(mine.wake);
  stats.wakeups.add_single_writer(1);
  notify_if_armed(other, mine, stats);
}

/// Whether this side may publish with a release store: it is registered for the other side's
/// process barrier, and the other side issues one before it sleeps or arms. relaxed: the flag
/// shares the line of the flags loaded after every publish, and is stored once per holder; a
/// stale 0 costs one seq_cst store, a stale 1 (a new holder that cannot issue the barrier) is
/// covered by that holder's 1 ms sleep slices.
[[nodiscard]] inline bool light_publish(const OwnerLine &other) noexcept {
  return other.barrier_sleeper.load(std::memory_order_relaxed) != 0 && membarrier_registered();
}

/// Stores this side's new index, ordered before the loads of wake_if_sleeping() that follow it:
/// the Dekker half of every publish (a write or read index). release at least: the records
/// written, or read, before it come with it (the caller's [sync:write_index] or
/// [sync:read_index]). Then either the other side's process barrier orders the store before
/// the loads (light_publish()), or a seq_cst store does.
inline void publish_index(SharedAtomic<std::uint64_t> &index, std::uint64_t value,
                          const OwnerLine &other) noexcept {
  if (light_publish(other)) {
    index.store(value, std::memory_order_release);
    compiler_barrier();
  } else {
    index.store(value, std::memory_order_seq_cst);
  }
}

/// After a publish (publish_index(), or its equivalent for a lane): wakes the other side if
/// its flag says it sleeps or its event loop armed a wake, and costs no system call when
/// neither.
inline void wake_if_sleeping(const OwnerLine &other, OwnerLine &mine, StatsLine &stats) noexcept {
  // seq_cst, caller's pair (Dekker): the load after the caller's index store; pairs with the
  // flag store, process barrier and index load in sleep_unless_changed().
  if (other.sleeping.load(std::memory_order_seq_cst) != 0) {
    mine.wake.fetch_add(1, std::memory_order_release); // as in wake_other()
    futex_wake(mine.wake);
    stats.wakeups.add_single_writer(1);
  }
  notify_if_armed(other, mine, stats);
}

/// The waiting side of notify_if_armed(), for a try call that found nothing: arms a new
/// generation once the other side answered the last one (else the last one still stands),
/// with `token` naming our wake socket. The caller then re-reads, with a seq_cst load, what it
/// waits for: the publish it would miss was made before this store, or the publisher sees it.
inline void arm_ready(OwnerLine &mine, const OwnerLine &theirs, std::uint64_t token) noexcept {
  // relaxed: our own words, written only by this side.
  const std::uint32_t armed = mine.armed.load(std::memory_order_relaxed);
  const bool same_socket = mine.wake_socket.load(std::memory_order_relaxed) == token;
  // acquire: pairs with the release store in notify_if_armed(): its datagram was sent. While
  // the generation stands unanswered, the seq_cst store that armed it still pairs with every
  // later publish, so there is nothing to store.
  if (armed != 0 && same_socket && theirs.notified.load(std::memory_order_acquire) != armed)
    return;
  if (!same_socket)
    mine.wake_socket.store(token, std::memory_order_relaxed); // published by the store below
  const std::uint32_t next = armed + 1 == 0 ? 1 : armed + 1;
  // seq_cst, caller's pair (Dekker): pairs with the publisher's index store followed by the
  // armed load in notify_if_armed(). The process barrier, as in sleep_unless_changed(), is
  // what a publisher with a release store relies on. Without it (this process could not
  // register) our `barrier_sleeper` is 0, and the publisher stores seq_cst.
  mine.armed.store(next, std::memory_order_seq_cst);
  static_cast<void>(process_barrier());
}

/// Stops asking for wake datagrams (the ready descriptor goes away, or the role does).
inline void disarm_ready(OwnerLine &mine) noexcept {
  // relaxed: a late clear costs the other side one datagram to a socket nobody reads.
  mine.armed.store(0, std::memory_order_relaxed);
  mine.wake_socket.store(0, std::memory_order_relaxed);
}

} // namespace shmpipe::detail
