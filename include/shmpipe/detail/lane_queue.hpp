// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// LaneQueue<T, N>: boost::lockfree::spsc_queue<T, capacity<N>> as it lies in a lane, with every
// slot Boost writes or reads checked against the slot our own index says.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <span>
#include <type_traits>

#include <boost/lockfree/spsc_queue.hpp>

#include <shmpipe/config.hpp>

namespace shmpipe::detail {

// Design: Boost's spsc_queue keeps its two indices in the queue object, so in shared memory the
// peer can write both, and Boost indexes its storage with whatever it loads. Checking the
// indices before calling Boost leaves a window: the peer can change one between our check and
// Boost's own load. So the check is repeated where Boost uses the index, on the address of the
// slot it is about to touch:
//   - push: the queue holds LaneCell<T>, whose only constructor (the one Boost's push runs, by
//     placement new, for each element) compares its own address with the slot the producer's
//     own index predicts, before it writes a byte;
//   - pop: consume_one() hands our functor the slot, which compares its address the same way
//     before it reads a byte.
// (LaneCell<T> has T's size, alignment and bytes, so the queue's bytes are exactly those of
// spsc_queue<T, capacity<N>>.)
// A mismatch throws SlotOutOfPlace out of Boost's push or consume_one, before Boost stores an
// index; it is caught here and never escapes. What remains is arithmetic Boost does on the bad
// index (pointer values it computes but never dereferences), and, for pop only, Boost's
// next_index() loop on an index so large that its slot address wraps around to ours (2^64 /
// sizeof(T) or more): with the capacity a compile-time constant an optimizing compiler folds
// that loop into a division (GCC -O2 does), but an unoptimized build could spin in it.
//
// Byte layout (Boost 1.74, BOOST_LOCKFREE_CACHELINE_BYTES 64): write index (std::size_t) at 0,
// 56 bytes of padding, read index at 64, then N + 1 slots of sizeof(T) from
// kSlotsOffset = 72 rounded up to alignof(T). Boost keeps one slot free: full is
// next(write) == read, empty is write == read. Indices are slot numbers in [0, N].

/// Thrown by the slot checks out of Boost's code; caught in LaneQueue, never further.
struct SlotOutOfPlace {};

/// One slot: a T and nothing else (same size, alignment and bytes), constructed only through
/// the checked constructor.
template <class T> struct LaneCell {
  /// An element to copy into a slot, and the address that slot must have.
  struct Source {
    const T *item;
    const std::byte *slot;
  };

  T value;

  explicit LaneCell(const Source &source) : value(checked(this, source)) {}

private:
  static const T &checked(const LaneCell *at, const Source &source) {
    if (source.item == nullptr || reinterpret_cast<const std::byte *>(at) != source.slot)
      throw SlotOutOfPlace{};
    return *source.item;
  }
};

/// Walks a span of elements for Boost's range push, pairing each element with the address of
/// the slot it must go to. Random access, so that Boost's std::distance and boost::next cost
/// nothing; dereferencing yields a LaneCell<T>::Source by value, with no element past the end
/// of the span (Boost walks past it when the peer swapped in an index that lands on our slot
/// modulo 2^64: then the slot matches and only the missing element stops it).
template <class T, std::size_t Slots> class SourceIterator {
public:
  using iterator_category = std::random_access_iterator_tag;
  using value_type = typename LaneCell<T>::Source;
  using difference_type = std::ptrdiff_t;
  using pointer = void;
  using reference = value_type;

  SourceIterator(std::span<const T> items, const std::byte *slots, std::size_t first_slot,
                 std::size_t pos) noexcept
      : items_(items), slots_(slots), first_slot_(first_slot), pos_(pos) {}

  reference operator*() const noexcept {
    if (pos_ >= items_.size())
      return {nullptr, nullptr};
    std::size_t slot = first_slot_ + pos_; // < 2 * Slots: both are
    if (slot >= Slots)
      slot -= Slots;
    return {items_.data() + pos_, slots_ + slot * sizeof(T)};
  }
  SourceIterator &operator++() noexcept {
    ++pos_;
    return *this;
  }
  SourceIterator operator++(int) noexcept {
    SourceIterator before = *this;
    ++pos_;
    return before;
  }
  SourceIterator &operator+=(difference_type n) noexcept {
    pos_ += static_cast<std::size_t>(n);
    return *this;
  }
  friend difference_type operator-(const SourceIterator &a, const SourceIterator &b) noexcept {
    return static_cast<difference_type>(a.pos_ - b.pos_);
  }
  friend bool operator==(const SourceIterator &a, const SourceIterator &b) noexcept {
    return a.pos_ == b.pos_;
  }

private:
  std::span<const T> items_;
  const std::byte *slots_;
  std::size_t first_slot_;
  std::size_t pos_;
};

/// What a checked push or pop did: how many elements it moved, and whether Boost was about to
/// touch a slot other than the expected one (then nothing more was moved).
struct Moved {
  std::size_t count = 0;
  bool out_of_place = false;
};

template <class T, std::size_t N>
class LaneQueue : public boost::lockfree::spsc_queue<LaneCell<T>, boost::lockfree::capacity<N>> {
  using Base = boost::lockfree::detail::ringbuffer_base<LaneCell<T>>;

public:
  /// Boost keeps N + 1 slots, one always free.
  static constexpr std::size_t kSlots = N + 1;
  /// Offset of slot 0 from the start of the queue.
  static constexpr std::size_t kSlotsOffset =
      (sizeof(Base) + alignof(T) - 1) / alignof(T) * alignof(T);
  using Index = decltype(LaneQueue::write_index_);

