// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// FixedRing<T, N>: fixed-size lanes, a boost::lockfree::spsc_queue of trivially copyable T placed
// in a segment, with FixedWriter and FixedReader ends.
#pragma once

// Design: a lane is a LaneControl (descriptor, one owner line and one statistics line per side,
// as a ring has) followed by Boost's spsc_queue<T, capacity<N>>, padded to whole cache lines:
//
//   lane + 0     descriptor: element size and alignment, N, Boost version, state
//   lane + 64    producer owner line      lane + 128  consumer owner line
//   lane + 192   producer stats           lane + 256  consumer stats
//   lane + 320   write index | 56 B pad | read index | slot 0 | slot 1 | ... | slot N | pad
//
// The queue's indices are slot numbers in [0, N] that wrap; Boost keeps one slot free. Boost's
// push writes the slots and stores the write index with release; consume_one acquires it, reads
// a slot and stores the read index with release. Each endpoint keeps its own index in process
// memory too and, before every operation, checks that the shared one still equals it (only the
// endpoint itself writes it), and that the other side's index is a slot number that moved
// forward and never past ours. A violation makes the endpoint return Status::corrupt from then
// on. Boost re-loads both indices itself after that check; LaneQueue (detail/lane_queue.hpp)
// checks every slot address Boost is about to touch, so a peer that changes an index in between
// can make the call fail but not make us read or write outside the lane.
//
// Waiting is the ring's protocol (detail/sleep.hpp): the publisher's index store is Boost's
// release store; where the other side's process barrier does not order it before our load of
// its flag, our seq_cst read-modify-write of the same index does (Boost's order cannot be
// changed; a standalone fence would do, but ThreadSanitizer does not model fences).
//
// Limits: T's bytes come from the peer; a T with invalid bit patterns (bool, enums) or
// pointers must be checked by the application. Boost puts the read index on the same cache line
// as the first slots, so the consumer's index store and the producer's writes to those slots
// share that line.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include <shmpipe/config.hpp>
#include <shmpipe/detail/lane.hpp>
#include <shmpipe/detail/lane_queue.hpp>
#include <shmpipe/detail/layout.hpp>
#include <shmpipe/detail/role.hpp>
#include <shmpipe/detail/sleep.hpp>
#include <shmpipe/error.hpp>
#include <shmpipe/ring_stats.hpp>
#include <shmpipe/segment.hpp>
#include <shmpipe/wait.hpp>

