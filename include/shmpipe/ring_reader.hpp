// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// RingReader: the consumer end of an SPSC byte ring in a Segment.
#pragma once

// Design: the consumer owns the read index and the next expected sequence number. It keeps a
// process-local copy of the write index and reloads it only when that copy says the ring is
// empty. peek hands out a span that points into shared memory; release gives the space back
// with one store of the read index. A batch walks every record published so far and releases
// them all with one store.
//
// The producer is untrusted. Every value read from shared memory is copied into process-local
// memory exactly once and checked there before use, so a producer that rewrites the ring
// concurrently cannot make us read outside the data region:
//   - the write index moves forward only, stays 16-aligned, and is at most capacity bytes
//     ahead of the read index;
//   - a record header lies wholly inside the published range, has no unknown flag bits, its
//     record does not run past the end of the data region nor past the write index, a padding
//     record ends exactly at the end of the region, and its sequence number is the next one.
// Any violation makes the reader return Status::corrupt from then on. (The payload bytes
// themselves can still change under the reader if the producer misbehaves; any format read
// from them must be verified, which message.hpp does for FlatBuffers.)

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include <shmpipe/detail/layout.hpp>
#include <shmpipe/detail/ready_fd.hpp>
#include <shmpipe/detail/record.hpp>
#include <shmpipe/detail/role.hpp>
#include <shmpipe/detail/sleep.hpp>
#include <shmpipe/error.hpp>
#include <shmpipe/ring_stats.hpp>
#include <shmpipe/segment.hpp>
#include <shmpipe/wait.hpp>

namespace shmpipe {

class RingReader;
class ReadBatch;

/// One record, read in place. Valid until it is released (or its batch is). Move-only.
class ReadSlot {
public:
  ReadSlot() noexcept = default;
  ReadSlot(ReadSlot &&other) noexcept { *this = std::move(other); }
  ReadSlot &operator=(ReadSlot &&other) noexcept {
    data_ = other.data_;
    size_ = other.size_;
    type_ = other.type_;
    status_ = other.status_;
    seq_ = other.seq_;
    index_ = other.index_;
    end_ = other.end_;
    other.data_ = nullptr;
    other.status_ = Status::closed;
    return *this;
  }
  ReadSlot(const ReadSlot &) = delete;
  ReadSlot &operator=(const ReadSlot &) = delete;
  ~ReadSlot() = default;

  /// True when a record is held (status() == Status::ok).
  explicit operator bool() const noexcept { return data_ != nullptr; }
  /// Why there is no record, when there is none; closed for a slot that was moved from (or
  /// default-constructed).
  [[nodiscard]] Status status() const noexcept { return status_; }
  /// The payload, in shared memory, 16-byte aligned.
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  [[nodiscard]] std::uint16_t type() const noexcept { return type_; }
  /// Position of the record in its ring's stream: 0, 1, 2, ... with no gaps.
  [[nodiscard]] std::uint64_t seq() const noexcept { return seq_; }

private:
  friend class RingReader;
  friend class ReadBatch;
  explicit ReadSlot(Status failure) noexcept : status_(failure) {}

  const std::byte *data_ = nullptr;
  std::uint32_t size_ = 0;
  std::uint16_t type_ = 0;
  Status status_ = Status::closed;
  std::uint64_t seq_ = 0;
  std::uint64_t index_ = 0; // ring index of the record header
  std::uint64_t end_ = 0;   // ring index just past the record
};

/// The records published when the batch was taken, handed out one by one with next() and
/// released together by RingReader::release(ReadBatch&&). Move-only; it refers to its reader,
/// which must not be moved or destroyed while the batch is in use. A batch is current until
/// it (or a record peeked meanwhile) is released; after that next() returns nothing.
class ReadBatch {
public:
  ReadBatch(ReadBatch &&other) noexcept = default;
  ReadBatch &operator=(ReadBatch &&other) noexcept = default;
  ReadBatch(const ReadBatch &) = delete;
  ReadBatch &operator=(const ReadBatch &) = delete;
  ~ReadBatch() = default;

