// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The structs that live in shared memory. docs/LAYOUT.md is the prose version of this file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <shmpipe/config.hpp>
#include <shmpipe/detail/shared_atomic.hpp>

namespace shmpipe::detail {

// Design: everything here is plain (trivially copyable, standard layout, no pointers, no
// vtables); positions are byte offsets from the segment base. Every field has a fixed offset,
// asserted below, so that the layout is the same for every compiler and for programs written
// in other languages. Fields marked "atomic" are only accessed through SharedAtomic.
//
// Segment:  [SegmentHeader 128 B][ring 0][ring 1]...[lane 0][lane 1]...
// Ring:     [RingControl 384 B][data: capacity bytes]
// Record:   [RecordHeader 16 B][payload, padded to 16 B]
// Lane:     [LaneControl 320 B][Boost.Lockfree spsc_queue, padded to a cache line][unused]

/// "SHMPIPE1" read as a little-endian integer.
inline constexpr std::uint64_t kSegmentMagic = 0x3145504950'4D4853ULL;

struct SegmentHeader {
  SharedAtomic<std::uint64_t> magic; ///< atomic; stored last by the creator ([sync:magic])
  std::uint32_t layout_version;      ///< kLayoutVersion
  std::uint32_t cache_line;          ///< kCacheLine
  std::uint64_t segment_size;        ///< bytes of the whole object
  std::uint64_t header_size;         ///< offset of ring 0 (== sizeof(SegmentHeader))
  std::uint32_t ring_count;          ///< rings in this segment
  std::uint32_t record_align;        ///< kRecordAlign
  std::uint64_t ring_capacity;       ///< data bytes per ring, a power of two
  std::uint64_t ring_stride;         ///< sizeof(RingControl) + ring_capacity
  std::uint64_t schema_id;           ///< free for the application (0 = none)
  std::uint32_t creator_pid;         ///< pid of the creating process
  std::uint32_t boost_version;       ///< BOOST_VERSION of the creator (fixed-size lanes)
  std::uint64_t creator_start_time;  ///< creator's start time, clock ticks since boot
  std::uint32_t lane_count;          ///< fixed-size lanes after the rings (0 = none)
  std::uint32_t reserved0;           ///< zero
  std::uint64_t lane_offset;         ///< offset of lane 0: the end of the rings (0 without lanes)
  std::uint64_t lane_stride;         ///< bytes per lane, a multiple of kCacheLine (0 without lanes)
  std::uint8_t reserved[24];         ///< zero
};

static_assert(sizeof(SegmentHeader) == 2 * kCacheLine);
static_assert(offsetof(SegmentHeader, magic) == 0);
static_assert(offsetof(SegmentHeader, layout_version) == 8);
static_assert(offsetof(SegmentHeader, cache_line) == 12);
static_assert(offsetof(SegmentHeader, segment_size) == 16);
static_assert(offsetof(SegmentHeader, header_size) == 24);
static_assert(offsetof(SegmentHeader, ring_count) == 32);
static_assert(offsetof(SegmentHeader, record_align) == 36);
static_assert(offsetof(SegmentHeader, ring_capacity) == 40);
static_assert(offsetof(SegmentHeader, ring_stride) == 48);
static_assert(offsetof(SegmentHeader, schema_id) == 56);
static_assert(offsetof(SegmentHeader, creator_pid) == 64);
static_assert(offsetof(SegmentHeader, boost_version) == 68);
static_assert(offsetof(SegmentHeader, creator_start_time) == 72);
static_assert(offsetof(SegmentHeader, lane_count) == 80);
static_assert(offsetof(SegmentHeader, lane_offset) == 88);
static_assert(offsetof(SegmentHeader, lane_stride) == 96);

/// Written by one side on every publish (write index) or release (read index).
struct alignas(kCacheLine) IndexLine {
  SharedAtomic<std::uint64_t> index;    ///< atomic; bytes ever published / released
  SharedAtomic<std::uint64_t> next_seq; ///< atomic; sequence number of the next record
  std::uint8_t reserved[48];
};

/// Written rarely by one side: at attach and detach, and around sleeping.
struct alignas(kCacheLine) OwnerLine {
  SharedAtomic<std::uint64_t> owner; ///< atomic; pid << 32 | (start time & 0xffffffff), 0 = free
  SharedAtomic<std::uint32_t>
      sleeping;                       ///< atomic; 1 while this side is (about to be) in futex_wait
  SharedAtomic<std::uint32_t> wake;   ///< atomic; futex word the *other* side sleeps on
  SharedAtomic<std::uint32_t> closed; ///< atomic; 1 after this side detached cleanly
  /// atomic; while this side waits in an event loop: its arm generation (never 0), which the
  /// other side answers with one datagram to `wake_socket` (detail/ready_fd.hpp). 0: none.
  SharedAtomic<std::uint32_t> armed;
  /// atomic; the other side's `armed` generation this side last sent a wake datagram for.
  SharedAtomic<std::uint32_t> notified;
  /// atomic; 1 when this side's holder issues a process-wide barrier before it sleeps or
  /// arms (detail/barrier.hpp), so the other side may publish with a release store; 0: the
  /// other side publishes with a seq_cst store. Stored by each holder when it claims the role.
  SharedAtomic<std::uint32_t> barrier_sleeper;
  SharedAtomic<std::uint64_t> wake_socket; ///< atomic; token naming this side's wake socket
  std::uint8_t reserved[24];
};

/// Statistics, written only by one side, with relaxed single-writer adds. Readable by anyone.
struct alignas(kCacheLine) StatsLine {
  SharedAtomic<std::uint64_t> records; ///< records published (producer) / released (consumer)
  SharedAtomic<std::uint64_t> bytes;   ///< payload bytes in those records
  SharedAtomic<std::uint64_t> stalls;  ///< try calls that found the ring full / empty
  SharedAtomic<std::uint64_t> wakeups; ///< futex wakes and wake datagrams sent to the other side
  SharedAtomic<std::uint64_t> sleeps;  ///< futex waits entered by this side
  SharedAtomic<std::uint64_t> wraps;   ///< padding records written (producer) / skipped
  /// Producer: messages that outgrew their reservation while being built in place and moved to
  /// a larger one. Consumer: messages that failed verification (released, reported, skipped).
  SharedAtomic<std::uint64_t> regrown_or_rejected;
  /// Producer: messages built outside the ring (no room for a larger reservation) and copied
  /// in once. Consumer: zero.
  SharedAtomic<std::uint64_t> copied;
};

/// One ring's control block. Each line has exactly one writing side (see docs/LAYOUT.md), so
/// the two processes never write the same cache line on the hot path.
struct RingControl {
  IndexLine producer_index; ///< producer writes: write index, next sequence number
  IndexLine consumer_index; ///< consumer writes: read index, next expected sequence number
  OwnerLine producer_owner; ///< producer writes: owner, sleeping, wake word for the consumer
  OwnerLine consumer_owner; ///< consumer writes: owner, sleeping, wake word for the producer
  StatsLine producer_stats; ///< producer writes
  StatsLine consumer_stats; ///< consumer writes
};

static_assert(sizeof(IndexLine) == kCacheLine && sizeof(OwnerLine) == kCacheLine &&
              sizeof(StatsLine) == kCacheLine);
static_assert(offsetof(IndexLine, next_seq) == 8);
static_assert(offsetof(OwnerLine, sleeping) == 8);
static_assert(offsetof(OwnerLine, wake) == 12);
static_assert(offsetof(OwnerLine, closed) == 16);
static_assert(offsetof(OwnerLine, armed) == 20);
static_assert(offsetof(OwnerLine, notified) == 24);
static_assert(offsetof(OwnerLine, barrier_sleeper) == 28);
static_assert(offsetof(OwnerLine, wake_socket) == 32);
static_assert(offsetof(StatsLine, wraps) == 40);
static_assert(offsetof(StatsLine, regrown_or_rejected) == 48);
static_assert(offsetof(StatsLine, copied) == 56);
static_assert(sizeof(RingControl) == 6 * kCacheLine);
static_assert(offsetof(RingControl, producer_index) == 0);
static_assert(offsetof(RingControl, consumer_index) == 64);
static_assert(offsetof(RingControl, producer_owner) == 128);
static_assert(offsetof(RingControl, consumer_owner) == 192);
static_assert(offsetof(RingControl, producer_stats) == 256);
static_assert(offsetof(RingControl, consumer_stats) == 320);

/// "SHMLANE1" read as a little-endian integer: LaneDescriptor::state of a formatted lane. No
/// owner token can take this value: its pid half would be 0x31454e41, above any pid_max.
inline constexpr std::uint64_t kLaneMagic = 0x31454E414C'4D4853ULL;

/// First line of a lane: what its queue holds. Written once, by the first endpoint to attach
/// ("formats" the lane), before it stores `state`; checked by every later one.
struct alignas(kCacheLine) LaneDescriptor {
  /// atomic; 0: never formatted; kLaneMagic: formatted; anything else: the owner token of the
  /// process formatting it right now ([sync:lane_format]).
  SharedAtomic<std::uint64_t> state;
  std::uint32_t element_size;  ///< sizeof(T)
  std::uint32_t element_align; ///< alignof(T)
  std::uint64_t capacity;      ///< N: elements the queue holds (Boost keeps N + 1 slots)
  std::uint64_t queue_size;    ///< bytes of the spsc_queue object, from the lane's offset 320
  std::uint32_t slots_offset;  ///< offset of slot 0 from the start of the lane
  std::uint32_t boost_version; ///< BOOST_VERSION of the process that formatted the lane
  std::uint8_t reserved[24];
};

/// A lane's control block; the spsc_queue follows it. As in RingControl, each line after the
/// descriptor has one writing side.
struct LaneControl {
  LaneDescriptor descriptor; ///< written once, by whichever side formats the lane
  OwnerLine producer_owner;  ///< producer writes: owner, sleeping, wake word for the consumer
  OwnerLine consumer_owner;  ///< consumer writes: owner, sleeping, wake word for the producer
  StatsLine producer_stats;  ///< producer writes
  StatsLine consumer_stats;  ///< consumer writes
};

static_assert(sizeof(LaneDescriptor) == kCacheLine);
static_assert(offsetof(LaneDescriptor, element_size) == 8);
static_assert(offsetof(LaneDescriptor, element_align) == 12);
static_assert(offsetof(LaneDescriptor, capacity) == 16);
static_assert(offsetof(LaneDescriptor, queue_size) == 24);
static_assert(offsetof(LaneDescriptor, slots_offset) == 32);
static_assert(offsetof(LaneDescriptor, boost_version) == 36);
static_assert(sizeof(LaneControl) == 5 * kCacheLine);
static_assert(offsetof(LaneControl, producer_owner) == 64);
static_assert(offsetof(LaneControl, consumer_owner) == 128);
static_assert(offsetof(LaneControl, producer_stats) == 192);
static_assert(offsetof(LaneControl, consumer_stats) == 256);

/// Flag bits of RecordHeader::flags. All other bits are reserved and must be zero.
/// Filler the consumer skips: the rest of the data region before a wrap, or the unused front of
/// a reservation whose message was built back to front (RingWriter::commit_tail()).
inline constexpr std::uint16_t kRecordPadding = 1;
/// First record of a producer that attached to the ring: the consumer accepts its sequence
/// number whatever it is and continues from there (see docs/LAYOUT.md, sequence numbers).
inline constexpr std::uint16_t kRecordRestart = 2;

struct RecordHeader {
  std::uint32_t length; ///< payload bytes (excluding this header and the tail padding)
  std::uint16_t type;   ///< application message type
  std::uint16_t flags;  ///< kRecordPadding, kRecordRestart or 0
  std::uint64_t seq;    ///< 0, 1, 2, ... per ring; 0 in padding records
};

static_assert(sizeof(RecordHeader) == kRecordAlign);
static_assert(offsetof(RecordHeader, type) == 4);
static_assert(offsetof(RecordHeader, flags) == 6);
static_assert(offsetof(RecordHeader, seq) == 8);

template <class T>
constexpr bool kPlainShared = std::is_trivially_copyable_v<T> &&std::is_standard_layout_v<T>;
static_assert(kPlainShared<SegmentHeader> && kPlainShared<RingControl> &&
              kPlainShared<RecordHeader> && kPlainShared<LaneControl>);

/// Bytes a record with `payload` bytes occupies in the ring. 64-bit so it cannot overflow for
/// any 32-bit length a peer may write.
[[nodiscard]] constexpr std::uint64_t record_size(std::uint64_t payload) noexcept {
  return sizeof(RecordHeader) + ((payload + kRecordAlign - 1) & ~std::uint64_t{kRecordAlign - 1});
}

} // namespace shmpipe::detail