  static_assert(std::is_trivially_copyable_v<LaneCell<T>> &&
                std::is_standard_layout_v<LaneCell<T>>);
  static_assert(sizeof(LaneCell<T>) == sizeof(T) && alignof(LaneCell<T>) == alignof(T));
  static_assert(std::is_same_v<Index, std::atomic<std::size_t>>,
                "Boost.Lockfree must use std::atomic (is BOOST_LOCKFREE_FORCE_BOOST_ATOMIC set?)");
  static_assert(Index::is_always_lock_free,
                "the indices are shared between processes, so they must be lock-free");
  static_assert(sizeof(std::size_t) == 8 && BOOST_LOCKFREE_CACHELINE_BYTES == kCacheLine,
                "docs/LAYOUT.md assumes 64-bit indices 64 bytes apart");
  // Compile-time capacity: the slots are inline, the last member, and nothing else (no pointer,
  // no allocator) is in the object.
  static_assert(sizeof(Base) == kCacheLine + sizeof(std::size_t));
  static_assert(sizeof(boost::lockfree::spsc_queue<LaneCell<T>, boost::lockfree::capacity<N>>) ==
                (kSlotsOffset + kSlots * sizeof(T) + alignof(Base) - 1) / alignof(Base) *
                    alignof(Base));

  /// The indices, for the endpoints' own checks.
  [[nodiscard]] Index &write_index() noexcept { return this->write_index_; }
  [[nodiscard]] Index &read_index() noexcept { return this->read_index_; }

  [[nodiscard]] const std::byte *slot(std::size_t i) const noexcept {
    return reinterpret_cast<const std::byte *>(this) + kSlotsOffset + i * sizeof(T);
  }

  /// Boost's push of `items`, which must go to slots `write`, `write + 1`, ... (mod kSlots).
  /// Moves what fits by Boost's reckoning. Producer only.
  Moved push_at(std::span<const T> items, std::size_t write) noexcept {
    using Iterator = SourceIterator<T, kSlots>;
    const Iterator first(items, slot(0), write, 0);
    const Iterator last(items, slot(0), write, items.size());
    try {
      return {static_cast<std::size_t>(this->push(first, last) - first), false};
    } catch (const SlotOutOfPlace &) {
      return {0, true};
    }
  }

  /// Boost's consume_one, once per element of `out`, from slots `read`, `read + 1`, ... (mod
  /// kSlots), until `out` is full or Boost finds the queue empty. Consumer only.
  Moved pop_at(std::span<T> out, std::size_t read) noexcept {
    Moved moved;
    try {
      for (; moved.count < out.size(); ++moved.count) {
        const std::byte *expected = slot(read);
        T *to = &out[moved.count];
        const bool popped = this->consume_one([expected, to](const LaneCell<T> &cell) {
          if (reinterpret_cast<const std::byte *>(&cell) != expected)
            throw SlotOutOfPlace{};
          std::memcpy(static_cast<void *>(to), &cell.value, sizeof(T));
        });
        if (!popped)
          break;
        read = read + 1 == kSlots ? 0 : read + 1;
      }
    } catch (const SlotOutOfPlace &) {
      moved.out_of_place = true;
    }
    return moved;
  }
};

} // namespace shmpipe::detail
