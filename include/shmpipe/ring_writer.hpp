// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// RingWriter: the producer end of an SPSC byte ring in a Segment.
#pragma once

// Design: the producer owns the write index and the next sequence number (both in its
// IndexLine); the consumer owns the read index. Indices are 64-bit byte counters that only grow;
// a position is index & (capacity - 1). Free space is capacity - (write - read).
//
//   data region, capacity C:
//   |--released--|====unread records====|--free--|
//                ^ read & (C-1)          ^ write & (C-1)
//
// A record is a 16-byte RecordHeader and its payload rounded up to 16 bytes, and it never wraps:
// if it does not fit before the end of the region, a padding record fills the rest and the
// record starts at offset 0, so every payload is one contiguous span.
//
//   |rec 7|rec 8|...free...|PAD-----------|    write at C-96, next record needs 128 bytes
//   |rec 9 (128 B)|...                         -> PAD (96 B) published first, rec 9 at 0
//
// The producer keeps a process-local copy of the read index and reloads it only when its copy
// says the ring is full, so a producer that is ahead of the consumer touches no line the
// consumer writes. Records are written into the ring first ("staged"), then published with one
// store of the write index; commit() publishes at once, stage()+publish() batches.
//
// The consumer is untrusted: every read index it publishes is checked (monotonic, 16-aligned,
// never ahead of what was published) before it is used; a bad one makes the writer corrupt.

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>

#include <shmpipe/detail/layout.hpp>
#include <shmpipe/detail/record.hpp>
#include <shmpipe/detail/role.hpp>
#include <shmpipe/detail/sleep.hpp>
#include <shmpipe/error.hpp>
#include <shmpipe/ring_stats.hpp>
#include <shmpipe/segment.hpp>
#include <shmpipe/wait.hpp>

namespace shmpipe {

class RingWriter;

/// Space reserved in the ring for one record: write the payload into bytes(), then hand the
/// slot to RingWriter::commit() or stage(). Move-only; dropping it publishes nothing.
class WriteSlot {
public:
  WriteSlot() noexcept = default;
  WriteSlot(WriteSlot &&other) noexcept { *this = std::move(other); }
  WriteSlot &operator=(WriteSlot &&other) noexcept {
    owner_ = other.owner_;
    data_ = other.data_;
    size_ = other.size_;
    index_ = other.index_;
    status_ = other.status_;
    other.data_ = nullptr;
    other.status_ = Status::closed;
    return *this;
  }
  WriteSlot(const WriteSlot &) = delete;
  WriteSlot &operator=(const WriteSlot &) = delete;
  ~WriteSlot() = default;

  /// True when space was reserved (status() == Status::ok).
  explicit operator bool() const noexcept { return data_ != nullptr; }
  /// Why there is no space, when there is none; closed for a slot that was moved from (or
  /// default-constructed).
  [[nodiscard]] Status status() const noexcept { return status_; }
  /// The payload, in shared memory, 16-byte aligned. Write it before committing.
  [[nodiscard]] std::span<std::byte> bytes() const noexcept { return {data_, size_}; }
  /// Commits only the first `n` bytes (n <= bytes().size()); the rest returns to the ring.
  void shrink(std::size_t n) noexcept {
    assert(n <= size_);
    if (n < size_)
      size_ = static_cast<std::uint32_t>(n);
  }

private:
  friend class RingWriter;
  WriteSlot(const RingWriter *owner, std::byte *data, std::uint32_t size,
            std::uint64_t index) noexcept
      : owner_(owner), data_(data), size_(size), index_(index), status_(Status::ok) {}
  explicit WriteSlot(Status failure) noexcept : status_(failure) {}

