// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Typed FlatBuffers messages over a ring: built in place in shared memory, verified on receipt.
#pragma once

// Design: FlatBuffers builds a buffer back to front, from the end of its memory towards the
// start. For a message built in place, RingAllocator gives the builder a ring reservation as
// that memory, so the finished buffer lies at the *end* of the reservation;
// RingWriter::commit_tail() then publishes exactly those bytes where they are, and the unused
// front goes back to the ring as a padding record.
//
//   reservation:  |hdr|prefix|........ unused (scratch) ........|== FlatBuffer (N bytes) ==|
//   committed:    |PADDING record ..............|hdr|prefix|== FlatBuffer ==|
//
// A message whose size hint is at most kCopyHintMax (2 KiB) is not built in place: each
// thread keeps a builder whose memory starts in a 4 KiB block of its own, reused from message
// to message (cleared, not rebuilt; the block stays allocated and cache-hot), and the finished
// buffer is copied into the ring once. Building in place costs a fresh builder, its first
// allocation through the allocator's virtual calls, and a padding record per message (written
// by the producer, parsed and skipped by the consumer), about 200 instructions in all; copying
// 1 KiB from a hot block costs about 40. bench/message_bench measures the paths at 80 B,
// 1 KiB, 64 KiB and 1 MiB (docs/bench/message_bench.txt): the copy saves 20% at 80 B and is
// about even at 1 KiB; in place wins from about 3 KiB on. A message that outgrows the block moves
// into the ring as below, so a hint that is too small costs what it costs in place, not a growing
// heap buffer.
//
// `prefix` is an optional frame of a multiple of 16 bytes that travels right before the
// buffer (the session's request id); plain channels use none. The builder's memory and the
// finished buffer are 16-aligned and a multiple of 16 long (buffer_minalign and TrackMinAlign),
// which is what lets the front be a whole padding record.
//
// When a message outgrows its memory (the reservation, or the block), the allocator asks the
// ring for a larger reservation without waiting (the builder copies what it built so far, as
// it would on the heap): the message is then "regrown". If the ring has no room right now,
// building goes on on the heap and the finished buffer is copied into the ring once
// ("copied"), waiting for space as the caller's deadline allows. Both are counted in the
// producer's statistics; the copy of a message that stayed in its block is by design and not
// counted. Pointers that the builder handed out (CreateUninitializedVector) move with the
// buffer: fill them before creating anything else, or size the hint so that nothing moves.
//
// The consumer trusts nothing: a typed receive runs flatbuffers::Verifier over the record
// (bounds, alignment, depth and table limits, the root type's file identifier) before it hands
// out a `const Root *` into shared memory. A record that fails is released at once, counted
// as rejected, and reported as Status::invalid_message with its sequence number and type; the
// next receive goes on with the next record.

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include <shmpipe/config.hpp>
#include <shmpipe/error.hpp>
#include <shmpipe/message_traits.hpp>
#include <shmpipe/ring_reader.hpp>
#include <shmpipe/ring_writer.hpp>
#include <shmpipe/wait.hpp>