  /// ok when the batch holds at least one record; otherwise empty, closed, peer_dead, timeout
  /// or corrupt, as for RingReader::try_peek().
  [[nodiscard]] Status status() const noexcept { return status_; }
  /// The next record, or an empty slot when the batch is exhausted or no longer current
  /// (status empty) or the next header is corrupt (status corrupt; the reader is corrupt from
  /// then on).
  [[nodiscard]] inline ReadSlot next() noexcept;
  /// Records handed out by next() so far.
  [[nodiscard]] std::size_t count() const noexcept { return count_; }

private:
  friend class RingReader;
  ReadBatch(RingReader *reader, Status status, std::uint64_t begin, std::uint64_t end,
            std::uint64_t seq, std::size_t max_records) noexcept
      : reader_(reader), status_(status), begin_(begin), cursor_(begin), end_(end), seq_(seq),
        max_records_(max_records) {}

  RingReader *reader_;
  Status status_;
  std::uint64_t begin_;
  std::uint64_t cursor_;
  std::uint64_t end_;
  std::uint64_t seq_;
  std::size_t max_records_;
  std::size_t count_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t wraps_ = 0;
};

/// How a RingReader reads its ring.
struct ReaderOptions {
  /// Read the records through a read-only mapping of the ring's data region of the reader's
  /// own (one more mmap, held until the reader is destroyed): a stray write by this process
  /// into a record it holds then faults with SIGSEGV instead of corrupting it. The control
  /// block stays in the segment's read-write mapping (the reader stores its index there), and
  /// the segment itself stays mapped read-write: this catches bugs, it does not stop code
  /// that means to write. ThreadSanitizer sees the producer's writes and the reader's reads
  /// at different addresses, so it cannot check these bytes against each other.
  bool read_only_data = false;
};

/// The consumer end of ring `index` of a segment. Claims the consumer role on construction
/// (one live consumer per ring, across all processes) and gives it back on destruction.
/// Move-only; the Segment must outlive it. Consumer only: one thread at a time.
class RingReader {
public:
  /// Throws Error: role_taken if a live process is the consumer; corrupt if the control block
  /// is inconsistent; invalid_argument for a bad ring index; what mmap failed with for
  /// `options.read_only_data`.
  explicit RingReader(Segment &segment, std::uint32_t ring = 0, const ReaderOptions &options = {}) {
    const detail::RingMemory mem = segment.ring(ring);
    ctl_ = mem.control;
    data_ = mem.data;
    capacity_ = mem.capacity;
    if (options.read_only_data) {
      // Mapped before the role is claimed, so a failure has nothing to give back. Both
      // mappings are MAP_SHARED views of the same pages of the object: the producer's stores
      // through its read-write mapping (in another process or in this one) are the bytes read
      // here, and [sync:write_index] orders them as it does through a single mapping (the
      // data caches of x86-64 and AArch64 do not alias: two virtual addresses of one page are
      // one location). The mapping moves with the reader; its address does not.
      data_view_ =
          segment.map_read_only(static_cast<std::uint64_t>(mem.data - segment.base()), capacity_);
      data_ = data_view_.data();
    }
    mask_ = capacity_ - 1;
    segment_name_ = segment.name();
    token_ = detail::claim_role(ctl_->consumer_owner, "consumer", segment.name(), ring);
    // acquire: the read index comes with what the last consumer stored before it, also when
    // that consumer has since died ([sync:read_index]); its sequence number follows it.
    read_ = ctl_->consumer_index.index.load(std::memory_order_acquire);
    expected_seq_ = ctl_->consumer_index.next_seq.load(std::memory_order_relaxed);
    // [sync:write_index] acquire, as in reload_write_index().
    cached_write_ = ctl_->producer_index.index.load(std::memory_order_acquire);
    if (cached_write_ - read_ > capacity_ || (read_ % kRecordAlign) != 0 ||
        (cached_write_ % kRecordAlign) != 0) {
      detail::release_role(ctl_->consumer_owner, token_);
      throw Error(Errc::corrupt, segment.name(),
                  "ring " + std::to_string(ring) + ": read index " + std::to_string(read_) +
                      " and write index " + std::to_string(cached_write_) +
                      " are inconsistent for capacity " + std::to_string(capacity_));
    }
    // relaxed: informational for the producer, which judges by the owner word.
    ctl_->consumer_owner.closed.store(0, std::memory_order_relaxed);
    // The peer as it is at attach: if a stray write zeroes its owner word before this side
    // first waits, its death is still reported (PeerWatch::dead(0) judges the holder seen last).
    static_cast<void>(detail::holder_dead(ctl_->producer_owner, peer_));
  }