  const RingWriter *owner_ = nullptr; // a slot is only committed by the writer it came from
  std::byte *data_ = nullptr;
  std::uint32_t size_ = 0;
  std::uint64_t index_ = 0; // ring index of the record header
  Status status_ = Status::closed;
};

/// The producer end of ring `index` of a segment. Claims the producer role on construction
/// (one live producer per ring, across all processes) and gives it back on destruction, after
/// publishing what was staged and marking the stream closed. Move-only; the Segment must
/// outlive it. Producer only: one thread at a time.
class RingWriter {
public:
  /// Throws Error: role_taken if a live process is the producer; corrupt if the control block
  /// is inconsistent; invalid_argument for a bad ring index.
  explicit RingWriter(Segment &segment, std::uint32_t ring = 0) {
    const detail::RingMemory mem = segment.ring(ring);
    ctl_ = mem.control;
    data_ = mem.data;
    capacity_ = mem.capacity;
    mask_ = capacity_ - 1;
    token_ = detail::claim_role(ctl_->producer_owner, "producer", segment.name(), ring);
    // acquire: both indices come with the state their writers published before storing them
    // ([sync:write_index], [sync:read_index]), also when that writer has since died.
    published_ = ctl_->producer_index.index.load(std::memory_order_acquire);
    cached_read_ = ctl_->consumer_index.index.load(std::memory_order_acquire);
    if (published_ - cached_read_ > capacity_ || (published_ % kRecordAlign) != 0 ||
        (cached_read_ % kRecordAlign) != 0 || !recover_next_seq()) {
      detail::release_role(ctl_->producer_owner, token_);
      throw Error(Errc::corrupt, segment.name(),
                  "ring " + std::to_string(ring) + ": write index " + std::to_string(published_) +
                      " and read index " + std::to_string(cached_read_) +
                      " are inconsistent for capacity " + std::to_string(capacity_) +
                      ", or the unread records are corrupt");
    }
    pending_ = published_;
    // relaxed: the consumer only uses `closed` once the ring is empty, and then re-reads the
    // write index; a stale 1 costs it one more look.
    ctl_->producer_owner.closed.store(0, std::memory_order_relaxed);
    // A consumer waiting in an event loop learns of its new producer now, and so watches our
    // process: else our death before the first publish would go unnoticed there. seq_cst
    // read-modify-write of our owner word (a no-op: it is ours), then the armed load; pairs
    // with the armed store and owner load in RingReader::rearm() (a Dekker pair, as
    // [sync:ready_arm]). Not a fence: ThreadSanitizer does not model fences.
    static_cast<void>(ctl_->producer_owner.owner.fetch_add(0, std::memory_order_seq_cst));
    detail::notify_if_armed(ctl_->consumer_owner, ctl_->producer_owner, ctl_->producer_stats);
    // The peer as it is at attach: if a stray write zeroes its owner word before this side
    // first waits, its death is still reported (PeerWatch::dead(0) judges the holder seen last).
    static_cast<void>(detail::holder_dead(ctl_->consumer_owner, peer_));
  }

  RingWriter(RingWriter &&other) noexcept { take(other); }
  RingWriter &operator=(RingWriter &&other) noexcept {
    if (this != &other) {
      close();
      take(other);
    }
    return *this;
  }
  RingWriter(const RingWriter &) = delete;
  RingWriter &operator=(const RingWriter &) = delete;
  ~RingWriter() { close(); }

  /// Largest payload this ring accepts: capacity - 16. A record that large needs the whole
  /// ring, so it waits until the consumer has released everything before it.
  [[nodiscard]] std::size_t max_payload() const noexcept { return capacity_ - sizeof(Header); }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }

  /// Reserves space for a payload of `size` bytes. Never blocks. The slot is empty with
  /// status full (no space now; staged records are published, since only the consumer reading
  /// them can make room), too_large (size > max_payload()), corrupt (the consumer broke the
  /// protocol) or closed (after close()).
  [[nodiscard]] WriteSlot try_reserve(std::size_t size) noexcept {
    return reserve_once(size, /*count_stall=*/true);
  }

  /// Like try_reserve(), but waits for space as `policy` says, until `deadline`. Also fails
  /// with timeout, peer_dead when the consumer process died, or closed when it detached.
  [[nodiscard]] WriteSlot reserve(std::size_t size, WaitLimit limit,
                                  const WaitPolicy &policy = {}) noexcept {
    WriteSlot slot = reserve_once(size, true);
    if (slot.status() != Status::full)
      return slot;
    detail::Backoff backoff(policy, limit);
    for (;;) {
      switch (backoff.next()) {
      case detail::Backoff::Step::retry:
        break;
      case detail::Backoff::Step::timeout: {
        // A last look, so that short deadlines in a loop still notice a dead consumer.
        const Status gone = consumer_gone();
        return WriteSlot(gone != Status::ok ? gone : Status::timeout);
      }
      case detail::Backoff::Step::sleep:
        sleep_for_space(backoff.sleep_until());
        break;
      }
      slot = reserve_once(size, false);
      if (slot.status() != Status::full)
        return slot;
      if (backoff.liveness_due())
        if (const Status gone = consumer_gone(); gone != Status::ok)
          return WriteSlot(gone);
    }
  }

  /// Writes the record header and publishes it, with everything staged before it.
  void commit(WriteSlot &&slot, std::uint16_t type = 0) noexcept {
    stage(std::move(slot), type);
    publish();
  }