namespace shmpipe {

/// The largest SendOptions::size_hint for which send() builds the message off the ring, in
/// the calling thread's reused builder, and copies it in once (see the design note above).
inline constexpr std::size_t kCopyHintMax = 2048;

/// How a message is built into the ring.
struct SendOptions {
  /// About the message's size. At most kCopyHintMax (2 KiB): the message is built in this
  /// thread's reused builder and copied into the ring once, which measures faster than in place
  /// for small messages. Larger: that many bytes (rounded up to 16, at most what the ring
  /// accepts) are reserved and the message is built in place; less than the message makes it
  /// regrow or copy, more holds ring space while building (it is handed back at commit).
  std::size_t size_hint = 1024;
  std::uint16_t type = 0; ///< the record's type field, for the application
  /// When set, also receives a copy of the finished buffer (one memcpy, made before the
  /// commit), e.g. to send the message again after the worker that got it died
  /// (Supervisor, OnWorkerLoss::retry_once). Unset: no copy.
  std::vector<std::byte> *keep = nullptr;
};

/// What a typed receive checks. The defaults suit an untrusted peer.
struct VerifyOptions {
  /// false: trust the producer and skip flatbuffers::Verifier. The size and the file
  /// identifier are still checked, which costs nothing.
  bool verify = true;
  flatbuffers::uoffset_t max_depth = 64;       ///< nesting of tables, vectors and unions
  flatbuffers::uoffset_t max_tables = 1000000; ///< tables in one message
  /// Copy the record into private memory, give it back to the ring at once, and verify and
  /// read the copy. For producers that could rewrite a record after the consumer verified it
  /// (reads in place see such changes); costs one copy and one allocation per message.
  bool copy = false;
};

/// The 4-byte file identifier of the FlatBuffer in `buffer`, or empty if it is too short to
/// have one. Peer data: only a hint for dispatch; verification decides.
[[nodiscard]] inline std::string_view file_identifier(std::span<const std::byte> buffer) noexcept {
  if (buffer.size() < sizeof(flatbuffers::uoffset_t) + flatbuffers::kFileIdentifierLength)
    return {};
  return {reinterpret_cast<const char *>(buffer.data()) + sizeof(flatbuffers::uoffset_t),
          flatbuffers::kFileIdentifierLength};
}

/// Checks that `buffer` is a well-formed FlatBuffer of root type `Root` and returns its root,
/// or nullptr. With options.verify == false only the size and identifier are checked.
template <Message Root>
[[nodiscard]] const Root *verify_message(std::span<const std::byte> buffer,
                                         const VerifyOptions &options = {}) noexcept {
  if (file_identifier(buffer) != std::string_view(MessageTraits<Root>::identifier))
    return nullptr;
  const auto *bytes = reinterpret_cast<const std::uint8_t *>(buffer.data());
  if (options.verify) {
    flatbuffers::Verifier verifier(bytes, buffer.size(), options.max_depth, options.max_tables);
    if (!verifier.template VerifyBuffer<Root>(MessageTraits<Root>::identifier))
      return nullptr;
  } else if (flatbuffers::ReadScalar<flatbuffers::uoffset_t>(bytes) >= buffer.size()) {
    return nullptr; // the one offset every read starts from
  }
  return flatbuffers::GetRoot<Root>(bytes);
}

namespace detail {

struct AlignedDelete {
  void operator()(std::byte *p) const noexcept {
    ::operator delete[](p, std::align_val_t{kRecordAlign});
  }
};
/// A private, 16-aligned copy of a record (aligned like the ring, for the verifier's checks).
using AlignedBytes = std::unique_ptr<std::byte[], AlignedDelete>;

/// `bytes` copied into fresh aligned memory; null when there is no memory for it.
[[nodiscard]] inline AlignedBytes aligned_copy(std::span<const std::byte> bytes) noexcept {
  AlignedBytes copy(static_cast<std::byte *>(::operator new[](
      std::max<std::size_t>(bytes.size(), 1), std::align_val_t{kRecordAlign}, std::nothrow)));
  if (copy != nullptr && !bytes.empty())
    std::memcpy(copy.get(), bytes.data(), bytes.size());
  return copy;
}

} // namespace detail

/// A received message: `const Root *` into shared memory, valid while the handle holds the
/// record. Move-only; releases the record when dropped (or on release()). One message at a
/// time per reader: release it before receiving the next. The reader must outlive it.
template <Message Root> class Received {
public:
  Received() noexcept = default;
  Received(Received &&other) noexcept { *this = std::move(other); }
  Received &operator=(Received &&other) noexcept {
    if (this != &other) {
      release();
      reader_ = std::exchange(other.reader_, nullptr);
      slot_ = std::move(other.slot_);
      root_ = std::exchange(other.root_, nullptr);
      bytes_ = other.bytes_;
      copy_ = std::move(other.copy_);
      prefix_ = other.prefix_;
      status_ = std::exchange(other.status_, Status::closed);
      seq_ = other.seq_;
      type_ = other.type_;
    }
    return *this;
  }
  Received(const Received &) = delete;
  Received &operator=(const Received &) = delete;
  ~Received() { release(); }

  /// True when a verified message is held (status() == Status::ok).
  explicit operator bool() const noexcept { return root_ != nullptr; }
  /// ok; invalid_message for a record that failed verification (already released: seq() and
  /// type() say which one); or why there was no record (empty, timeout, closed, ...).
  [[nodiscard]] Status status() const noexcept { return status_; }
  [[nodiscard]] const Root *get() const noexcept { return root_; }
  const Root *operator->() const noexcept { return root_; }
  const Root &operator*() const noexcept { return *root_; }
  /// The FlatBuffer, in shared memory (or in the private copy, with VerifyOptions::copy).
  [[nodiscard]] std::span<const std::byte> buffer() const noexcept {
    return root_ != nullptr ? bytes_.subspan(prefix_) : std::span<const std::byte>{};
  }
  /// The frame in front of the buffer (sessions); empty for plain channels.
  [[nodiscard]] std::span<const std::byte> prefix() const noexcept {
    return root_ != nullptr ? bytes_.first(prefix_) : std::span<const std::byte>{};
  }
  /// Sequence number and type of the record, also for an invalid_message.
  [[nodiscard]] std::uint64_t seq() const noexcept { return seq_; }
  [[nodiscard]] std::uint16_t type() const noexcept { return type_; }

  /// Gives the record back to the ring now; the handle becomes empty (status closed).
  void release() noexcept {
    if (reader_ != nullptr && slot_)
      reader_->release(std::move(slot_));
    reader_ = nullptr;
    root_ = nullptr;
    copy_.reset();
    if (status_ == Status::ok)
      status_ = Status::closed;
  }

  /// A handle holding nothing, with status `why`.
  static Received failed(Status why) noexcept {
    Received out;
    out.status_ = why;
    return out;
  }

  /// Verifies a record already copied out of its ring (`size` bytes of `copy`, the buffer
  /// `prefix` bytes in) and takes the copy: as accept() with VerifyOptions::copy, for records
  /// that had to leave the ring before anyone asked for them (Core keeps responses so).
  static Received adopt(detail::AlignedBytes &&copy, std::size_t size, std::uint64_t seq,
                        std::uint16_t type, const VerifyOptions &options,
                        std::size_t prefix = 0) noexcept {
    Received out;
    out.seq_ = seq;
    out.type_ = type;
    const std::span<const std::byte> payload(copy.get(), copy != nullptr ? size : 0);
    const Root *root =
        payload.size() >= prefix ? verify_message<Root>(payload.subspan(prefix), options) : nullptr;
    if (root == nullptr) {
      out.status_ = Status::invalid_message;
      return out;
    }
    out.status_ = Status::ok;
    out.copy_ = std::move(copy);
    out.bytes_ = payload;
    out.root_ = root;
    out.prefix_ = prefix;
    return out;
  }

  /// Verifies a record peeked from `reader` as a `Root` whose buffer starts `prefix` bytes into
  /// the payload. On failure the record is rejected (released, counted) and the handle says
  /// invalid_message. An empty slot gives a handle with its status.
  static Received accept(RingReader &reader, ReadSlot &&slot, const VerifyOptions &options,
                         std::size_t prefix = 0) noexcept {
    Received out;
    out.status_ = slot.status();
    if (!slot)
      return out;
    out.seq_ = slot.seq();
    out.type_ = slot.type();
    std::span<const std::byte> payload = slot.bytes();
    if (options.copy) {
      // Copied once, before anything is checked: the producer can no longer change what is
      // verified and read.
      out.copy_ = detail::aligned_copy(payload);
      if (out.copy_ == nullptr) {
        out.status_ = Status::too_large; // no memory for the copy; the record stays unread
        return out;
      }
      payload = {out.copy_.get(), payload.size()};
    }
    const Root *root =
        payload.size() >= prefix ? verify_message<Root>(payload.subspan(prefix), options) : nullptr;
    if (root == nullptr) {
      reader.reject(std::move(slot));
      out.copy_.reset();
      out.status_ = Status::invalid_message;
      return out;
    }
    if (options.copy)
      reader.release(std::move(slot)); // the ring's space is free again at once
    else
      out.reader_ = &reader;
    out.slot_ = std::move(slot);
    out.bytes_ = payload;
    out.root_ = root;
    out.prefix_ = prefix;
    return out;
  }

private:
  RingReader *reader_ = nullptr;
  ReadSlot slot_;
  std::span<const std::byte> bytes_; // the payload: in the ring or in copy_
  detail::AlignedBytes copy_;        // VerifyOptions::copy, or adopt()
  const Root *root_ = nullptr;
  std::size_t prefix_ = 0;
  Status status_ = Status::closed;
  std::uint64_t seq_ = 0;
  std::uint16_t type_ = 0;
};

/// Waits for the next record (as RingReader::peek) and verifies it as a `Root`.
template <Message Root>
[[nodiscard]] Received<Root> receive(RingReader &reader, WaitLimit limit,
                                     const WaitPolicy &policy = {},
                                     const VerifyOptions &options = {}) noexcept {
  return Received<Root>::accept(reader, reader.peek(limit, policy), options);
}

/// The next record if there is one now (as RingReader::try_peek), verified as a `Root`.
template <Message Root>
[[nodiscard]] Received<Root> try_receive(RingReader &reader,
                                         const VerifyOptions &options = {}) noexcept {
  return Received<Root>::accept(reader, reader.try_peek(), options);
}

namespace detail {

/// The memory of one FlatBufferBuilder while it builds one message: a block of its own (kept
/// across messages) or a ring reservation to start with; a ring reservation while the message
/// fits in one the ring can give at once; the heap after that. See the design note at the top
/// of the file.
class RingAllocator final : public flatbuffers::Allocator {
public:
  /// Size of the block: a message up to about kCopyHintMax bytes, with the builder's scratch
  /// (vtables, field offsets) at its front, plus room to spare.
  static constexpr std::size_t kBlock = 2 * kCopyHintMax;