  RingReader(RingReader &&other) noexcept { take(other); }
  RingReader &operator=(RingReader &&other) noexcept {
    if (this != &other) {
      close();
      take(other);
    }
    return *this;
  }
  RingReader(const RingReader &) = delete;
  RingReader &operator=(const RingReader &) = delete;
  ~RingReader() { close(); }

  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }

  /// The oldest unreleased record, without removing it: peeking again returns the same record
  /// until it is released. Never blocks. Empty slot with status empty (nothing published),
  /// closed (the producer closed and everything was read) or corrupt.
  [[nodiscard]] ReadSlot try_peek() noexcept { return peek_once(true); }

  /// Like try_peek(), but waits for a record as `policy` says, until `deadline`. Also fails
  /// with timeout, or peer_dead when the producer process died and nothing is left to read.
  [[nodiscard]] ReadSlot peek(WaitLimit limit, const WaitPolicy &policy = {}) noexcept {
    ReadSlot slot = peek_once(true);
    if (slot.status() != Status::empty)
      return slot;
    // One schedule (spin, yield, sleep) and one deadline for the whole call, however often
    // the producer publishes only a padding record.
    detail::Backoff backoff(policy, limit);
    for (;;) {
      if (const Status status = wait_for_data(backoff); status != Status::ok)
        return ReadSlot(status);
      slot = peek_once(false);
      if (slot.status() != Status::empty)
        return slot;
    }
  }

  /// Frees the space of a record from try_peek()/peek() and publishes the new read index.
  void release(ReadSlot &&slot) noexcept {
    assert((!slot || slot.index_ == read_) && "release of a slot that is not the oldest record");
    if (!slot || slot.index_ != read_ || closed_)
      return;
    read_ = slot.end_;
    expected_seq_ = slot.seq_ + 1;
    resync_seq_ = false;
    ctl_->consumer_stats.records.add_single_writer(1);
    ctl_->consumer_stats.bytes.add_single_writer(slot.size_);
    slot.data_ = nullptr;
    slot.status_ = Status::closed;
    publish_read();
  }

  /// release() for a record the application refuses (message.hpp: it failed verification):
  /// the same, and counted in the consumer's statistics as rejected.
  void reject(ReadSlot &&slot) noexcept {
    if (!slot || slot.index_ != read_ || closed_)
      return;
    ctl_->consumer_stats.regrown_or_rejected.add_single_writer(1);
    release(std::move(slot));
  }

  /// Every record published so far (at most `max_records`), to be walked with
  /// ReadBatch::next() and released at once. Never blocks.
  [[nodiscard]] ReadBatch
  try_peek_batch(std::size_t max_records = std::numeric_limits<std::size_t>::max()) noexcept {
    return batch_once(max_records, true);
  }

  /// Like try_peek_batch(), but waits for at least one record, as peek() does.
  [[nodiscard]] ReadBatch
  peek_batch(WaitLimit limit, const WaitPolicy &policy = {},
             std::size_t max_records = std::numeric_limits<std::size_t>::max()) noexcept {
    ReadBatch batch = batch_once(max_records, true);
    if (batch.status() != Status::empty)
      return batch;
    detail::Backoff backoff(policy, limit);
    for (;;) {
      if (const Status status = wait_for_data(backoff); status != Status::ok)
        return ReadBatch(this, status, read_, read_, expected_seq_, 0);
      batch = batch_once(max_records, false);
      if (batch.status() != Status::empty)
        return batch;
    }
  }

  /// Releases every record the batch handed out, with one store of the read index.
  void release(ReadBatch &&batch) noexcept {
    assert((batch.reader_ != this || batch.cursor_ == batch.begin_ || batch.begin_ == read_) &&
           "release of a batch that is not the current one");
    if (batch.reader_ != this || batch.begin_ != read_ || batch.cursor_ == read_ || closed_)
      return;
    read_ = batch.cursor_;
    expected_seq_ = batch.seq_;
    resync_seq_ = resync_seq_ && batch.count_ == 0;
    detail::StatsLine &stats = ctl_->consumer_stats;
    stats.records.add_single_writer(batch.count_);
    stats.bytes.add_single_writer(batch.bytes_);
    stats.wraps.add_single_writer(batch.wraps_);
    // The batch is spent: next() must not parse space the producer may now reuse.
    batch.status_ = Status::empty;
    batch.end_ = batch.cursor_;
    publish_read();
  }