  /// Writes the record header without publishing: the consumer sees it with the next
  /// publish() or commit() (or when a reservation finds the ring full or has to wrap, which
  /// publish what is staged). Batching N records this way costs one index store instead of N.
  void stage(WriteSlot &&slot, std::uint16_t type = 0) noexcept {
    assert((!slot || (slot.owner_ == this && slot.index_ == pending_)) &&
           "commit/stage of a slot that is not this writer's latest");
    if (!slot || slot.owner_ != this || slot.index_ != pending_ || closed_)
      return;
    const std::uint16_t flags = restart_pending_ ? detail::kRecordRestart : std::uint16_t{0};
    restart_pending_ = false;
    const Header header{slot.size_, type, flags, next_seq_++};
    std::memcpy(data_ + (pending_ & mask_), &header, sizeof header);
    pending_ += detail::record_size(slot.size_);
    staged_records_ += 1;
    staged_bytes_ += slot.size_;
    slot.data_ = nullptr;
    slot.status_ = Status::closed;
  }

  /// For payloads built back to front (FlatBuffers): commits the last `tail` bytes of the slot
  /// as the record's payload, where they lie. The unused front, bytes().size() - tail, must be
  /// a multiple of 16 (a misuse commits nothing); it becomes a padding record that the
  /// consumer skips, so nothing is moved.
  void commit_tail(WriteSlot &&slot, std::size_t tail, std::uint16_t type = 0) noexcept {
    stage_tail(std::move(slot), tail, type);
    publish();
  }

  /// stage() for the last `tail` bytes of the slot, as commit_tail() commits them.
  void stage_tail(WriteSlot &&slot, std::size_t tail, std::uint16_t type = 0) noexcept {
    assert((!slot || (tail <= slot.size_ && (slot.size_ - tail) % kRecordAlign == 0)) &&
           "stage_tail: the unused front must be a multiple of 16 bytes");
    if (!slot || slot.owner_ != this || slot.index_ != pending_ || closed_ || tail > slot.size_ ||
        (slot.size_ - tail) % kRecordAlign != 0)
      return;
    if (const std::uint32_t front = slot.size_ - static_cast<std::uint32_t>(tail); front != 0) {
      // The slot's header space and all but the last 16 bytes of the unused front become a
      // padding record of `front` bytes; those last 16 take the real header, right before
      // the tail.
      const Header pad{front - static_cast<std::uint32_t>(sizeof(Header)), 0,
                       detail::kRecordPadding, 0};
      std::memcpy(data_ + (pending_ & mask_), &pad, sizeof pad);
      pending_ += front;
      staged_padding_ += 1;
      slot.index_ = pending_;
      slot.data_ += front;
      slot.size_ -= front;
    }
    stage(std::move(slot), type);
  }

  /// Publishes everything staged with a single store of the write index, and wakes the
  /// consumer if (and only if) it sleeps: no system call while it is awake.
  void publish() noexcept {
    if (pending_ == published_ || closed_)
      return;
    detail::StatsLine &stats = ctl_->producer_stats;
    stats.records.add_single_writer(staged_records_);
    stats.bytes.add_single_writer(staged_bytes_);
    if (staged_padding_ != 0)
      stats.wraps.add_single_writer(staged_padding_);
    staged_records_ = 0;
    staged_bytes_ = 0;
    staged_padding_ = 0;
    // [sync:write_index] release: the records written above are visible to a consumer that
    // acquires this index. Pairs with the acquire in RingReader::reload_write_index().
    // [sync:consumer_sleep] the index store, ordered before the load of the consumer's flag in
    // wake_if_sleeping() below (by the consumer's process barrier, or seq_cst): pairs with the
    // store of consumer sleeping, barrier and load of this index in
    // RingReader::sleep_for_data(). Of the two store-then-load sequences at least one sees the
    // other's store, so either the consumer sees this index and does not sleep, or we see its
    // flag and wake it.
    detail::publish_index(ctl_->producer_index.index, pending_, ctl_->consumer_owner);
    published_ = pending_;
    // relaxed, and after the index: read only by a producer that takes over this role, which
    // treats it as a lower bound (recover_next_seq()).
    ctl_->producer_index.next_seq.store(next_seq_, std::memory_order_relaxed);
    detail::wake_if_sleeping(ctl_->consumer_owner, ctl_->producer_owner, ctl_->producer_stats);
  }

  /// Copying convenience: reserve, copy `payload`, commit. Never blocks.
  [[nodiscard]] Status try_write(std::span<const std::byte> payload,
                                 std::uint16_t type = 0) noexcept {
    return copy_and_commit(try_reserve(payload.size()), payload, type);
  }