  RingAllocator() = default;
  RingAllocator(const RingAllocator &) = delete;
  RingAllocator &operator=(const RingAllocator &) = delete;
  ~RingAllocator() override { std::free(heap_); }

  /// Starts a message in the block; the frame (`prefix` bytes) is written when it is copied in.
  void start_in_block(RingWriter &writer, std::size_t prefix) {
    if (block_ == nullptr) // aligned like the ring, as the builder's memory must be
      block_.reset(
          static_cast<std::byte *>(::operator new[](kBlock, std::align_val_t{kRecordAlign})));
    assert(!slot_ && heap_ == nullptr && "the previous message was not finished");
    writer_ = &writer;
    prefix_ = prefix;
    where_ = Where::block;
    regrown_ = false;
  }
  /// Starts a message in `first`, a reservation made before building; its first `prefix`
  /// bytes are kept for the frame, the rest is the builder's.
  void start_in_ring(RingWriter &writer, WriteSlot &&first, std::size_t prefix) noexcept {
    writer_ = &writer;
    slot_ = std::move(first);
    prefix_ = prefix;
    where_ = Where::ring;
    regrown_ = false;
  }
  /// Drops what is left of the message's reservation (an uncommitted one publishes nothing).
  void finish() noexcept { slot_ = WriteSlot(); }

