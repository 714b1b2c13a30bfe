// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Attaching to a fixed-size lane: formatting it on first use, checking what it holds, claiming a
// role. The parts of FixedWriter/FixedReader setup that do not depend on the element type.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>

#include <boost/version.hpp>

#include <shmpipe/detail/layout.hpp>
#include <shmpipe/detail/process.hpp>
#include <shmpipe/detail/role.hpp>
#include <shmpipe/detail/shared_atomic.hpp>
#include <shmpipe/error.hpp>
#include <shmpipe/segment.hpp>
#include <shmpipe/wait.hpp>

namespace shmpipe::detail {

// Design: Segment::create leaves every lane zeroed, and it does not know the element types, so
// the first endpoint to attach formats the lane: it claims the descriptor's state word with a
// compare-exchange from 0 to its owner token, writes the descriptor and constructs the queue
// (both indices 0), then stores kLaneMagic with release. Every later endpoint acquires the magic
// and compares the descriptor with its own FixedRing<T, N>; a different element size,
// alignment, capacity or Boost version is refused. A formatter that dies half-way leaves its
// token behind, and the next endpoint that finds it dead formats the lane again; one that is
// alive is waited for, briefly (formatting is a few stores).

/// What a FixedRing<T, N> expects to find in its lane (everything the descriptor records).
struct LaneShape {
  std::uint32_t element_size;
  std::uint32_t element_align;
  std::uint64_t capacity;
  std::uint64_t queue_size;
  std::uint32_t slots_offset;
  std::uint64_t lane_bytes; ///< FixedRing<T, N>::lane_bytes: the least a lane must have
};

/// "1.74.0 (BOOST_VERSION 107400)".
[[nodiscard]] inline std::string boost_version_string(std::uint32_t v) {
  return std::to_string(v / 100000) + "." + std::to_string(v / 100 % 1000) + "." +
         std::to_string(v % 100) + " (BOOST_VERSION " + std::to_string(v) + ")";
}

[[nodiscard]] inline std::string describe_lane(std::uint64_t capacity, std::uint32_t size,
                                               std::uint32_t align, std::uint64_t queue_size,
                                               std::uint32_t slots_offset) {
  return std::to_string(capacity) + " elements of " + std::to_string(size) + " bytes (alignment " +
         std::to_string(align) + ", queue " + std::to_string(queue_size) + " bytes, slots at " +
         std::to_string(slots_offset) + ")";
}

/// How long an endpoint waits for a live process that is formatting the lane right now.
inline constexpr std::chrono::seconds kLaneFormatWait{1};

/// Formats lane `lane` of `segment` if nobody has, then checks that it holds `shape`. Returns its
/// control block; the queue follows it. `construct(void *)` constructs the empty queue at the
/// given address. Throws Error: invalid_argument (no such lane), layout_mismatch (different
/// Boost version, lane too small, different element type or capacity), not_ready (a live
/// process has been formatting it for longer than kLaneFormatWait).
inline LaneControl &attach_lane(Segment &segment, std::uint32_t lane, const LaneShape &shape,
                                void (*construct)(void *)) {
  const LaneMemory mem = segment.lane(lane);
  const std::string where = "lane " + std::to_string(lane);
  // The queue's bytes are laid out by Boost.Lockfree, not by shmpipe: only the same Boost
  // version on both sides is known to agree on them.
  if (segment.boost_version() != BOOST_VERSION)
    throw Error(Errc::layout_mismatch, segment.name(),
                where + ": the segment was created with Boost " +
                    boost_version_string(segment.boost_version()) + ", this process uses Boost " +
                    boost_version_string(BOOST_VERSION) +
                    "; a lane's queue layout is Boost's, so both sides need the same version");
  if (mem.bytes < shape.lane_bytes)
    throw Error(Errc::layout_mismatch, segment.name(),
                where + " has " + std::to_string(mem.bytes) + " bytes, a FixedRing of " +
                    std::to_string(shape.capacity) + " elements of " +
                    std::to_string(shape.element_size) + " bytes needs " +
                    std::to_string(shape.lane_bytes) +
                    " (create the segment with lane_bytes = FixedRing<T, N>::lane_bytes)");

  LaneDescriptor &d = mem.control->descriptor;
  const std::uint64_t token = self_owner_token();
  const Deadline give_up = Clock::now() + kLaneFormatWait;
  for (;;) {
    // [sync:lane_format] acquire: a formatted lane's descriptor and empty queue, written before
    // the magic, are visible. Pairs with the release store below (in whichever process
    // formatted it).
    std::uint64_t state = d.state.load(std::memory_order_acquire);
    if (state == kLaneMagic)
      break;
    if (state == 0 || !owner_alive(state)) {
      // acquire: the descriptor writes below stay after the claim (another process reads them
      // only after the magic's release). acq_rel costs no more on a compare-exchange.
      if (!d.state.compare_exchange_strong(state, token, std::memory_order_acq_rel))
        continue; // someone else claimed or finished it: judge the new state
      d.element_size = shape.element_size;
      d.element_align = shape.element_align;
      d.capacity = shape.capacity;
      d.queue_size = shape.queue_size;
      d.slots_offset = shape.slots_offset;
      d.boost_version = BOOST_VERSION;
      construct(mem.base + sizeof(LaneControl));
      // [sync:lane_format] release: the descriptor and the queue's zero indices above are
      // visible to every endpoint that acquires the magic.
      d.state.store(kLaneMagic, std::memory_order_release);
      break;
    }
    if (Clock::now() >= give_up)
      throw Error(Errc::not_ready, segment.name(),
                  where + " is being formatted by pid " + std::to_string(owner_pid(state)) +
                      ", which has not finished");
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }

  // Check a private copy: the peer may rewrite the descriptor at any time.
  LaneDescriptor copy;
  copy_from_shared(&copy, &d, sizeof copy / 8);
  if (copy.element_size != shape.element_size || copy.element_align != shape.element_align ||
      copy.capacity != shape.capacity || copy.queue_size != shape.queue_size ||
      copy.slots_offset != shape.slots_offset)
    throw Error(Errc::layout_mismatch, segment.name(),
                where + " holds " +
                    describe_lane(copy.capacity, copy.element_size, copy.element_align,
                                  copy.queue_size, copy.slots_offset) +
                    ", this endpoint expects " +
                    describe_lane(shape.capacity, shape.element_size, shape.element_align,
                                  shape.queue_size, shape.slots_offset));
  if (copy.boost_version != BOOST_VERSION)
    throw Error(Errc::layout_mismatch, segment.name(),
                where + " was formatted with Boost " + boost_version_string(copy.boost_version) +
                    ", this process uses Boost " + boost_version_string(BOOST_VERSION));
  return *mem.control;
}

/// claim_role() for a lane: the same rules (one live holder per role across processes, dead
/// holders taken over), and an error that names the lane rather than a ring.
inline std::uint64_t claim_lane_role(OwnerLine &line, const char *role, const std::string &segment,
                                     std::uint32_t lane) {
  try {
    return claim_role(line, role, segment, lane);
  } catch (const Error &e) {
    // claim_role() words its detail "ring <n>...": keep the rest of it (the holder's pid).
    const std::string what = e.what();
    const std::string ring = "ring " + std::to_string(lane);
    const std::string tail = ": " + e.code().message();
    const std::size_t at = what.find(ring);
    std::string rest = at == std::string::npos ? ": " + what : what.substr(at + ring.size());
    if (rest.size() >= tail.size() &&
        rest.compare(rest.size() - tail.size(), tail.size(), tail) == 0)
      rest.resize(rest.size() - tail.size());
    throw Error(static_cast<Errc>(e.code().value()), segment,
                "lane " + std::to_string(lane) + rest);
  }
}

} // namespace shmpipe::detail