  /// Gives the consumer role back; stats() still works afterwards, everything else returns
  /// Status::closed. Idempotent. Records not released stay in the ring for the next consumer;
  /// a producer waiting for space is told (Status::closed) at its next liveness check. In a
  /// process that no longer holds the role (a forked child, or after a takeover) it touches
  /// nothing shared.
  void close() noexcept {
    if (ctl_ == nullptr || closed_)
      return;
    if (detail::still_holder(ctl_->consumer_owner, token_)) {
      if (ready_ != nullptr)
        detail::disarm_ready(ctl_->consumer_owner);
      // relaxed: made visible by the owner word's release in release_role().
      ctl_->consumer_owner.closed.store(1, std::memory_order_relaxed);
      detail::release_role(ctl_->consumer_owner, token_);
    }
    closed_ = true;
  }

  /// Either side; a snapshot that may be stale.
  [[nodiscard]] RingStats stats() const noexcept {
    return ctl_ != nullptr ? detail::read_stats(*ctl_) : RingStats{};
  }

  /// Bytes published and not yet released, as of the last reload. Consumer only; may
  /// under-estimate (the producer may have published more since).
  [[nodiscard]] std::uint64_t size_approx() const noexcept { return cached_write_ - read_; }

  /// A descriptor for an event loop (epoll, poll, asyncio, Boost.Asio): readable when a try
  /// call may find something new (a record, the close, or the producer's death). Once it
  /// polls readable, call try_peek() / try_peek_batch() until one finds nothing: that call
  /// re-arms it (a few system calls, only once the descriptor exists). With it, a try call
  /// that finds nothing also reports peer_dead when the producer died. Made on the first
  /// call (throws Error(system) if it cannot be), owned by the reader, the same every call;
  /// the producer pays one sendto() per wake-up, and nothing while nobody waits on it.
  [[nodiscard]] int ready_fd() {
    if (ready_ == nullptr) {
      own_ready_ = std::make_unique<detail::ReadyFd>(segment_name_);
      ready_ = own_ready_.get();
    }
    return ready_->fd();
  }

private:
  friend class ReadBatch;
  friend class SessionEnd; // Core, Worker and Supervisor wait on one descriptor with timers
  friend class Supervisor;

  /// Waits on `ready` (a session's, which outlives this reader) instead of a descriptor of
  /// its own.
  void share_ready(detail::ReadyFd &ready) noexcept {
    own_ready_.reset();
    ready_ = &ready;
    peer_owner_seen_ = ~std::uint64_t{0}; // register the producer's pidfd with it
  }
  [[nodiscard]] detail::ReadyFd *ready_state() noexcept { return ready_; }
  using Header = detail::RecordHeader;

  using Parsed = detail::ParsedRecord;

  void take(RingReader &other) noexcept {
    ctl_ = std::exchange(other.ctl_, nullptr);
    data_ = other.data_;
    capacity_ = other.capacity_;
    mask_ = other.mask_;
    token_ = other.token_;
    read_ = other.read_;
    cached_write_ = other.cached_write_;
    expected_seq_ = other.expected_seq_;
    resync_seq_ = other.resync_seq_;
    corrupt_ = other.corrupt_;
    closed_ = other.closed_;
    peer_ = std::move(other.peer_);
    segment_name_ = std::move(other.segment_name_);
    ready_ = std::exchange(other.ready_, nullptr);
    own_ready_ = std::move(other.own_ready_);
    peer_owner_seen_ = other.peer_owner_seen_;
    producer_gone_ = other.producer_gone_;
    data_view_ = std::move(other.data_view_); // unmaps ours, if any; data_ points into it
    other.closed_ = true; // a moved-from reader is closed: every call is a no-op or `closed`
  }

  /// Checks the record at ring index `at`, which must lie before `limit` (a validated write
  /// index), and its sequence number: the expected one; any one on the first record of a new
  /// producer (kRecordRestart); or, for our own first record after attach, any later one (a
  /// consumer that crashed may have published its read index but not its sequence number).
  Status parse(std::uint64_t at, std::uint64_t limit, std::uint64_t expected_seq,
               Parsed &out) noexcept {
    if (!detail::parse_record(data_, capacity_, at, limit, out))
      return corrupt();
    const std::uint16_t flags = out.header.flags;
    if ((flags & (detail::kRecordPadding | detail::kRecordRestart)) != 0 ||
        out.header.seq == expected_seq)
      return Status::ok;
    if (resync_seq_ && at == read_ && out.header.seq > expected_seq)
      return Status::ok;
    return corrupt();
  }