  std::uint8_t *allocate(std::size_t size) override {
    // The builder's first allocation. A reservation is trimmed so that the builder's end is
    // the reservation's end (the finished buffer must end there).
    if (where_ == Where::ring && slot_ && prefix_ + size <= slot_.bytes().size()) {
      slot_.shrink(prefix_ + size);
      return ring_memory();
    }
    if (where_ == Where::block && size <= kBlock)
      return reinterpret_cast<std::uint8_t *>(block_.get());
    return move_to(nullptr, 0, size, 0, 0);
  }

  void deallocate(std::uint8_t *p, std::size_t) override {
    if (p != nullptr && p == heap_) {
      std::free(heap_);
      heap_ = nullptr;
    } // Neither the block nor ring memory is freed: an uncommitted reservation publishes nothing.
  }

  std::uint8_t *reallocate_downward(std::uint8_t *old_p, std::size_t old_size, std::size_t new_size,
                                    std::size_t in_use_back, std::size_t in_use_front) override {
    return move_to(old_p, old_size, new_size, in_use_back, in_use_front);
  }

  [[nodiscard]] bool in_block() const noexcept { return where_ == Where::block; }
  [[nodiscard]] bool in_ring() const noexcept { return where_ == Where::ring && slot_; }
  [[nodiscard]] bool on_heap() const noexcept { return where_ == Where::heap; }
  [[nodiscard]] bool regrown() const noexcept { return regrown_; }
  /// The reservation, for commit_tail(); only while in_ring().
  [[nodiscard]] WriteSlot take_slot() noexcept { return std::move(slot_); }
  /// Where the builder's memory ends (the reservation's end while in_ring()).
  [[nodiscard]] const std::byte *ring_end() const noexcept {
    return slot_.bytes().data() + slot_.bytes().size();
  }

private:
  enum class Where : std::uint8_t { block, ring, heap };