namespace shmpipe {

template <class T, std::size_t N> class FixedWriter;
template <class T, std::size_t N> class FixedReader;

/// A lane holding up to N elements of T. Use FixedRing<T, N>::lane_bytes for
/// SegmentOptions::lane_bytes, then attach a Writer and a Reader to the same lane index.
///
/// **Example**:
///
///     using Ticks = shmpipe::FixedRing<Tick, 4096>;
///     auto seg = shmpipe::Segment::create("ticks", {.rings = 0, .lanes = 1,
///                                                   .lane_bytes = Ticks::lane_bytes});
///     Ticks::Writer tx(seg, 0);  // and Ticks::Reader rx(peer_segment, 0) in the other process
///     if (tx.push(Tick{...}, 1s) != shmpipe::Status::ok) { /* timeout, peer_dead, ... */ }
template <class T, std::size_t N> struct FixedRing {
  static_assert(std::is_trivially_copyable_v<T>,
                "a lane copies elements as bytes between processes: T must be trivially copyable");
  static_assert(!std::is_pointer_v<T> && !std::is_member_pointer_v<T>,
                "a pointer means nothing in the other process");
  static_assert(alignof(T) <= kCacheLine, "lanes are aligned to a cache line, not more");
  static_assert(N >= 1, "a lane holds at least one element");

  using Queue = detail::LaneQueue<T, N>;
  static_assert(alignof(Queue) <= kCacheLine);

  using value_type = T;
  using Writer = FixedWriter<T, N>;
  using Reader = FixedReader<T, N>;
  static constexpr std::size_t capacity = N;
  /// Bytes a lane needs for this ring: SegmentOptions::lane_bytes.
  static constexpr std::uint64_t lane_bytes =
      (sizeof(detail::LaneControl) + sizeof(Queue) + kCacheLine - 1) / kCacheLine * kCacheLine;
  static_assert(lane_bytes <= kMaxLaneBytes, "N * sizeof(T) is too large for one lane");

  /// What the lane's descriptor must say. (The casts cannot truncate: lane_bytes <= 2^32.)
  static constexpr detail::LaneShape shape{
      .element_size = static_cast<std::uint32_t>(sizeof(T)),
      .element_align = static_cast<std::uint32_t>(alignof(T)),
      .capacity = N,
      .queue_size = sizeof(Queue),
      .slots_offset = static_cast<std::uint32_t>(sizeof(detail::LaneControl) + Queue::kSlotsOffset),
      .lane_bytes = lane_bytes};
};

/// What a batch call moved, and why it stopped.
struct BatchResult {
  std::size_t count = 0;      ///< elements pushed or popped
  Status status = Status::ok; ///< ok, or why not everything (or nothing) was moved
};

namespace detail {

/// What FixedWriter and FixedReader share: attaching, the process-local copies of the two
/// indices, closing, waiting. `producer` says which side this endpoint is.
template <class T, std::size_t N> class LaneEndpoint {
protected:
  using Ring = FixedRing<T, N>;
  using Queue = typename Ring::Queue;
  static constexpr std::size_t kSlots = Queue::kSlots;

  LaneEndpoint(Segment &segment, std::uint32_t lane, bool producer) : producer_(producer) {
    // Default-initialized, not value-initialized: Boost's constructor zeroes the indices, and
    // the slots are left as they are.
    ctl_ =
        &attach_lane(segment, lane, Ring::shape, [](void *at) { ::new (at) typename Ring::Queue; });
    queue_ = std::launder(
        reinterpret_cast<Queue *>(reinterpret_cast<std::byte *>(ctl_) + sizeof(LaneControl)));
    token_ = claim_lane_role(mine(), producer ? "producer" : "consumer", segment.name(), lane);
    // acquire: each index comes with the slots its writer published before storing it
    // ([sync:lane_write_index], [sync:lane_read_index]), also when that writer has since died.
    const std::size_t write = queue_->write_index().load(std::memory_order_acquire);
    const std::size_t read = queue_->read_index().load(std::memory_order_acquire);
    if (write >= kSlots || read >= kSlots) {
      release_role(mine(), token_);
      throw Error(Errc::corrupt, segment.name(),
                  "lane " + std::to_string(lane) + ": write index " + std::to_string(write) +
                      " or read index " + std::to_string(read) + " is not below " +
                      std::to_string(kSlots));
    }
    own_ = producer ? write : read;
    other_ = producer ? read : write;
    // relaxed: a stale 1 costs a consumer one more look at the write index, and a producer
    // judges a consumer's `closed` only together with its owner word.
    mine().closed.store(0, std::memory_order_relaxed);
    if (producer) {
      // A consumer waiting in an event loop learns of its new producer, as in RingWriter's
      // constructor (the same no-op seq_cst read-modify-write of our owner word, not a fence,
      // which TSan does not model, and Dekker pair, [sync:lane_ready_arm]).
      static_cast<void>(mine().owner.fetch_add(0, std::memory_order_seq_cst));
      notify_if_armed(theirs(), mine(), my_stats());
    }
    // The peer as it is at attach: if a stray write zeroes its owner word before this side
    // first waits, its death is still reported (PeerWatch::dead(0) judges the holder seen last).
    static_cast<void>(holder_dead(theirs(), peer_));
  }

  LaneEndpoint(LaneEndpoint &&other) noexcept { take(other); }
  LaneEndpoint &operator=(LaneEndpoint &&other) noexcept {
    if (this != &other) {
      close();
      take(other);
    }
    return *this;
  }
  LaneEndpoint(const LaneEndpoint &) = delete;
  LaneEndpoint &operator=(const LaneEndpoint &) = delete;
  ~LaneEndpoint() { close(); }

public:
  /// Gives the role back; stats() still works afterwards, everything else returns
  /// Status::closed. Idempotent. A producer also marks the stream closed (the consumer gets
  /// Status::closed once it has popped everything) and wakes the consumer; a producer waiting
  /// for space learns that the consumer left at its next liveness check. In a process that no
  /// longer holds the role (a forked child, or after a takeover) it touches nothing shared.
  void close() noexcept {
    if (ctl_ == nullptr || closed_)
      return;
    if (still_holder(mine(), token_)) {
      if (producer_) {
        // [sync:lane_closed] release: every push before it is visible to a consumer that sees
        // closed == 1. Pairs with the acquire in FixedReader::empty_or_closed(). seq_cst
        // ([sync:lane_ready_arm]): the armed load in wake_other() follows it.
        mine().closed.store(1, std::memory_order_seq_cst);
        // [sync:lane_data_wake] release (the increment in wake_other()), unconditional: a
        // consumer that took its ticket before the flag finds it changed and does not sleep
        // through the close. Pairs with the acquire in FixedReader::sleep_for_data().
        wake_other(theirs(), mine(), my_stats());
      } else {
        // relaxed: made visible by the owner word's release in release_role().
        mine().closed.store(1, std::memory_order_relaxed);
      }
      release_role(mine(), token_);
    }
    closed_ = true;
  }

  /// Either side; a snapshot that may be stale. `bytes` counts sizeof(T) per element; `wraps`,
  /// `regrown_or_rejected` and `copied` stay 0.
  [[nodiscard]] RingStats stats() const noexcept {
    return ctl_ != nullptr
               ? RingStats{read_side(ctl_->producer_stats), read_side(ctl_->consumer_stats)}
               : RingStats{};
  }

  /// Elements in the lane as of this side's last look at the other's index: the producer may
  /// over-estimate, the consumer under-estimate.
  [[nodiscard]] std::size_t size_approx() const noexcept {
    return producer_ ? distance(other_, own_) : distance(own_, other_);
  }

  [[nodiscard]] static constexpr std::size_t capacity() noexcept { return N; }

protected:
  /// Slots from `from` forward to `to`, both in [0, kSlots).
  [[nodiscard]] static std::size_t distance(std::size_t from, std::size_t to) noexcept {
    return to >= from ? to - from : to + kSlots - from;
  }
  [[nodiscard]] static std::size_t advance(std::size_t at, std::size_t n) noexcept {
    const std::size_t to = at + n; // n <= N: no overflow, at most one lap
    return to >= kSlots ? to - kSlots : to;
  }

  OwnerLine &mine() const noexcept {
    return producer_ ? ctl_->producer_owner : ctl_->consumer_owner;
  }
  OwnerLine &theirs() const noexcept {
    return producer_ ? ctl_->consumer_owner : ctl_->producer_owner;
  }
  StatsLine &my_stats() const noexcept {
    return producer_ ? ctl_->producer_stats : ctl_->consumer_stats;
  }
  Queue &queue() const noexcept { return *queue_; }
  std::atomic<std::size_t> &own_index() const noexcept {
    return producer_ ? queue_->write_index() : queue_->read_index();
  }

  /// closed or corrupt when this endpoint can do nothing; ok otherwise.
  [[nodiscard]] Status usable() const noexcept {
    if (ctl_ == nullptr || closed_)
      return Status::closed;
    return corrupt_ ? Status::corrupt : Status::ok;
  }

  BatchResult corrupt(std::size_t moved = 0) noexcept {
    corrupt_ = true;
    return {moved, Status::corrupt};
  }

  /// Before a push or pop: {0, ok} to go ahead, else {0, closed} or {0, corrupt}; corrupt also
  /// when our own index in the queue is not what we stored (nobody else stores it).
  [[nodiscard]] BatchResult may_start() noexcept {
    if (const Status status = usable(); status != Status::ok)
      return {0, status};
    // relaxed: only this side stores it, so the value can only be our own last store.
    if (own_index().load(std::memory_order_relaxed) != own_)
      return corrupt();
    return {};
  }

  /// After Boost moved `moved.count` of the `want` elements asked for: our index, statistics,
  /// the wake-up, and the verdict.
  BatchResult finish(const Moved &moved, std::size_t want) noexcept {
    if (moved.count != 0) {
      own_ = advance(own_, moved.count);
      my_stats().records.add_single_writer(moved.count);
      my_stats().bytes.add_single_writer(moved.count * sizeof(T));
      // [sync:lane_consumer_sleep] (producer) / [sync:lane_producer_sleep] (consumer): the
      // index Boost just stored with release, ordered before the load of the other side's
      // flag in wake_if_sleeping(): the publisher's half of the Dekker pair (see the design
      // note above), by the other side's process barrier (detail::publish_index()) or by a
      // seq_cst read-modify-write of the index. Pairs with FixedReader::sleep_for_data() /
      // FixedWriter::sleep_for_space(). The value read must still be ours.
      if (detail::light_publish(theirs())) {
        detail::compiler_barrier();
        // relaxed: only we store this index; a different value is a peer's stray write.
        if (own_index().load(std::memory_order_relaxed) != own_)
          corrupt_ = true;
      } else if (own_index().fetch_add(0, std::memory_order_seq_cst) != own_) {
        corrupt_ = true;
      }
      // [sync:lane_data_wake] (producer) / [sync:lane_space_wake] (consumer): release, the
      // increment in wake_other() when it wakes the other side. Pairs with the ticket's acquire
      // in FixedReader::sleep_for_data() / FixedWriter::sleep_for_space().
      wake_if_sleeping(theirs(), mine(), my_stats());
    }
    // Boost judges by its own load of the other side's index, later than ours, which can only
    // show more room (push) or more elements (pop): less means that index moved backwards.
    if (moved.out_of_place || moved.count < want)
      return corrupt(moved.count);
    return {moved.count, Status::ok};
  }

  /// A look at the peer, at every liveness interval and at the deadline: peer_dead if its
  /// process died, closed if it detached (only a producer learns so: a consumer gets closed
  /// from the stream itself), else ok.
  [[nodiscard]] Status peer_gone() noexcept {
    if (holder_dead(theirs(), peer_))
      return Status::peer_dead;
    // acquire: a consumer detaches by storing `closed` and then releasing the owner word.
    if (producer_ && theirs().owner.load(std::memory_order_acquire) == 0 &&
        theirs().closed.load(std::memory_order_relaxed) != 0)
      return Status::closed;
    return Status::ok;
  }

  /// The waiting half of push and pop: calls `attempt()` (one try; `busy` = full or empty) on
  /// `policy`'s schedule, sleeping with `sleep(until)`, until it moves something or fails, the
  /// deadline passes (timeout) or the peer is gone (peer_dead, closed). After the peer is found
  /// gone, one more attempt still delivers what it published before it went.
  template <class Attempt, class Sleep>
  BatchResult wait(const WaitPolicy &policy, Deadline deadline, Status busy, Attempt &&attempt,
                   Sleep &&sleep) noexcept {
    Backoff backoff(policy, deadline);
    for (;;) {
      const Backoff::Step step = backoff.next();
      if (step == Backoff::Step::sleep)
        sleep(backoff.sleep_until());
      BatchResult result = attempt();
      if (result.count != 0 || result.status != busy)
        return result;
      const bool out_of_time = step == Backoff::Step::timeout;
      if (out_of_time || backoff.liveness_due()) {
        if (const Status gone = peer_gone(); gone != Status::ok) {
          result = attempt();
          return result.count != 0 || result.status != busy ? result : BatchResult{0, gone};
        }
        if (out_of_time)
          return {0, Status::timeout};
      }
    }
  }

  LaneControl *ctl_ = nullptr;
  Queue *queue_ = nullptr;
  std::uint64_t token_ = 0;
  std::size_t own_ = 0;   // this side's index, as Boost last stored it for us
  std::size_t other_ = 0; // the other side's index, as last loaded and checked
  bool producer_ = false;
  bool corrupt_ = false;
  bool closed_ = false; // close() was called: the role is given back, stats() still work
  PeerWatch peer_;      // the other side's process, for peer_dead

private:
  void take(LaneEndpoint &other) noexcept {
    ctl_ = std::exchange(other.ctl_, nullptr);
    queue_ = other.queue_;
    token_ = other.token_;
    own_ = other.own_;
    other_ = other.other_;
    producer_ = other.producer_;
    corrupt_ = other.corrupt_;
    closed_ = other.closed_;
    peer_ = std::move(other.peer_);
    other.closed_ = true; // a moved-from endpoint is closed: every call is a no-op or `closed`
  }
};

} // namespace detail

/// The producer end of lane `lane` of a segment. Claims the producer role on construction (one
/// live producer per lane, across all processes) and gives it back on destruction, marking the
/// stream closed. Move-only; the Segment must outlive it. Producer only: one thread at a time.
template <class T, std::size_t N> class FixedWriter : public detail::LaneEndpoint<T, N> {
  using Base = detail::LaneEndpoint<T, N>;

public:
  /// Formats the lane if no endpoint has yet. Throws Error: invalid_argument (no such lane),
  /// layout_mismatch (the lane holds another T or N, is too small, or the segment or lane was
  /// made with another Boost version), role_taken (a live producer exists), corrupt (the
  /// indices are not slot numbers), not_ready (another process is formatting it and stalls).
  FixedWriter(Segment &segment, std::uint32_t lane) : Base(segment, lane, true) {}

  /// Copies `item` into the lane. Never blocks. ok, full, corrupt, or closed after close().
  [[nodiscard]] Status try_push(const T &item) noexcept {
    return push_once({&item, 1}, true).status;
  }

  /// Like try_push(), but waits for space as `policy` says, until `limit`. Also timeout,
  /// peer_dead when the consumer process died, closed when it detached.
  [[nodiscard]] Status push(const T &item, WaitLimit limit,
                            const WaitPolicy &policy = {}) noexcept {
    return push_all({&item, 1}, limit, policy).status;
  }

  /// Pushes as many of `items` as fit now, with one index store. Never blocks. {count, ok}
  /// (count may be less than items.size()), {0, full}, or {count, corrupt / closed}.
  [[nodiscard]] BatchResult try_push_some(std::span<const T> items) noexcept {
    return push_once(items, true);
  }

  /// Pushes all of `items`, waiting for space as push() does. {items.size(), ok}, or how many
  /// went before timeout, peer_dead, closed or corrupt.
  [[nodiscard]] BatchResult push_all(std::span<const T> items, WaitLimit limit,
                                     const WaitPolicy &policy = {}) noexcept {
    if (items.empty())
      return push_once(items, false);
    std::size_t count = 0;
    std::optional<Deadline> deadline; // one for the whole call, from its first wait
    while (count < items.size()) {
      const std::span<const T> rest = items.subspan(count);
      BatchResult more = push_once(rest, count == 0 && !deadline);
      if (more.count == 0 && more.status == Status::full) {
        if (!deadline)
          deadline = limit.resolve(Clock::now());
        more = this->wait(
            policy, *deadline, Status::full, [&] { return push_once(rest, false); },
            [&](Deadline until) { sleep_for_space(until); });
      }
      count += more.count;
      if (more.status != Status::ok)
        return {count, more.status};
    }
    return {count, Status::ok};
  }

private:
  BatchResult push_once(std::span<const T> items, bool count_stall) noexcept {
    if (BatchResult refused = this->may_start(); refused.status != Status::ok || items.empty())
      return refused;
    std::size_t room = N - this->distance(this->other_, this->own_);
    if (room < items.size()) {
      if (!reload_read_index())
        return this->corrupt();
      room = N - this->distance(this->other_, this->own_);
    }
    if (room == 0) {
      if (count_stall)
        this->my_stats().stalls.add_single_writer(1);
      return {0, Status::full};
    }
    const std::size_t want = std::min(items.size(), room);
    // [sync:lane_write_index] release: Boost's push writes the slots, then stores the write
    // index with release; a consumer that acquires it sees them. Pairs with the acquire in
    // FixedReader::reload_write_index().
    return this->finish(this->queue().push_at(items.first(want), this->own_), want);
  }

  /// False if the consumer's index is impossible: not a slot number, moved backwards, or past
  /// what we published.
  bool reload_read_index() noexcept {
    // [sync:lane_read_index] acquire: the consumer's copies out of the slots it freed happen
    // before we overwrite them. Pairs with the release store of the read index at the end of
    // Boost's consume_one (FixedReader::pop_once()).
    const std::size_t read = this->queue().read_index().load(std::memory_order_acquire);
    if (read >= Base::kSlots ||
        this->distance(this->other_, read) > this->distance(this->other_, this->own_))
      return false;
    this->other_ = read;
    return true;
  }

  void sleep_for_space(Deadline until) noexcept {
    // [sync:lane_space_wake] acquire (the ticket, in sleep_unless_changed()): pairs with the
    // release increment in wake_other(), called from FixedReader::pop_once() via finish().
    // [sync:lane_producer_sleep] seq_cst store of our flag (in sleep_unless_changed()), then
    // the seq_cst load of the read index below: pairs with the read-modify-write of the read
    // index and the load of our flag in FixedReader::pop_once() (finish()).
    detail::sleep_unless_changed(
        this->mine(), this->theirs(), this->peer_, this->my_stats(), until, [this] {
          return this->queue().read_index().load(std::memory_order_seq_cst) == this->other_;
        });
  }
};

/// The consumer end of lane `lane` of a segment. Claims the consumer role on construction and
/// gives it back on destruction. Move-only; the Segment must outlive it. Consumer only: one
/// thread at a time.
template <class T, std::size_t N> class FixedReader : public detail::LaneEndpoint<T, N> {
  using Base = detail::LaneEndpoint<T, N>;

public:
  /// Formats the lane if no endpoint has yet. Throws Error as FixedWriter's constructor does
  /// (role_taken: a live consumer exists).
  FixedReader(Segment &segment, std::uint32_t lane)
      : Base(segment, lane, false), segment_name_(segment.name()) {}
  FixedReader(FixedReader &&) noexcept = default;
  FixedReader &operator=(FixedReader &&) noexcept = default;
  ~FixedReader() {
    // Our own line, and only while the role is ours (a forked child's copy must not disarm
    // its parent's descriptor).
    if (ready_ && this->ctl_ != nullptr && !this->closed_ &&
        detail::still_holder(this->mine(), this->token_))
      detail::disarm_ready(this->mine());
  }

  /// A descriptor for an event loop, as RingReader::ready_fd() describes: readable when a try
  /// call may find something new (an element, the close, the producer's death). Once it polls
  /// readable, call try_pop() / try_pop_some() until one finds nothing (which re-arms it).
  [[nodiscard]] int ready_fd() {
    if (!ready_)
      ready_ = std::make_unique<detail::ReadyFd>(segment_name_);
    return ready_->fd();
  }

  /// Copies the oldest element into `out` and frees its slot. Never blocks. ok, empty, closed
  /// (the producer closed and everything was popped), or corrupt.
  [[nodiscard]] Status try_pop(T &out) noexcept { return pop_once({&out, 1}, true).status; }

  /// Like try_pop(), but waits for an element as `policy` says, until `limit`. Also timeout, or
  /// peer_dead when the producer process died and nothing is left.
  [[nodiscard]] Status pop(T &out, WaitLimit limit, const WaitPolicy &policy = {}) noexcept {
    return pop_some({&out, 1}, limit, policy).status;
  }

  /// Pops up to out.size() elements, as many as there are now. Never blocks. {count, ok} with
  /// count >= 1, {0, empty}, {0, closed}, or {count, corrupt}.
  [[nodiscard]] BatchResult try_pop_some(std::span<T> out) noexcept { return pop_once(out, true); }

  /// Like try_pop_some(), but waits for at least one element as pop() does.
  [[nodiscard]] BatchResult pop_some(std::span<T> out, WaitLimit limit,
                                     const WaitPolicy &policy = {}) noexcept {
    BatchResult result = pop_once(out, true);
    if (result.count != 0 || result.status != Status::empty)
      return result;
    return this->wait(
        policy, limit.resolve(Clock::now()), Status::empty, [&] { return pop_once(out, false); },
        [&](Deadline until) { sleep_for_data(until); });
  }

private:
  BatchResult pop_once(std::span<T> out, bool count_stall) noexcept {
    if (BatchResult refused = this->may_start(); refused.status != Status::ok || out.empty())
      return refused;
    std::size_t ready = this->distance(this->own_, this->other_);
    if (ready < out.size()) {
      if (!reload_write_index())
        return this->corrupt();
      ready = this->distance(this->own_, this->other_);
    }
    if (ready == 0) {
      Status status = empty_or_closed();
      if (status == Status::empty && ready_)
        status = rearm();
      if (status == Status::empty && count_stall)
        this->my_stats().stalls.add_single_writer(1);
      if (status != Status::ok)
        return {0, status};
      ready = this->distance(this->own_, this->other_);
    }
    const std::size_t want = std::min(out.size(), ready);
    // Boost's consume_one acquires the write index ([sync:lane_write_index], as
    // reload_write_index() does) and releases the read index ([sync:lane_read_index]).
    return this->finish(this->queue().pop_at(out.first(want), this->own_), want);
  }

  /// After a try found nothing, with a ready descriptor: as RingReader::rearm(). ok when
  /// elements came meanwhile; otherwise empty, closed, peer_dead or corrupt.
  Status rearm() noexcept {
    const detail::ReadyEvents events = ready_->collect();
    detail::arm_ready(this->mine(), this->theirs(), ready_->token());
    // seq_cst: pairs with the fence after a producer's claim (LaneEndpoint's constructor).
    const std::uint64_t owner = this->theirs().owner.load(std::memory_order_seq_cst);
    if (owner != peer_owner_seen_ || events.peer) {
      peer_owner_seen_ = owner;
      producer_gone_ = detail::holder_dead(this->theirs(), this->peer_);
      static_cast<void>(ready_->watch_peer(owner, producer_gone_ ? -1 : this->peer_.fd()));
    }
    // [sync:lane_ready_arm] seq_cst, after the seq_cst store of `armed` in arm_ready(): pairs
    // with the producer's read-modify-write of its index (or its closed store) followed by
    // the armed load in notify_if_armed(), as [sync:ready_arm] in a ring.
    if (this->queue().write_index().load(std::memory_order_seq_cst) != this->other_ ||
        this->theirs().closed.load(std::memory_order_seq_cst) != 0) {
      if (!reload_write_index()) {
        this->corrupt_ = true;
        return Status::corrupt;
      }
      return this->other_ != this->own_ ? Status::ok : empty_or_closed();
    }
    return producer_gone_ ? Status::peer_dead : Status::empty;
  }

  /// False if the producer's index is impossible: not a slot number, or moved backwards.
  /// (It cannot pass us: every slot number is a valid amount of data.)
  bool reload_write_index() noexcept {
    // [sync:lane_write_index] acquire: the slots the producer wrote before storing this index
    // are visible. Pairs with the release store at the end of Boost's push
    // (FixedWriter::push_once()).
    const std::size_t write = this->queue().write_index().load(std::memory_order_acquire);
    if (write >= Base::kSlots ||
        this->distance(this->own_, write) < this->distance(this->own_, this->other_))
      return false;
    this->other_ = write;
    return true;
  }

  /// empty, closed, corrupt, or ok if the closed check found more elements.
  Status empty_or_closed() noexcept {
    // [sync:lane_closed] acquire: pairs with the release store in close() (the producer's);
    // every push before it is visible, so one more look at the index settles it.
    if (this->theirs().closed.load(std::memory_order_acquire) == 0)
      return Status::empty;
    if (!reload_write_index()) {
      this->corrupt_ = true;
      return Status::corrupt;
    }
    return this->other_ == this->own_ ? Status::closed : Status::ok;
  }

  void sleep_for_data(Deadline until) noexcept {
    // [sync:lane_data_wake] acquire (the ticket, in sleep_unless_changed()): pairs with the
    // release increment in wake_other(), called from FixedWriter::push_once() via finish()
    // and from close().
    // [sync:lane_consumer_sleep] seq_cst store of our flag (in sleep_unless_changed()), then
    // the seq_cst load of the write index below: pairs with FixedWriter::push_once().
    detail::sleep_unless_changed(
        this->mine(), this->theirs(), this->peer_, this->my_stats(), until, [this] {
          // acquire: as in empty_or_closed() ([sync:lane_closed]).
          return this->queue().write_index().load(std::memory_order_seq_cst) == this->other_ &&
                 this->theirs().closed.load(std::memory_order_acquire) == 0;
        });
  }

  std::string segment_name_;               // for errors from ready_fd()
  std::unique_ptr<detail::ReadyFd> ready_; // none until ready_fd(): try calls then cost nothing
  std::uint64_t peer_owner_seen_ = ~std::uint64_t{0}; // as rearm() saw it
  bool producer_gone_ = false; // rearm() found that producer dead (and reported it)
};

} // namespace shmpipe