  /// Copying convenience that waits for space like reserve().
  [[nodiscard]] Status write(std::span<const std::byte> payload, WaitLimit limit,
                             const WaitPolicy &policy = {}, std::uint16_t type = 0) noexcept {
    return copy_and_commit(reserve(payload.size(), limit, policy), payload, type);
  }

  /// Publishes what is staged, marks the stream closed (the consumer gets Status::closed once
  /// it has read everything) and gives the producer role back. Afterwards stats() still works
  /// and everything else returns Status::closed. Idempotent. In a process that no longer holds
  /// the role (a child forked after the claim, or after a takeover) it touches nothing shared.
  void close() noexcept {
    if (ctl_ == nullptr || closed_)
      return;
    if (detail::still_holder(ctl_->producer_owner, token_)) {
      publish();
      // release: the final write index is visible to whoever sees closed == 1. seq_cst
      // ([sync:ready_arm]): the armed load in wake_consumer() follows it, as after an index
      // store in publish().
      ctl_->producer_owner.closed.store(1, std::memory_order_seq_cst);
      // Unconditional wake: a consumer that read the wake word before `closed` was set will
      // find the word changed and not sleep through the close ([sync:data_wake]).
      wake_consumer();
      detail::release_role(ctl_->producer_owner, token_);
    }
    closed_ = true;
  }

  /// Either side; a snapshot that may be stale.
  [[nodiscard]] RingStats stats() const noexcept {
    return ctl_ != nullptr ? detail::read_stats(*ctl_) : RingStats{};
  }

  /// For message.hpp: counts a message that outgrew its reservation while being built in place
  /// (`regrown`) or was built outside the ring and copied in (`copied`).
  void count_build(bool regrown, bool copied) noexcept {
    if (ctl_ == nullptr || closed_)
      return;
    if (regrown)
      ctl_->producer_stats.regrown_or_rejected.add_single_writer(1);
    if (copied)
      ctl_->producer_stats.copied.add_single_writer(1);
  }

  /// Bytes published and not yet released, as of the last reload. Producer only; may
  /// over-estimate (the consumer may have released more since).
  [[nodiscard]] std::uint64_t size_approx() const noexcept { return published_ - cached_read_; }

private:
  using Header = detail::RecordHeader;

  void take(RingWriter &other) noexcept {
    ctl_ = std::exchange(other.ctl_, nullptr);
    data_ = other.data_;
    capacity_ = other.capacity_;
    mask_ = other.mask_;
    token_ = other.token_;
    published_ = other.published_;
    pending_ = other.pending_;
    cached_read_ = other.cached_read_;
    next_seq_ = other.next_seq_;
    staged_records_ = other.staged_records_;
    staged_bytes_ = other.staged_bytes_;
    staged_padding_ = other.staged_padding_;
    corrupt_ = other.corrupt_;
    closed_ = other.closed_;
    restart_pending_ = other.restart_pending_;
    peer_ = std::move(other.peer_);
    other.closed_ = true; // a moved-from writer is closed: every call is a no-op or `closed`
  }

  WriteSlot reserve_once(std::size_t size, bool count_stall) noexcept {
    if (ctl_ == nullptr || closed_)
      return WriteSlot(Status::closed);
    if (corrupt_)
      return WriteSlot(Status::corrupt);
    if (size > max_payload())
      return WriteSlot(Status::too_large);
    const std::uint64_t need = detail::record_size(size);
    const std::uint64_t room = capacity_ - (pending_ & mask_);
    if (need > room) {
      // The record cannot start here whatever the consumer does: fill the rest of the region
      // with padding now, and publish it so that the consumer can skip it and free the space.
      const Status status = ensure_space(room);
      if (status != Status::ok)
        return fail(status, count_stall);
      const Header pad{static_cast<std::uint32_t>(room - sizeof(Header)), 0, detail::kRecordPadding,
                       0};
      std::memcpy(data_ + (pending_ & mask_), &pad, sizeof pad);
      pending_ += room;
      ctl_->producer_stats.wraps.add_single_writer(1);
      publish();
    }
    const Status status = ensure_space(need);
    if (status != Status::ok)
      return fail(status, count_stall);
    return WriteSlot(this, data_ + (pending_ & mask_) + sizeof(Header),
                     static_cast<std::uint32_t>(size), pending_);
  }