  std::uint8_t *ring_memory() const noexcept {
    return reinterpret_cast<std::uint8_t *>(slot_.bytes().data() + prefix_);
  }

  /// Moves the builder to `new_size` bytes: a (larger) ring reservation if the ring has room
  /// now, the heap otherwise. The builder's used back and scratch front are carried over.
  std::uint8_t *move_to(std::uint8_t *old_p, std::size_t old_size, std::size_t new_size,
                        std::size_t in_use_back, std::size_t in_use_front) {
    std::uint8_t *new_p = nullptr;
    if (where_ != Where::heap && prefix_ + new_size <= writer_->max_payload()) {
      // Never waits: the builder cannot be told "later", and the heap is the better answer to
      // a full ring than stalling the build. A reservation at the same start (or at offset 0
      // after the wrap) may overlap the old one, hence memmove, front first (see below).
      WriteSlot larger = writer_->try_reserve(prefix_ + new_size);
      if (larger) {
        slot_ = std::move(larger);
        where_ = Where::ring;
        new_p = ring_memory();
        regrown_ = true;
      }
    }
    if (new_p == nullptr) {
      new_p = static_cast<std::uint8_t *>(std::malloc(new_size));
      if (new_p == nullptr)
        throw std::bad_alloc();
      slot_ = WriteSlot(); // a stale reservation publishes nothing
      where_ = Where::heap;
    }
    if (old_p != nullptr) {
      // Front first: the new front never overlaps the old back (front + back <= old_size and
      // both regions lie in one ring pass), while the new back may overlap the old front.
      std::memmove(new_p, old_p, in_use_front);
      std::memmove(new_p + new_size - in_use_back, old_p + old_size - in_use_back, in_use_back);
    }
    if (old_p != nullptr && old_p == heap_)
      std::free(heap_);
    heap_ = where_ == Where::heap ? new_p : nullptr;
    return new_p;
  }