  Status corrupt() noexcept {
    corrupt_ = true;
    return Status::corrupt;
  }

  /// ok with a new, validated cached_write_; empty when nothing new; corrupt.
  Status reload_write_index() noexcept {
    // [sync:write_index] acquire: the records the producer wrote before publishing this index
    // are visible to us. Pairs with the seq_cst (release) store in RingWriter::publish().
    const std::uint64_t write = ctl_->producer_index.index.load(std::memory_order_acquire);
    // Untrusted: forward only, aligned, and at most a ring ahead of what we released.
    if (write - cached_write_ > capacity_ || write - read_ > capacity_ ||
        (write % kRecordAlign) != 0)
      return corrupt();
    cached_write_ = write;
    return write == read_ ? Status::empty : Status::ok;
  }

  /// empty or closed, judged after one more look at the write index.
  Status empty_or_closed() noexcept {
    // acquire: pairs with the release store of `closed` in RingWriter::close(), which follows
    // its final publish.
    if (ctl_->producer_owner.closed.load(std::memory_order_acquire) == 0)
      return Status::empty;
    const Status status = reload_write_index();
    return status == Status::empty ? Status::closed : status;
  }

  /// ok with the oldest record parsed into `out`; otherwise empty, closed or corrupt.
  /// `reload`: look at the write index even if records are known to be there (batches take
  /// everything published).
  Status first_available(Parsed &out, bool reload) noexcept {
    Status status = reload || read_ == cached_write_ ? reload_write_index() : Status::ok;
    // Two rounds: the second one reads what the closed check found. An honest producer
    // publishes nothing after closing, so a third round could only serve a hostile one.
    for (int round = 0; round < 2; ++round) {
      if (status == Status::ok)
        status = first_record(out);
      if (status != Status::empty)
        return status;
      // Nothing (or only padding): closed? Records published before the close still count,
      // so this may find new ones, whose first record is parsed in the next round.
      status = empty_or_closed();
      if (status != Status::ok)
        return status;
    }
    return Status::empty;
  }

  ReadSlot peek_once(bool count_stall) noexcept {
    if (ctl_ == nullptr || closed_)
      return ReadSlot(Status::closed);
    if (corrupt_)
      return ReadSlot(Status::corrupt);
    Parsed parsed{};
    Status status = first_available(parsed, false);
    if (status == Status::empty && ready_ != nullptr && (status = rearm()) == Status::ok)
      status = first_available(parsed, false);
    if (status != Status::ok) {
      if (status == Status::empty && count_stall)
        ctl_->consumer_stats.stalls.add_single_writer(1);
      return ReadSlot(status);
    }
    ReadSlot slot;
    slot.data_ = data_ + (read_ & mask_) + sizeof(Header);
    slot.size_ = parsed.header.length;
    slot.type_ = parsed.header.type;
    slot.status_ = Status::ok;
    slot.seq_ = parsed.header.seq;
    slot.index_ = read_;
    slot.end_ = parsed.end;
    return slot;
  }

  ReadBatch batch_once(std::size_t max_records, bool count_stall) noexcept {
    if (ctl_ == nullptr || closed_ || corrupt_)
      return ReadBatch(this, corrupt_ ? Status::corrupt : Status::closed, read_, read_,
                       expected_seq_, 0);
    Parsed first{};
    Status status = first_available(first, true);
    if (status == Status::empty && ready_ != nullptr && (status = rearm()) == Status::ok)
      status = first_available(first, true);
    if (status == Status::empty && count_stall)
      ctl_->consumer_stats.stalls.add_single_writer(1);
    return ReadBatch(this, status, read_, status == Status::ok ? cached_write_ : read_,
                     expected_seq_, max_records);
  }