  /// The sequence number this producer continues with. The stored ones are lower bounds (each
  /// side stores its number after its index, so a crash in between leaves it behind); the
  /// unread records carry the exact answer when there are any. False if they are corrupt.
  bool recover_next_seq() noexcept {
    // relaxed: both loads follow the acquire loads of the indices they were stored after.
    next_seq_ = std::max(ctl_->producer_index.next_seq.load(std::memory_order_relaxed),
                         ctl_->consumer_index.next_seq.load(std::memory_order_relaxed));
    for (std::uint64_t at = cached_read_; at != published_;) {
      detail::ParsedRecord record;
      if (!detail::parse_record(data_, capacity_, at, published_, record))
        return false;
      if ((record.header.flags & detail::kRecordPadding) == 0)
        next_seq_ = std::max(next_seq_, record.header.seq + 1);
      at = record.end;
    }
    return true;
  }

  Status copy_and_commit(WriteSlot &&slot, std::span<const std::byte> payload,
                         std::uint16_t type) noexcept {
    if (!slot)
      return slot.status();
    if (!payload.empty())
      std::memcpy(slot.bytes().data(), payload.data(), payload.size());
    commit(std::move(slot), type);
    return Status::ok;
  }

  WriteSlot fail(Status status, bool count_stall) noexcept {
    if (status == Status::full) {
      // Staged records must become visible: the space we lack can only come from the consumer
      // reading them.
      publish();
      if (count_stall)
        ctl_->producer_stats.stalls.add_single_writer(1);
    }
    return WriteSlot(status);
  }

  /// ok while a consumer may still read; peer_dead if its process died; closed if it detached.
  [[nodiscard]] Status consumer_gone() noexcept {
    const detail::OwnerLine &line = ctl_->consumer_owner;
    if (detail::holder_dead(line, peer_))
      return Status::peer_dead;
    // acquire: a consumer detaches by storing `closed` and then releasing the owner word.
    if (line.owner.load(std::memory_order_acquire) == 0 &&
        line.closed.load(std::memory_order_relaxed) != 0)
      return Status::closed;
    return Status::ok;
  }

  /// ok when `need` bytes are free at pending_, full when not, corrupt when the consumer's read
  /// index is impossible.
  Status ensure_space(std::uint64_t need) noexcept {
    if (capacity_ - (pending_ - cached_read_) >= need)
      return Status::ok;
    // [sync:read_index] acquire: the consumer's reads of the records it released happen before
    // we overwrite them. Pairs with the seq_cst (release) store in RingReader::publish_read().
    const std::uint64_t read = ctl_->consumer_index.index.load(std::memory_order_acquire);
    // Untrusted: the read index may only move forward, and never past what we published.
    if (read - cached_read_ > published_ - cached_read_ || (read % kRecordAlign) != 0) {
      corrupt_ = true;
      return Status::corrupt;
    }
    cached_read_ = read;
    return capacity_ - (pending_ - cached_read_) >= need ? Status::ok : Status::full;
  }

  void sleep_for_space(Deadline until) noexcept {
    // [sync:space_wake] acquire (the ticket, in sleep_unless_changed()): pairs with the release
    // increment in RingReader::wake_producer(); a ticket that already includes a wake comes with
    // the read index that caused it.
    // [sync:producer_sleep] seq_cst store of our flag (in sleep_unless_changed()), then the
    // seq_cst load of the read index below: pairs with RingReader::publish_read() (see
    // [sync:consumer_sleep] for the argument).
    detail::sleep_unless_changed(
        ctl_->producer_owner, ctl_->consumer_owner, peer_, ctl_->producer_stats, until, [this] {
          return ctl_->consumer_index.index.load(std::memory_order_seq_cst) == cached_read_;
        });
  }

  void wake_consumer() noexcept {
    // [sync:data_wake] release (the increment in wake_other()): a consumer that acquires the new
    // ticket also sees the index and the closed flag stored before it. Pairs with the acquire
    // in RingReader::sleep_for_data().
    detail::wake_other(ctl_->consumer_owner, ctl_->producer_owner, ctl_->producer_stats);
  }

  detail::RingControl *ctl_ = nullptr;
  std::byte *data_ = nullptr;
  std::uint64_t capacity_ = 0;
  std::uint64_t mask_ = 0;
  std::uint64_t token_ = 0;
  std::uint64_t published_ = 0;   // write index as last stored in shared memory
  std::uint64_t pending_ = 0;     // published_ + staged records
  std::uint64_t cached_read_ = 0; // the consumer's read index, as last loaded
  std::uint64_t next_seq_ = 0;
  std::uint64_t staged_records_ = 0;
  std::uint64_t staged_bytes_ = 0;
  std::uint64_t staged_padding_ = 0;
  bool corrupt_ = false;
  bool closed_ = false;         // close() was called: the role is given back, stats() still work
  bool restart_pending_ = true; // the next record is this producer's first (kRecordRestart)
  detail::PeerWatch peer_;      // the consumer process, for peer_dead
};

} // namespace shmpipe