  RingWriter *writer_ = nullptr;
  WriteSlot slot_;
  std::size_t prefix_ = 0;
  AlignedBytes block_;
  std::uint8_t *heap_ = nullptr;
  Where where_ = Where::block;
  bool regrown_ = false;
};

[[nodiscard]] constexpr std::size_t round_up_16(std::size_t n) noexcept {
  return (n + kRecordAlign - 1) & ~std::size_t{kRecordAlign - 1};
}

/// One record of `prefix` then `buffer`, copied in and committed.
inline Status copy_in(RingWriter &writer, std::span<const std::byte> buffer, WaitLimit limit,
                      const WaitPolicy &policy, std::uint16_t type,
                      std::span<const std::byte> prefix) noexcept {
  WriteSlot slot = writer.reserve(prefix.size() + buffer.size(), limit, policy);
  if (!slot)
    return slot.status();
  if (!prefix.empty())
    std::memcpy(slot.bytes().data(), prefix.data(), prefix.size());
  if (!buffer.empty())
    std::memcpy(slot.bytes().data() + prefix.size(), buffer.data(), buffer.size());
  writer.commit(std::move(slot), type);
  return Status::ok;
}

/// Runs `build` in `builder` (whose memory is `memory`, started), finishes the message and
/// publishes it: where it lies if that is a ring reservation, else copied in once, after
/// `room(bytes)` said ok.
template <Message Root, class Build, class Room>
[[nodiscard]] Status build_and_commit(RingWriter &writer, flatbuffers::FlatBufferBuilder &builder,
                                      RingAllocator &memory, Build &build, WaitLimit limit,
                                      const WaitPolicy &policy, const SendOptions &options,
                                      std::span<const std::byte> prefix, Room &room) {
  // A 16-aligned, 16-long buffer, so that the unused front is whole 16-byte units.
  builder.TrackMinAlign(kRecordAlign);
  const flatbuffers::Offset<Root> root = build(builder);
  builder.Finish(root, MessageTraits<Root>::identifier);
  const std::size_t size = builder.GetSize();
  const auto *buffer = reinterpret_cast<const std::byte *>(builder.GetBufferPointer());
  if (options.keep != nullptr)
    options.keep->assign(buffer, buffer + size);
  if (memory.in_ring()) {
    assert(buffer + size == memory.ring_end());
    if (!prefix.empty())
      std::memcpy(const_cast<std::byte *>(buffer) - prefix.size(), prefix.data(), prefix.size());
    writer.count_build(memory.regrown(), false);
    writer.commit_tail(memory.take_slot(), prefix.size() + size, options.type);
    return Status::ok;
  }
  // In the block (by design) or on the heap (the ring had no room to grow): one copy.
  if (const Status made = room(prefix.size() + size); made != Status::ok)
    return made;
  const Status copied =
      detail::copy_in(writer, {buffer, size}, limit, policy, options.type, prefix);
  if (copied == Status::ok && memory.on_heap())
    writer.count_build(memory.regrown(), true);
  return copied;
}

/// The builder and its memory that a thread reuses for the messages it copies in
/// (kCopyHintMax): the block stays allocated and cache-hot, and a builder that stayed in it
/// is only cleared, not rebuilt. A Lease holds them for one message; a send() from inside a
/// build callback finds them leased and builds in place instead.
class ReusedBuilder {
public:
  class Lease {
  public:
    /// Starts a message in the block, to go to `writer` behind `prefix` bytes of frame.
    Lease(RingWriter &writer, std::size_t prefix) : reused_(instance()) {
      if (reused_->leased_) {
        reused_ = nullptr;
        return;
      }
      reused_->memory_.start_in_block(writer, prefix);
      reused_->builder_.Clear();
      reused_->leased_ = true;
    }
    Lease(const Lease &) = delete;
    Lease &operator=(const Lease &) = delete;
    ~Lease() {
      if (reused_ == nullptr)
        return;
      // A message that left the block gives its ring reservation up (committed or not) and
      // frees its heap memory; the next one starts in the block again.
      if (!reused_->memory_.in_block()) {
        reused_->builder_.Reset();
        reused_->memory_.finish();
      }
      reused_->leased_ = false;
    }
    explicit operator bool() const noexcept { return reused_ != nullptr; }
    [[nodiscard]] flatbuffers::FlatBufferBuilder &builder() const noexcept {
      return reused_->builder_;
    }
    [[nodiscard]] RingAllocator &memory() const noexcept { return reused_->memory_; }

  private:
    ReusedBuilder *reused_;
  };

private:
  static ReusedBuilder *instance() {
    thread_local ReusedBuilder reused;
    return &reused;
  }
  ReusedBuilder() = default;