  /// Parses the record at the read index into `out`, first releasing the padding records there
  /// (the producer may be waiting for exactly that space). ok, empty (only padding was
  /// published) or corrupt. Padding can come in a row (the end of the region, then the unused
  /// front of a message built back to front); each one is at least 16 bytes long and lies
  /// before the validated write index, so whatever the producer wrote, the loop ends within
  /// capacity / 16 rounds.
  Status first_record(Parsed &out) noexcept {
    std::uint64_t skipped = 0;
    Status status = Status::ok;
    for (;;) {
      if (parse(read_, cached_write_, expected_seq_, out) != Status::ok) {
        status = Status::corrupt;
        break;
      }
      if ((out.header.flags & detail::kRecordPadding) == 0)
        break;
      read_ = out.end;
      ++skipped;
      if (read_ == cached_write_) {
        status = Status::empty;
        break;
      }
    }
    if (skipped != 0) {
      ctl_->consumer_stats.wraps.add_single_writer(skipped);
      publish_read();
    }
    return status;
  }

  /// ok once something is published; otherwise closed, timeout, peer_dead or corrupt.
  Status wait_for_data(detail::Backoff &backoff) noexcept {
    for (;;) {
      switch (backoff.next()) {
      case detail::Backoff::Step::retry:
        break;
      case detail::Backoff::Step::timeout:
        // A last look, so that short deadlines in a loop still notice a dead producer.
        return producer_dead() ? drained_or(Status::peer_dead) : Status::timeout;
      case detail::Backoff::Step::sleep:
        sleep_for_data(backoff.sleep_until());
        break;
      }
      Status status = reload_write_index();
      if (status == Status::empty)
        status = empty_or_closed();
      if (status != Status::empty)
        return status;
      if (backoff.liveness_due() && producer_dead())
        return drained_or(Status::peer_dead);
    }
  }

  /// After a try call found nothing, with a ready descriptor: takes what made it readable,
  /// arms the next wake-up and watches the producer's process, then looks once more. ok when
  /// something was published meanwhile; otherwise empty, closed or peer_dead.
  Status rearm() noexcept {
    const detail::ReadyEvents events = ready_->collect();
    detail::arm_ready(ctl_->consumer_owner, ctl_->producer_owner, ready_->token());
    // seq_cst: after our armed store, as the index load below; pairs with the fence after
    // RingWriter's claim, which then loads `armed`: a producer that attached unseen here
    // sends us a wake-up, so its pidfd is added on the next round.
    const std::uint64_t owner = ctl_->producer_owner.owner.load(std::memory_order_seq_cst);
    if (owner != peer_owner_seen_ || events.peer) {
      peer_owner_seen_ = owner;
      producer_gone_ = producer_dead();
      // The pidfd stays in the set while the producer lives; once its death is reported it
      // goes, or the descriptor would stay readable for good.
      static_cast<void>(ready_->watch_peer(owner, producer_gone_ ? -1 : peer_.fd()));
    }
    // [sync:ready_arm] seq_cst, after the seq_cst store of `armed` in arm_ready(): pairs with
    // RingWriter::publish() (index store, then the armed load in notify_if_armed()) and
    // RingWriter::close() (closed store, then the same load). Either we see the index or the
    // flag here, or the producer sees our generation and sends the datagram.
    if (ctl_->producer_index.index.load(std::memory_order_seq_cst) != cached_write_ ||
        ctl_->producer_owner.closed.load(std::memory_order_seq_cst) != 0) {
      const Status status = reload_write_index();
      return status == Status::empty ? empty_or_closed() : status;
    }
    return producer_gone_ ? Status::peer_dead : Status::empty;
  }

  [[nodiscard]] bool producer_dead() noexcept {
    return detail::holder_dead(ctl_->producer_owner, peer_);
  }

  /// `status`, unless the producer published more just before it died.
  Status drained_or(Status status) noexcept {
    const Status reloaded = reload_write_index();
    return reloaded == Status::empty ? status : reloaded;
  }

  void sleep_for_data(Deadline until) noexcept {
    // [sync:data_wake] acquire (the ticket, in sleep_unless_changed()): pairs with the release
    // increment in RingWriter::wake_consumer(); a ticket that includes a wake comes with the
    // index or closed flag that caused it.
    // [sync:consumer_sleep] seq_cst store of our flag (in sleep_unless_changed()), then the
    // seq_cst load of the write index below: pairs with RingWriter::publish(). Either we see its
    // index here, or it sees our flag and wakes us.
    detail::sleep_unless_changed(
        ctl_->consumer_owner, ctl_->producer_owner, peer_, ctl_->consumer_stats, until, [this] {
          // acquire: pairs with the release store of `closed` in RingWriter::close().
          return ctl_->producer_index.index.load(std::memory_order_seq_cst) == cached_write_ &&
                 ctl_->producer_owner.closed.load(std::memory_order_acquire) == 0;
        });
  }