  RingAllocator memory_; // declared first: the builder gives its memory back when destroyed
  flatbuffers::FlatBufferBuilder builder_{RingAllocator::kBlock, &memory_, false, kRecordAlign};
  bool leased_ = false;
};

/// Builds `Root` in this thread's reused builder, starting in its block, and copies it in once
/// (a message that outgrows the block moves to the ring, as one built in place would).
template <Message Root, class Build, class Room>
[[nodiscard]] Status build_then_copy(RingWriter &writer, ReusedBuilder::Lease &lease, Build &build,
                                     WaitLimit limit, const WaitPolicy &policy,
                                     const SendOptions &options, std::span<const std::byte> prefix,
                                     Room &room) {
  return build_and_commit<Root>(writer, lease.builder(), lease.memory(), build, limit, policy,
                                options, prefix, room);
}

/// Builds `Root` in place in a reservation of prefix + `hint` bytes (a multiple of 16) and
/// commits it; it may regrow in the ring or finish on the heap and be copied.
template <Message Root, class Build, class Room>
[[nodiscard]] Status build_in_place(RingWriter &writer, std::size_t hint, Build &build,
                                    WaitLimit limit, const WaitPolicy &policy,
                                    const SendOptions &options, std::span<const std::byte> prefix,
                                    Room &room) {
  WriteSlot first = writer.reserve(prefix.size() + hint, limit, policy);
  if (!first)
    return first.status();
  RingAllocator memory;
  memory.start_in_ring(writer, std::move(first), prefix.size());
  flatbuffers::FlatBufferBuilder builder(hint, &memory, false, kRecordAlign);
  return build_and_commit<Root>(writer, builder, memory, build, limit, policy, options, prefix,
                                room);
}

/// send() (below), with `room(bytes)` called before a message built off the ring is copied
/// in: it may make room its own way (Core keeps responses meanwhile); ok or why not.
template <Message Root, class Build, class Room>
[[nodiscard]] Status send_built(RingWriter &writer, Build &&build, WaitLimit limit,
                                const WaitPolicy &policy, const SendOptions &options,
                                std::span<const std::byte> prefix, Room &&room) {
  assert(prefix.size() % kRecordAlign == 0 && "the prefix must be a multiple of 16 bytes");
  const std::size_t max = writer.max_payload();
  if (prefix.size() % kRecordAlign != 0 || prefix.size() + kRecordAlign > max)
    return Status::too_large;
  if (options.size_hint <= kCopyHintMax) {
    if (ReusedBuilder::Lease lease(writer, prefix.size()); lease)
      return build_then_copy<Root>(writer, lease, build, limit, policy, options, prefix, room);
  }
  const std::size_t hint = std::clamp<std::size_t>(detail::round_up_16(options.size_hint),
                                                   kRecordAlign, max - prefix.size());
  return build_in_place<Root>(writer, hint, build, limit, policy, options, prefix, room);
}

} // namespace detail

/// Builds a `Root` message and commits it: `build(builder)` creates the message with the
/// flatbuffers::FlatBufferBuilder it is given and returns its root offset; shmpipe finishes it
/// with the root's file identifier. Built in place in the ring, or, when options.size_hint is
/// at most kCopyHintMax, in the thread's reused builder and then copied in once (faster for
/// small messages; see the design note). `prefix` (a multiple of 16 bytes, or empty) is written
/// right before the buffer. Waits for the reservation (and for the copy, when one is needed) as
/// `policy` says, until `limit`. Returns ok, or the status of the reservation that failed
/// (timeout, peer_dead, closed, too_large, corrupt); nothing is published then. Throws only
/// what `build` throws (and std::bad_alloc from the heap); the ring is left as it was.
template <Message Root, class Build>
requires std::is_invocable_r_v<flatbuffers::Offset<Root>, Build &,
                               flatbuffers::FlatBufferBuilder &> [[nodiscard]] Status
send(RingWriter &writer, Build &&build, WaitLimit limit, const WaitPolicy &policy = {},
     const SendOptions &options = {}, std::span<const std::byte> prefix = {}) {
  return detail::send_built<Root>(writer, std::forward<Build>(build), limit, policy, options,
                                  prefix, [](std::size_t) { return Status::ok; });
}

/// Sends a finished FlatBuffer again, as it is (one copy into the ring): one kept with
/// SendOptions::keep, say. `buffer` must be a whole finished buffer whose size is a multiple of
/// 16 (send() makes them so); `prefix` as in send(). Returns ok or the reservation's status.
[[nodiscard]] inline Status send_buffer(RingWriter &writer, std::span<const std::byte> buffer,
                                        WaitLimit limit, const WaitPolicy &policy = {},
                                        std::uint16_t type = 0,
                                        std::span<const std::byte> prefix = {}) noexcept {
  if (buffer.size() % kRecordAlign != 0 || prefix.size() % kRecordAlign != 0)
    return Status::too_large; // not something send() produced: its alignment would break
  return detail::copy_in(writer, buffer, limit, policy, type, prefix);
}

} // namespace shmpipe