  void publish_read() noexcept {
    // [sync:read_index] release: our reads of the released records happen before the producer
    // reuses their space. Pairs with the acquire in RingWriter::ensure_space().
    // [sync:producer_sleep] the index store, ordered before the load of the producer's flag in
    // wake_if_sleeping() below (publish_index()): pairs with RingWriter::sleep_for_space(), as
    // [sync:consumer_sleep] does in the other direction.
    detail::publish_index(ctl_->consumer_index.index, read_, ctl_->producer_owner);
    // relaxed, and after the index: read only by a process that takes over a role, which
    // treats it as a lower bound (a crash between the two stores leaves it behind, never ahead).
    ctl_->consumer_index.next_seq.store(expected_seq_, std::memory_order_relaxed);
    detail::wake_if_sleeping(ctl_->producer_owner, ctl_->consumer_owner, ctl_->consumer_stats);
  }

  void wake_producer() noexcept {
    // [sync:space_wake] release (the increment in wake_other()): pairs with the acquire in
    // RingWriter::sleep_for_space().
    detail::wake_other(ctl_->producer_owner, ctl_->consumer_owner, ctl_->consumer_stats);
  }

  detail::RingControl *ctl_ = nullptr;
  const std::byte *data_ = nullptr;
  std::uint64_t capacity_ = 0;
  std::uint64_t mask_ = 0;
  std::uint64_t token_ = 0;
  std::uint64_t read_ = 0;         // read index as last published
  std::uint64_t cached_write_ = 0; // the producer's write index, as last loaded and validated
  std::uint64_t expected_seq_ = 0;
  bool resync_seq_ = true; // until the first release after attach, see parse()
  bool corrupt_ = false;
  bool closed_ = false;    // close() was called: the role is given back, stats() still work
  detail::PeerWatch peer_; // the producer process, for peer_dead
  // ReaderOptions::read_only_data: what data_ points into, else empty. Kept past close() so
  // that slots handed out before stay readable, as they are in the read-write mapping.
  detail::ReadOnlyMapping data_view_;
  std::string segment_name_; // for errors from ready_fd()
  // The descriptor try calls re-arm: own_ready_'s, or a session's (share_ready()); none until
  // ready_fd() is first called, and then try calls cost nothing more.
  detail::ReadyFd *ready_ = nullptr;
  std::unique_ptr<detail::ReadyFd> own_ready_;
  std::uint64_t peer_owner_seen_ = ~std::uint64_t{0}; // producer owner word, as rearm() saw it
  bool producer_gone_ = false; // rearm() found that producer dead (and reported it)
};

inline ReadSlot ReadBatch::next() noexcept {
  if (status_ != Status::ok)
    return ReadSlot(status_ == Status::corrupt ? Status::corrupt : Status::empty);
  if (reader_->read_ != begin_ || reader_->closed_) {
    // Not current any more: its space may be reused, so it is not parsed (nor judged).
    status_ = Status::empty;
    return ReadSlot(Status::empty);
  }
  while (cursor_ != end_ && count_ < max_records_) {
    RingReader::Parsed parsed{};
    if (reader_->parse(cursor_, end_, seq_, parsed) != Status::ok) {
      status_ = Status::corrupt;
      return ReadSlot(Status::corrupt);
    }
    const std::uint64_t at = cursor_;
    cursor_ = parsed.end;
    if ((parsed.header.flags & detail::kRecordPadding) != 0) {
      ++wraps_;
      continue;
    }
    ReadSlot slot;
    slot.data_ = reader_->data_ + (at & reader_->mask_) + sizeof(detail::RecordHeader);
    slot.size_ = parsed.header.length;
    slot.type_ = parsed.header.type;
    slot.status_ = Status::ok;
    slot.seq_ = parsed.header.seq;
    slot.index_ = at;
    slot.end_ = cursor_;
    seq_ = parsed.header.seq + 1;
    ++count_;
    bytes_ += parsed.header.length;
    return slot;
  }
  return ReadSlot(Status::empty);
}

} // namespace shmpipe
